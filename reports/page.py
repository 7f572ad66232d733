"""Render the report page: one self-contained HTML file via jinja2 with autoescaping on.

Every string that comes from a results file reaches the page only through jinja2's escaping.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import jinja2
import pandas as pd

from reports import envelope, health, sections, specs
from reports import multidevice as md
from reports import serving as sv
from reports import speedup as sp
from reports import training as tr
from reports.fmt import cell, fmt_bytes, fmt_ratio, fmt_share
from reports.labels import device_labels, several_backends
from reports.limits import throttle_cell
from reports.load import ResultsFileError, Run
from reports.sections import Section
from reports.summary import NOISY_IQR_REL, backend_table, throughput_table

if TYPE_CHECKING:
    from reports.plots import Plot


@dataclass(frozen=True)
class Table:
    """A table ready for the template: a title, column names and rows of strings."""

    title: str
    columns: list[str]
    rows: list[list[str]]
    note: str = ""
    numeric: list[bool] = field(default_factory=list)


def table_from(frame: pd.DataFrame, title: str, note: str = "",
               formatters: Mapping[str, Callable[[Any], str]] | None = None) -> Table:  # fmt: skip
    """Turn a frame (its index reset into columns) into a Table of strings."""
    formatters = formatters or {}
    flat = frame.reset_index() if frame.index.name or any(frame.index.names) else frame
    columns = [str(c) for c in flat.columns]
    rows = [
        [formatters[c](v) if c in formatters else cell(v, c) for c, v in zip(columns, values, strict=True)]
        for values in flat.itertuples(index=False, name=None)
    ]
    numeric = [pd.api.types.is_numeric_dtype(flat[c]) for c in flat.columns]
    return Table(title=title, columns=columns, rows=rows, note=note, numeric=numeric)


#: workloads whose own tables carry their throughput (checkpoint MB/s with file sizes, dispatch µs per op; and
#: reports.multidevice's scaling and all-reduce tables)
OWN_TABLES = frozenset({"checkpoint", "dispatch", *md.OWN_TABLES})


def throughput_tables(frame: pd.DataFrame) -> list[Table]:
    """One throughput table per workload that ran and has no table of its own, devices side by side."""
    tables = []
    for workload, title in specs.titles().items():
        if workload in OWN_TABLES or sections.has_generic(workload):
            continue
        table = throughput_table(frame, workload)
        if table.empty:
            continue
        unit = frame.loc[frame["workload"] == workload, "throughput_unit"].dropna()
        unit_text = f" ({unit.iloc[0]})" if not unit.empty else ""
        tables.append(table_from(table, f"{title}: throughput{unit_text}, median of the rounds"))
    return tables


def speedup_table(frame: pd.DataFrame) -> list[Table]:
    """The GPU/CPU matmul speedup per size, when a run has both."""
    speed = sp.speedups(frame, "matmul")
    if speed.empty:
        return []
    backend = ["backend"] if several_backends(frame) else []
    view = speed[["host", *backend, "gpu", "cpu", "n", "gpu_throughput", "cpu_throughput", "speedup"]].rename(
        columns={"gpu_throughput": "GPU GFLOP/s", "cpu_throughput": "CPU GFLOP/s"}
    )
    return [table_from(view, "GPU/CPU speedup, float32 matmul", formatters={"speedup": fmt_ratio})]


def mnist_table(frame: pd.DataFrame) -> list[Table]:
    """MNIST per device and mode: samples/s, the first call's one-time cost, epoch time, losses and accuracy."""
    rows = frame[frame["workload"] == "mnist"] if not frame.empty else frame
    if rows.empty:
        return []
    wanted = ["mode", "batch_size", "throughput", "one_time_cost_s", "mnist_epoch_s_estimate", "initial_loss",
              "final_loss", "final_accuracy", "data_source"]  # fmt: skip
    view = rows.assign(device=device_labels(frame).loc[rows.index])[
        ["device", *[c for c in wanted if c in rows.columns]]
    ]
    view = view.rename(
        columns={
            "throughput": "samples/s",
            "one_time_cost_s": "first call's extra cost (s)",
            "mnist_epoch_s_estimate": "s per 60000-sample epoch",
        }
    )
    return [table_from(view, "MNIST training per device and mode")]


