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

from reports import speedup as sp
from reports.load import ResultsFileError, Run
from reports.summary import (
    NOISY_IQR_REL,
    WORKLOAD_TITLES,
    backend_table,
    cell,
    device_labels,
    fmt_bytes,
    fmt_ratio,
    several_backends,
    throughput_table,
)

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


def throughput_tables(frame: pd.DataFrame) -> list[Table]:
    """One throughput table per workload that ran, devices side by side."""
    tables = []
    for workload, title in WORKLOAD_TITLES.items():
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
    """MNIST per device and mode: samples/s, first and steady epoch, final loss and accuracy."""
    rows = frame[frame["workload"] == "mnist"] if not frame.empty else frame
    if rows.empty:
        return []
    wanted = ["mode", "batch_size", "throughput", "first_epoch_s", "steady_epoch_s", "final_loss",
              "final_accuracy", "data_source"]  # fmt: skip
    view = rows.assign(device=device_labels(frame).loc[rows.index])[
        ["device", *[c for c in wanted if c in rows.columns]]
    ]
    view = view.rename(columns={"throughput": "samples/s"})
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


def percent(value: Any) -> str:
    """A share shown as a percentage."""
    return "" if value is None or pd.isna(value) else f"{float(value):.1%}"


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
        }
    )
    return table_from(
        view,
        "All cases",
        note=f"noisy: IQR above {NOISY_IQR_REL:.0%} of the median; the gate needs more rounds to see small changes.",
        formatters={"median (ms)": ms, "IQR/median": percent},
    )


def skipped_table(skipped: pd.DataFrame, backends: bool = False) -> Table:
    """The skipped cases with their reasons (and their backend, with ``backends``)."""
    columns = ["host", *(["backend"] if backends else []), "device", "workload", "params", "kind", "reason"]
    view = skipped[columns] if not skipped.empty else skipped
    return table_from(view, "Skipped cases")


def _get(mapping: Any, *keys: str) -> Any:
    """A nested value of a JSON object, or None."""
    for key in keys:
        if not isinstance(mapping, Mapping):
            return None
        mapping = mapping.get(key)
    return mapping


def _short_date(value: Any) -> Any:
    """An ISO timestamp as 'YYYY-MM-DD HH:MM UTC'; anything else unchanged."""
    try:
        stamp = dt.datetime.fromisoformat(str(value))
    except ValueError:
        return value
    if stamp.tzinfo is not None:
        stamp = stamp.astimezone(dt.UTC)
    return stamp.strftime("%Y-%m-%d %H:%M") + (" UTC" if stamp.tzinfo is not None else "")


def environment(run: Run) -> list[tuple[str, str]]:
    """The facts of one run's host, from machine_info and commit_info, as (label, value) text pairs."""
    info = run.data.get("machine_info") or {}
    extra = info.get("devicebench") if isinstance(info.get("devicebench"), Mapping) else {}
    cpu = info.get("cpu") if isinstance(info.get("cpu"), Mapping) else {}
    commit = run.data.get("commit_info") if isinstance(run.data.get("commit_info"), Mapping) else {}
    facts: list[tuple[str, Any]] = [
        ("host", run.host),
        ("run", run.name),
        ("date", _short_date(run.data.get("datetime"))),
        ("profile", _get(run.data, "devicebench", "profile")),
        ("CPU", extra.get("cpu_model") or cpu.get("brand_raw")),
        ("CPU cores", extra.get("cpu_cores") or cpu.get("count")),
        ("system", " ".join(str(info.get(k)) for k in ("system", "release", "machine") if info.get(k))),
        ("Python", info.get("python_version")),
        ("NVIDIA driver", extra.get("nvidia_driver")),
        ("container image", extra.get("container_image")),
        ("commit", " ".join(str(x)[:12] for x in (commit.get("id"), commit.get("branch")) if x)
         + (" (dirty)" if commit.get("dirty") else "")),
        ("pytest-benchmark", run.data.get("version")),
    ]  # fmt: skip
    backends = extra.get("backends") if isinstance(extra.get("backends"), Mapping) else {}
    for name, backend in backends.items():
        if isinstance(backend, Mapping):
            parts = [f"{k} {v}" for k, v in backend.items() if v not in (None, "") and not isinstance(v, bool)]
            facts.append((f"backend {name}", ", ".join(parts) or "available"))
    for device in extra.get("devices") or []:
        if isinstance(device, Mapping):  # the plugin writes {name: "GPU:0", model}; older files {device, name}
            label = device.get("device") or device.get("name")
            model = device.get("model") or (device.get("name") if device.get("device") else "")
            memory = device.get("memory_bytes")
            size = f", {fmt_bytes(float(memory))}" if isinstance(memory, int | float) else ""
            backend = f" ({device.get('backend')})" if device.get("backend") else ""
            facts.append((f"device {label}{backend}", f"{model}{size}"))
    nvml = extra.get("nvml") if isinstance(extra.get("nvml"), Mapping) else {}
    if nvml:
        facts.append(("NVML", "enabled" if nvml.get("enabled") else f"off: {nvml.get('reason', '')}"))
    return [(label, str(value)) for label, value in facts if value not in (None, "", "None")]


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
) -> str:
    """The whole report page as one HTML string (history: reports.history.history_section).

    The TensorFlow vs PyTorch section (its table, and ``versus_plot`` when given) appears only when
    both backends ran.
    """
    hosts = sorted({run.host for run in runs})
    tables = throughput_tables(frame) + speedup_table(frame) + mnist_table(frame) + tfdata_verdict_table(frame)
    backends = several_backends(frame) or (not skipped.empty and skipped["backend"].nunique() > 1)
    versus = versus_table(frame)
    context = {
        "title": "devicebench report: " + ", ".join(hosts),
        "generated": (generated or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%d %H:%M UTC"),
        "runs": runs,
        "headlines": headlines,
        "plots": plots,
        "tables": tables,
        "cases": cases_table(frame) if not frame.empty else None,
        "skipped": skipped_table(skipped, backends) if not skipped.empty else None,
        "versus": {"table": versus, "plot": versus_plot} if versus else None,
        "environments": [environment(run) for run in runs],
        "bad": [str(b) for b in bad],
        "notes": notes,
        "csv_name": csv_name,
        "history": history,
    }
    return render(context)