def tfdata_verdict_table(frame: pd.DataFrame) -> list[Table]:
    """The input-bound verdict per device."""
    if frame.empty or "input_bound" not in frame.columns:
        return []
    rows = frame[(frame["workload"] == "tfdata") & frame["input_bound"].notna()]
    if rows.empty:
        return []
    view = pd.DataFrame(
        {
            "device": device_labels(frame).loc[rows.index],
            "input-bound": rows["input_bound"].astype(object),
            "step fed by tf.data (ms)": rows["pipeline_step_s"].astype(float) * 1e3,
            "step on pre-made batches (ms)": rows["premade_step_s"].astype(float) * 1e3,
        }
    )
    return [table_from(view, "tf.data: is training input-bound?")]


def multidevice_tables(frame: pd.DataFrame) -> list[Table]:
    """The scaling and all-reduce tables, where those workloads ran (see reports.multidevice)."""

    tables = []
    scaling = md.scaling_table(frame)
    if not scaling.empty:
        note = (
            "Strong scaling: the global batch is fixed and split across the replicas. efficiency = samples/s on N "
            "replicas / (N x samples/s on 1). CPU logical devices and CPU processes share one CPU's cores."
        )
        title = "Scaling: data-parallel training, fixed global batch"
        tables.append(
            table_from(scaling, title, note=note, formatters={"speedup": ratio_cell, "efficiency": fmt_share})
        )
    allreduce = md.allreduce_table(frame)
    if not allreduce.empty:
        note = (
            "nccl-tests' definitions: algbw = bytes / time of one all-reduce; busbw = algbw x 2(n-1)/n, comparable "
            "with a link's bandwidth. correct: every replica's sum checked elementwise."
        )
        title = "All-reduce (float32 sum) per backend and device set"
        tables.append(table_from(allreduce, title, note=note, formatters={"bytes": lambda v: fmt_bytes(float(v))}))
    return tables


def serving_tables(frame: pd.DataFrame) -> list[Table]:
    """Inference latency percentiles, checkpoint MB/s with file sizes, and eager dispatch µs per op."""
    tables = []
    latency = sv.latency_table(frame)
    if not latency.empty:
        note = (
            "Each request is one batch-1 call of the model ended by a device sync; percentiles of the timed "
            "requests (the first calls, which trace or compile, are warm-up: their extra cost is the last column)."
        )
        tables.append(table_from(latency, "Inference latency, batch 1 (percentiles, not a mean)", note=note))
    checkpoint = sv.checkpoint_table(frame)
    if not checkpoint.empty:
        note = (
            "MB/s (weights): the model's weight bytes per second of a save (ended by fsync) or a restore (read "
            "after dropping the files from the page cache); MB/s (file): the file's bytes. Keras' load_model "
            "also rebuilds the model."
        )
        tables.append(table_from(checkpoint, "Checkpoint save and restore", note=note))
    dispatch = sv.dispatch_table(frame)
    if not dispatch.empty:
        note = (
            "The book's polynomial fit (50 points, one Adam step at a time). eager/this: eager's µs per op over "
            "this mode's, on the same device and backend."
        )
        tables.append(
            table_from(dispatch, "Eager dispatch overhead", note=note, formatters={"eager/this (per op)": ratio_cell})
        )
    return tables


def training_tables(frame: pd.DataFrame, skipped: pd.DataFrame) -> list[Table]:
    """Mixed-precision speedups, ResNet-50 images/s and the batch-size sweeps, where those workloads ran."""
    tables = []
    amp = tr.amp_view(frame)
    if not amp.empty:
        note = "speedup: the mixed-precision case's throughput over its float32 twin's (same device, case and run)."
        tables.append(table_from(amp, "Mixed precision: speedup over float32", note, {"speedup": ratio_cell}))
    resnet = tr.resnet_view(frame)
    if not resnet.empty:
        note = "Synthetic ImageNet-shaped data made on the device; the loss is the training loss on the case's batch."
        tables.append(table_from(resnet, "ResNet-50 training: images/s", note))
    sweep = tr.sweep_view(frame, skipped)
    if not sweep.empty:
        note = (
            f"A sweep saturates at the smallest batch reaching {tr.SATURATION:.0%} of its best throughput; "
            "out of memory: the smallest batch that did not fit (a recorded skip)."
        )
        tables.append(table_from(sweep, "Throughput vs batch size: where it saturates", note))
    return tables


def section_tables(section: Section, frame: pd.DataFrame, skipped: pd.DataFrame) -> list[Table]:
    """The page's tables of one report section (reports.sections), in order."""
    if section.spec is not None:  # a generic section: its table from the workload's spec
        table = sections.generic_table(frame, section.spec)
        spec_section = section.spec.section
        title = spec_section.title if spec_section else section.spec.title
        return [table_from(table, title, note=spec_section.note if spec_section else "")] if not table.empty else []
    by_key: dict[str, Callable[[], list[Table]]] = {
        "matmul": lambda: throughput_tables(frame) + speedup_table(frame),  # every workload's throughput first
        "mnist": lambda: mnist_table(frame),
        "training": lambda: training_tables(frame, skipped),
        "tfdata": lambda: tfdata_verdict_table(frame),
        "multidevice": lambda: multidevice_tables(frame),
        "serving": lambda: serving_tables(frame),
    }
    return by_key[section.key]() if section.key in by_key else []


def ratio_cell(value: Any) -> str:
    """A ratio as text (13.1x, 0.86x); empty when missing."""
    return "" if value is None or pd.isna(value) else fmt_ratio(float(value))


def versus_table(frame: pd.DataFrame) -> Table | None:
    """TensorFlow vs PyTorch per case on the same device, when both backends ran."""
    view = backend_table(frame)
    if view.empty:
        return None
    note = (
        "torch/TF: torch throughput divided by TensorFlow's, the same workload and parameters on the same device; "
        "above 1x torch is faster. Cases only one backend runs (tf.data, TF's function/xla modes, "
        "torch's compile mode) are not compared."
    )
    return table_from(view, "Throughput, same case on the same device", note=note, formatters={"torch/TF": ratio_cell})


def ms(value: Any) -> str:
    """Seconds shown as milliseconds."""
    return "" if value is None or pd.isna(value) else f"{float(value) * 1e3:.4g}"


def cases_table(frame: pd.DataFrame) -> Table:
    """Every case with its median, spread and throughput; noisy cases flagged (and its backend when several ran)."""
    backend = {"backend": frame["backend"]} if several_backends(frame) else {}
    view = pd.DataFrame(
        {
            "host": frame["host"],
            **backend,
            "device": frame["device"],
            "case": frame["name"],
            "median (ms)": frame["median_s"],
            "IQR/median": frame["iqr_rel"],
            "rounds": frame["rounds"],
            "throughput": frame["throughput"],
            "unit": frame["throughput_unit"],
            "noisy": frame["iqr_rel"].astype(float) > NOISY_IQR_REL,
            **throttled_column(frame),
        }
    )
    throttle = (
        " throttled: NVML reported a clock-event reason other than idle on the case's GPU."
        if "throttled" in view
        else ""
    )
    return table_from(
        view,
        "All cases",
        note=f"noisy: IQR above {NOISY_IQR_REL:.0%} of the median; the gate needs more rounds to see small changes."
        + throttle,
        formatters={"median (ms)": ms, "IQR/median": fmt_share},
    )


def throttled_column(frame: pd.DataFrame) -> dict[str, list[str]]:
    """{"throttled": 'yes: <reasons>' / 'no' per case} when NVML reported clock-event reasons for any case."""
    if "throttled" not in frame.columns or frame["throttled"].isna().all():
        return {}
    texts = frame["throttle_text"] if "throttle_text" in frame.columns else [None] * len(frame)
    notes = frame["headline_note"] if "headline_note" in frame.columns else [None] * len(frame)
    cells = [throttle_cell(flag, text) for flag, text in zip(frame["throttled"], texts, strict=True)]
    return {"throttled": [f"{cell} ({note})" if note else cell for cell, note in zip(cells, notes, strict=True)]}


def skipped_table(skipped: pd.DataFrame, backends: bool = False) -> Table:
    """The skipped cases with their reasons (and their backend, with ``backends``)."""
    columns = ["host", *(["backend"] if backends else []), "device", "workload", "params", "kind", "reason"]
    view = skipped[columns] if not skipped.empty else skipped
    return table_from(view, "Why each case has no number")


def _short_date(value: str) -> str:
    """An ISO timestamp as 'YYYY-MM-DD HH:MM UTC'; anything else unchanged."""
    try:
        stamp = dt.datetime.fromisoformat(value)
    except ValueError:
        return value
    if stamp.tzinfo is not None:
        stamp = stamp.astimezone(dt.UTC)
    return stamp.strftime("%Y-%m-%d %H:%M") + (" UTC" if stamp.tzinfo is not None else "")


def environment(run: Run) -> list[tuple[str, str]]:
    """The facts of one run's host, from machine_info and commit_info, as (label, value) text pairs."""
    record = run.record
    info, facts = record.machine_info, record.machine_info.devicebench
    extra = info.model_extra or {}
    commit = record.commit_info
    rows: list[tuple[str, Any]] = [
        ("host", run.host),
        ("run", run.name),
        ("state", run.state_text),
        ("date", _short_date(record.datetime)),
        ("profile", record.devicebench.profile),
        ("CPU", facts.cpu_model),
        ("CPU cores", f"{facts.cpu_cores} ({facts.cpu_usable_cores} usable)" if facts.cpu_cores else None),
        ("thread settings", " ".join(f"{k}={v}" for k, v in sorted(facts.thread_env.items())) or None),
        ("system", " ".join(str(extra[k]) for k in ("system", "release", "machine") if extra.get(k))),
        ("Python", extra.get("python_version")),
        ("NVIDIA driver", facts.nvidia_driver),
        ("container image", facts.container_image),
        ("commit", " ".join(str(x)[:12] for x in (commit.id, commit.branch) if x)
         + (" (dirty)" if commit.dirty else "")),
        ("pytest-benchmark", record.version),
    ]  # fmt: skip
    for name, backend in facts.backends.items():
        details = backend.model_dump(exclude={"available", "reason"})
        parts = [
            f"{k.replace('_', ' ')} {v}"
            for k, v in details.items()
            if v not in (None, "") and not isinstance(v, bool | dict)  # build facts are JSON values of any kind
        ]
        rows.append((f"backend {name}", ", ".join(parts) if backend.available else f"unavailable: {backend.reason}"))
    for device in facts.devices:
        size = f", {fmt_bytes(float(device.memory_bytes))}" if device.memory_bytes else ""
        rows.append((f"device {device.name} ({device.backend})", f"{device.model}{size}"))
    nvml = record.devicebench.nvml
    rows.append(("NVML", "enabled" if nvml.enabled else f"off: {nvml.reason}"))
    return [(label, str(value)) for label, value in rows if value not in (None, "", "None")]


def render(context: Mapping[str, Any]) -> str:
    """Render templates/report.html with autoescaping on."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("reports", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env.get_template("report.html").render(**context)


def _verdicts(frame: pd.DataFrame) -> Table | None:
    """The first screen's answer to "is my GPU giving what it should?" (reports.envelope), or None."""
    table = envelope.verdict_table(frame)
    if table.empty:
        return None
    title = "Is the GPU giving what it should? Against the best published figures"
    return table_from(table, title, note=envelope.VERDICT_NOTE)


def build_page(
    runs: Sequence[Run],
    frame: pd.DataFrame,
    skipped: pd.DataFrame,
    plots: Sequence[Plot],
    headlines: Sequence[str],
    bad: Sequence[ResultsFileError] = (),
    notes: Sequence[tuple[str, str]] = (),
    csv_name: str = "report.csv",
    generated: dt.datetime | None = None,
    history: Mapping[str, Any] | None = None,
    versus_plot: Plot | None = None,
    fleet: Mapping[str, Any] | None = None,
    limits: Mapping[str, Any] | None = None,
    exports: Sequence[str] = (),
    total_runs: int | None = None,
    scorecard: Sequence[Any] = (),
    gate: str | None = None,
) -> str:
    """The whole report page as one HTML string (history: reports.history.history_section).

    ``fleet`` (reports.fleet_page.fleet_section) adds the Fleet section when several hosts ran.

    The TensorFlow vs PyTorch section (its table, and ``versus_plot`` when given) appears only when
    both backends ran.
    """
    hosts = sorted({run.host for run in runs})
    tables = [table for section in sections.ordered(frame) for table in section_tables(section, frame, skipped)]
    backends = several_backends(frame) or (not skipped.empty and skipped["backend"].nunique() > 1)
    versus = versus_table(frame)
    context = {
        "title": "devicebench report: " + ", ".join(hosts),
        "generated": (generated or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%d %H:%M UTC"),
        "runs": runs,
        "headlines": headlines,
        "health": health.page_block(runs),  # first on the page: reports.health
        "verdicts": _verdicts(frame),
        "plots": plots,
        "tables": tables,
        "cases": cases_table(frame) if not frame.empty else None,
        "skipped": skipped_table(skipped, backends) if not skipped.empty else None,
        "versus": {"table": versus, "plot": versus_plot} if versus else None,
        "environments": [environment(run) for run in runs],
        "bad": [str(b) for b in bad],
        "notes": notes,
        "csv_name": csv_name,
        "scorecard": scorecard,
        "gate": gate,  # the gate page of a run shown (compare --html), relative to the page
        "exports": exports,  # every run's data beside the page (CSV, Parquet): build_cmd.write_exports
        "total_runs": total_runs if total_runs and total_runs > len(runs) else None,
        "history": history,
        "fleet": fleet,
        "limits": limits,  # reports.limits_page.limits_section
    }
    return render(context)
