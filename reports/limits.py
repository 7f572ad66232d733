"""How close each case came to the hardware's limit: % of peak, of memory bandwidth and of the host link, work per
joule, throttling, and the roofline's ceilings (pure functions on records and tidy frames; no I/O).

`case_facts` joins one case with its run's device records (the detected SKU's spec, the host-link ceiling, the
CPU's estimated peak); `add_limit_columns` turns those columns into percentages and work per joule. Everything
after that works on the tidy frame alone, so it is tested with literal frames.

Which peak: a GPU case is judged against its SKU's dense peak for the dtype it ran in and the TF32 policy it
recorded (float32 with TF32 on against the TF32 tensor-core peak; `peak_basis` says which). A CPU case is judged
against the suite's own best (`pct_of_best`) and, where the ISA is modelled, an estimated peak that is labelled
an estimate wherever it is shown.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from reports import envelope, specs
from reports.fmt import fmt_number, fmt_percent
from reports.labels import case_text, device_labels
from results_format import DTYPE_BYTES, MIN_ENERGY_WINDOW_S, Benchmark, DeviceRecord

if TYPE_CHECKING:
    from reports.load import Run

#: workloads whose work is FLOPs: judged against a compute peak (so is any workload whose spec counts FLOP).
COMPUTE_WORKLOADS = ("matmul", "sustained", "peaks")
#: GFLOP/s per unit of a FLOP workload's throughput (peaks are in GFLOP/s; attention reports TFLOP/s)
GFLOPS_PER_UNIT = {"GFLOP/s": 1.0, "TFLOP/s": 1e3}
#: the measured best per device is taken over these workloads' cases (per dtype for matmul).
BEST_KEYS = {"matmul": ("precision_label",), "membw": ()}  # float32 with TF32 on is its own precision
DEVICE_KEYS = ["host", "run", "backend", "device"]

#: what TensorFlow does with host memory in a copy (see bench/backends/tf_transfer.py for the sources).
TF_HOST_MEMORY = (
    "TensorFlow copies from pageable host memory only: tf.constant(ndarray) copies the array into a host tensor "
    "in ordinary memory, and moving it to a GPU is a memcpy from that pageable buffer, which the CUDA driver "
    "stages through its own pinned buffer; .numpy() copies into "
    "a host tensor from TensorFlow's default CPU allocator, pageable too. TensorFlow 2 has no public API to pin "
    "a tensor's host memory, so it has no pinned and no both-directions cases; torch's pin_memory() cases show "
    "what pinning buys."
)


# --- joining a case with its run's device facts ------------------------------------------------------------------


def device_record(run: Run, backend: str, device: str) -> DeviceRecord | None:
    """The run's record of one backend's device (with its SKU, spec and host link where NVML matched it)."""
    for record in run.record.machine_info.devicebench.devices:
        if record.backend == backend and record.name == device:
            return record
    return None


#: the short name of each peak, for tables ("judged against").
PEAK_NAMES = {
    "fp64": "FP64 CUDA-core peak",
    "fp64_tensor": "FP64 tensor-core peak",
    "fp32": "FP32 CUDA-core peak",
    "tf32": "TF32 tensor-core peak",
    "bf16": "BF16 tensor-core peak",
    "fp16": "FP16 tensor-core peak",
    "fp8": "FP8 tensor-core peak",
}


def _peak(bench: Benchmark, run: Run, device: DeviceRecord | None) -> dict[str, Any]:
    """The compute peak a FLOP case is judged against: GFLOP/s, a short and a full description, estimate or not."""
    info = bench.extra_info
    dtype, tf32 = info.precision.dtype, info.precision.tf32
    if info.device_kind == "cpu":
        estimate = run.record.machine_info.devicebench.cpu_peak
        if estimate is None:
            why = "no CPU estimate recorded"
            return {"peak_gflops": None, "peak_basis": why, "peak_note": why, "peak_estimate": None}
        if not estimate.gflops or dtype not in estimate.gflops:
            why = estimate.reason if not estimate.gflops else f"no {dtype} estimate for {estimate.isa}"
            return {"peak_gflops": None, "peak_basis": "no estimate", "peak_note": why, "peak_estimate": True}
        return {
            "peak_gflops": estimate.gflops[dtype],
            "peak_basis": f"CPU estimate: {estimate.isa}",
            "peak_note": estimate.reason,
            "peak_estimate": True,
        }
    if device is None or device.spec is None:
        why = device.sku.reason if device is not None and device.sku is not None else "the GPU was not matched by NVML"
        why = why or "unknown SKU: no % shown"
        return {"peak_gflops": None, "peak_basis": why, "peak_note": why, "peak_estimate": None}
    peak = device.spec.peak(dtype, tf32)
    if peak.key is None:
        return {"peak_gflops": None, "peak_basis": peak.note, "peak_note": peak.note, "peak_estimate": False}
    short = PEAK_NAMES[peak.key] + (" (no TF32 units)" if tf32 and peak.key == "fp32" else "")
    short += " (derived)" if f"tflops.{peak.key}" in device.spec.derived else ""
    return {
        "peak_gflops": peak.gflops,
        "peak_basis": f"{short}, {device.spec.name}",
        "peak_note": f"spec: {peak.note}",
        "peak_estimate": False,
    }


def _link_now(bench: Benchmark, index: int | None) -> str | None:
    """The PCIe link state NVML saw on the case's GPU while it ran, e.g. 'gen5 x16 (63.02 GB/s)'."""
    summary = (bench.extra_info.nvml or {}).get(str(index)) if index is not None else None
    if summary is None or summary.pcie_link_gen is None:
        return None
    gbs = summary.pcie_link_gbs_per_direction
    return f"gen{summary.pcie_link_gen} x{summary.pcie_link_width}" + (f" ({gbs:g} GB/s)" if gbs else "")


def case_facts(bench: Benchmark, run: Run) -> dict[str, Any]:
    """The limit facts of one case as tidy columns: peak, spec bandwidth, link ceiling, energy, throttling."""
    info = bench.extra_info
    device = device_record(run, info.backend, info.device)
    index = device.nvml_index if device is not None else None
    facts: dict[str, Any] = {
        "sku": (device.sku.id or "unknown") if device is not None and device.sku is not None else None,
        "peak_gflops": None,
        "peak_basis": None,
        "peak_note": None,
        "peak_estimate": None,
        "spec_bandwidth_gbs": device.spec.memory_bandwidth_gbs if device is not None and device.spec else None,
        "link_gbs": None,
        "link_basis": None,
        "link_now": None,
    }
    spec = run.record.devicebench.workloads.get(info.workload)
    if info.workload in COMPUTE_WORKLOADS or (spec is not None and spec.work_unit == "FLOP"):
        facts.update(_peak(bench, run, device))
    facts.update(envelope.case_reference(bench, device))  # the best published figure this case measures
    if info.workload == "transfer" and info.device_kind == "gpu" and device is not None and device.host_link:
        facts["link_gbs"] = device.host_link.gbs_per_direction
        facts["link_basis"] = device.host_link.source
        facts["link_now"] = _link_now(bench, index)
    energy, throttle = info.energy, info.throttle
    if energy is not None and energy.joules is not None and energy.window_s < MIN_ENERGY_WINDOW_S:
        # written before the suite refused such figures: the counter cannot resolve so short a window
        note = f"no energy figure: {energy.window_s:.3f} s of timed rounds, under the {MIN_ENERGY_WINDOW_S:g} s needed"
        energy = energy.model_copy(
            update={"joules": None, "gross_joules": None, "joules_per_call": None, "method": "none", "note": note}
        )
    facts.update(
        {
            "energy_j_per_call": energy.joules_per_call if energy else None,
            "energy_mean_w": energy.mean_power_w if energy else None,
            "energy_gross_j": energy.gross_joules if energy else None,
            "energy_window_s": energy.window_s if energy else None,
            "energy_method": energy.method if energy else None,
            "energy_note": energy.note if energy else None,
            "gross_j_per_call": energy.gross_joules / energy.calls if energy and energy.gross_joules else None,
            "throttled": throttle.throttled if throttle else None,
            "throttle_text": throttle.text if throttle else None,
            "first_throttle_s": throttle.first_s if throttle else None,
            **_left_out(info.timing),
        }
    )
    return facts


def _left_out(timing: Any) -> dict[str, Any]:
    """The share of rounds the headline left out for a power or thermal clock event, and a note on it."""
    share = getattr(timing, "left_out_share", None)
    every = getattr(timing, "every_round_throttled", None)
    if every:
        note = "every round throttled: the median is a throttled figure"
    elif share:
        note = f"{share:.0%} of rounds left out of the median (power or thermal clock event)"
    else:
        note = None
    return {"rounds_left_out_share": share, "every_round_throttled": every, "headline_note": note}


# --- percentages and work per joule (pure, on the tidy frame) ----------------------------------------------------


def _ratio(numerator: pd.Series, denominator: pd.Series) -> pd.Series:
    """100 x numerator / denominator as floats, NaN where either is missing or the denominator is not above 0."""
    num = pd.to_numeric(numerator, errors="coerce").astype(float)
    den = pd.to_numeric(denominator, errors="coerce").astype(float)
    return (100.0 * num / den.where(den > 0)).astype(float)


def _column(frame: pd.DataFrame, name: str) -> pd.Series:
    """A column of the frame, or all-missing when it has none."""
    return frame[name] if name in frame.columns else pd.Series([None] * len(frame), index=frame.index, dtype=object)


def measured_best(frame: pd.DataFrame) -> pd.Series:
    """Per row of matmul and membw: the best throughput of its device (per dtype for matmul) in its run."""
    best = pd.Series(np.nan, index=frame.index, dtype=float)
    for workload, keys in BEST_KEYS.items():
        rows = frame[(frame["workload"] == workload) & frame["throughput"].notna()]
        if rows.empty:
            continue
        group = [*DEVICE_KEYS, *[k for k in keys if k in rows.columns]]
        best.loc[rows.index] = rows.groupby(group, dropna=False)["throughput"].transform("max").astype(float)
    return best


#: the columns add_limit_columns appends to the tidy frame, in this order
LIMIT_COLUMNS = [
    "pct_of_peak", "pct_of_best", "pct_of_bandwidth", "pct_of_link", "work_per_joule", "work_per_joule_gross",
    "work_per_joule_unit",
]  # fmt: skip


def add_limit_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with pct_of_peak, pct_of_best, pct_of_bandwidth, pct_of_link and work per joule (net and gross).

    pct_of_link compares a `both` copy with twice the per-direction ceiling (a link carries each way at once).
    Work per joule is in the throughput unit per joule (GFLOP/J, samples/J, GB/J): one call's work, which is
    throughput x median time, over one call's energy.
    """
    if frame.empty:
        return frame
    out = frame.copy()
    throughput = pd.to_numeric(out["throughput"], errors="coerce").astype(float)
    gflops = throughput * _column(out, "throughput_unit").map(GFLOPS_PER_UNIT).fillna(1.0).astype(float)
    out["pct_of_peak"] = _ratio(gflops, _column(out, "peak_gflops"))
    out["pct_of_best"] = _ratio(throughput, measured_best(out))
    membw = out["workload"] == "membw"
    out["pct_of_bandwidth"] = _ratio(throughput.where(membw), _column(out, "spec_bandwidth_gbs"))
    both = _column(out, "direction").astype(object).eq("both")
    link = pd.to_numeric(_column(out, "link_gbs"), errors="coerce").astype(float) * np.where(both, 2.0, 1.0)
    out["pct_of_link"] = _ratio(throughput.where(out["workload"] == "transfer"), link)
    work = throughput * pd.to_numeric(out["median_s"], errors="coerce").astype(float)
    out["work_per_joule"] = _ratio(work, _column(out, "energy_j_per_call")) / 100.0
    out["work_per_joule_gross"] = _ratio(work, _column(out, "gross_j_per_call")) / 100.0
    out["work_per_joule_unit"] = [
        str(unit).replace("/s", "/J") if isinstance(unit, str) and unit.endswith("/s") else None
        for unit in out["throughput_unit"]
    ]
    return out


# --- tables ------------------------------------------------------------------------------------------------------


def arithmetic_intensity(n: float, dtype: str) -> float | None:
    """FLOP per byte of an n x n matmul that reads A and B and writes C once: 2n^3 / (3 n^2 x element size)."""
    size = DTYPE_BYTES.get(dtype)
    if size is None or not n or n <= 0:
        return None
    return 2.0 * float(n) / (3.0 * size)


def throttle_cell(flag: Any, text: Any) -> str:
    """'yes: software power cap', 'no', or empty when NVML gave no clock-event reasons for the case."""
    if flag is None or flag is pd.NA or (isinstance(flag, float) and math.isnan(flag)):
        return ""
    return str(text).replace("throttled: ", "yes: ") if bool(flag) else "no"


def _labelled(frame: pd.DataFrame, rows: pd.DataFrame) -> pd.Series:
    """The device labels of `rows` as the rest of the report spells them."""

    return device_labels(frame).loc[rows.index]


def peak_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Every compute case: GFLOP/s, the peak it is judged against and which one, % of peak and of the device's best."""
    if frame.empty or "pct_of_peak" not in frame.columns:
        return pd.DataFrame()
    rows = frame[frame["workload"].isin(COMPUTE_WORKLOADS) & frame["throughput"].notna()]
    if rows.empty:
        return pd.DataFrame()
    return pd.DataFrame(
        {
            "device": _labelled(frame, rows),
            "workload": rows["workload"],
            "n": rows["n"] if "n" in rows.columns else None,
            "dtype": rows["dtype"] if "dtype" in rows.columns else None,
            "TF32": rows["tf32"].astype(object).where(rows["device_kind"] == "gpu"),  # a GPU setting only
            "GFLOP/s": rows["throughput"].astype(float),
            "peak GFLOP/s": rows["peak_gflops"].astype(float),
            "% of peak": rows["pct_of_peak"].astype(float),
            "judged against": rows["peak_basis"],
            "% of best": rows["pct_of_best"].astype(float),
            "throttled": [throttle_cell(v, t) for v, t in zip(rows["throttled"], rows["throttle_text"], strict=True)],
        }
    ).reset_index(drop=True)


def bandwidth_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Every memory-bandwidth case: GB/s, the spec bandwidth and % of it, and % of the device's best."""
    if frame.empty or "pct_of_bandwidth" not in frame.columns:
        return pd.DataFrame()
    rows = frame[(frame["workload"] == "membw") & frame["throughput"].notna()]
    if rows.empty:
        return pd.DataFrame()
    return pd.DataFrame(
        {
            "device": _labelled(frame, rows),
            "kernel": rows["kernel"].map(lambda value: specs.label("membw", value)),
            "bytes": rows["bytes"],
            "GB/s": rows["throughput"].astype(float),
            "spec GB/s": rows["spec_bandwidth_gbs"].astype(float),
            "% of spec": rows["pct_of_bandwidth"].astype(float),
            "% of best": rows["pct_of_best"].astype(float),
            "throttled": [throttle_cell(v, t) for v, t in zip(rows["throttled"], rows["throttle_text"], strict=True)],
        }
    ).reset_index(drop=True)


def link_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Every GPU copy: GB/s, the link's per-direction ceiling, % of it, and the link state seen during the copy."""
    if frame.empty or "pct_of_link" not in frame.columns:
        return pd.DataFrame()
    rows = frame[(frame["workload"] == "transfer") & frame["throughput"].notna() & (frame["device_kind"] == "gpu")]
    if rows.empty:
        return pd.DataFrame()
    both = rows["direction"].eq("both")
    return pd.DataFrame(
        {
            "device": _labelled(frame, rows),
            "direction": rows["direction"].map(lambda value: specs.label("transfer", value)),
            "host memory": rows["host_memory"] if "host_memory" in rows.columns else None,
            "bytes": rows["bytes"],
            "GB/s": rows["throughput"].astype(float),
            "link GB/s": rows["link_gbs"].astype(float) * np.where(both, 2.0, 1.0),
            "% of link": rows["pct_of_link"].astype(float),
            "link during the copy": rows["link_now"],
            "ceiling": rows["link_basis"].map(_ceiling_text),
        }
    ).reset_index(drop=True)


def _ceiling_text(source: Any) -> str | None:
    """'PCIe gen5 x16 maximum (NVML)' from a LinkRecord source; other sources as they are."""
    if not isinstance(source, str):
        return None
    prefix = "NVML link maximum: "
    return f"{source.removeprefix(prefix)} maximum (NVML)" if source.startswith(prefix) else source


def energy_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Every case with an energy figure: throughput beside mean power, joules per call and work per joule."""
    if frame.empty or "work_per_joule" not in frame.columns:
        return pd.DataFrame()
    rows = frame[frame["energy_j_per_call"].notna() & frame["throughput"].notna()]
    if rows.empty:
        return pd.DataFrame()

    return pd.DataFrame(
        {
            "device": _labelled(frame, rows),
            "workload": rows["workload"],
            "case": [case_text(row) for _, row in rows.iterrows()],
            "throughput": rows["throughput"].astype(float),
            "unit": rows["throughput_unit"],
            "mean W": rows["energy_mean_w"].astype(float),
            "J per call (net)": rows["energy_j_per_call"].astype(float),
            "work/J (net)": rows["work_per_joule"].astype(float),
            "work/J (gross)": rows["work_per_joule_gross"].astype(float),
            "per J": rows["work_per_joule_unit"],
            "energy from": rows["energy_method"],
            "throttled": [throttle_cell(v, t) for v, t in zip(rows["throttled"], rows["throttle_text"], strict=True)],
        }
    ).reset_index(drop=True)


# --- the roofline ------------------------------------------------------------------------------------------------


def roofline_points(frame: pd.DataFrame) -> pd.DataFrame:
    """Each matmul case as a point: device label, dtype, n, arithmetic intensity (FLOP/byte) and GFLOP/s."""
    columns = ["device_label", "host", "run", "backend", "device", "device_kind", "dtype", "n", "intensity", "gflops"]
    if frame.empty:
        return pd.DataFrame(columns=columns)
    rows = frame[(frame["workload"] == "matmul") & frame["throughput"].notna()]
    if rows.empty or "n" not in rows.columns:
        return pd.DataFrame(columns=columns)
    return pd.DataFrame(
        {
            "device_label": _labelled(frame, rows),
            **{c: rows[c] for c in ("host", "run", "backend", "device", "device_kind", "n")},
            # the precision each point ran in: float32 with TF32 on is apart from strict float32
            "dtype": rows["precision_label"] if "precision_label" in rows.columns else rows["dtype"],
            "intensity": [arithmetic_intensity(n, d) for n, d in zip(rows["n"], rows["dtype"], strict=True)],
            "gflops": rows["throughput"].astype(float),
        }
    ).reset_index(drop=True)


def roofline_ceilings(frame: pd.DataFrame) -> pd.DataFrame:
    """Per device and dtype: the measured compute and memory ceilings beside the spec's (or the CPU's estimate).

    Measured compute is the best matmul GFLOP/s of that dtype, or the peak search's best shape where it ran and
    beat square n (`searched shape` then names it); measured memory the best membw GB/s of the device; the ridge
    point is where the two roofs meet (FLOP/byte): to its left a kernel is memory-bound.
    """
    columns = [
        "device_label", "device_kind", "dtype", "measured GFLOP/s", "at n", "searched shape", "peak GFLOP/s",
        "peak is", "measured GB/s", "measured by", "spec GB/s", "ridge (measured)", "ridge (peak)",
    ]  # fmt: skip
    if frame.empty:
        return pd.DataFrame(columns=columns)
    labels = _labelled(frame, frame)
    matmul = frame[frame["workload"].isin(("matmul", "peaks")) & frame["throughput"].notna()]
    membw = frame[(frame["workload"] == "membw") & frame["throughput"].notna()]
    rows = []
    for label in sorted(set(labels.loc[matmul.index]) | set(labels.loc[membw.index])):
        mine = matmul[labels.loc[matmul.index] == label]
        memory = membw[labels.loc[membw.index] == label]
        best_bw = memory.loc[memory["throughput"].astype(float).idxmax()] if not memory.empty else None
        bw = float(best_bw["throughput"]) if best_bw is not None else math.nan
        spec_bw = _first_of(mine, memory, column="spec_bandwidth_gbs")
        kind = _first_of(mine, memory, column="device_kind")
        precision = "precision_label" if "precision_label" in mine.columns else "dtype"
        dtypes = sorted(set(mine[precision].dropna())) if precision in mine.columns else []
        for dtype in dtypes or [None]:
            part = mine[mine[precision] == dtype] if dtype is not None else mine.iloc[0:0]
            best = part.loc[part["throughput"].astype(float).idxmax()] if not part.empty else None
            compute = float(best["throughput"]) if best is not None else math.nan
            searched = best is not None and best["workload"] == "peaks"
            peak = _first(part, "peak_gflops")
            estimate = _first(part, "peak_estimate")
            rows.append(
                {
                    "device_label": label,
                    "device_kind": kind,
                    "dtype": dtype,
                    "measured GFLOP/s": compute,
                    "at n": int(best["n"]) if best is not None and not searched else None,
                    "searched shape": best["best_shape"] if searched else None,
                    "peak GFLOP/s": peak,
                    "peak is": None if peak is None else ("CPU estimate" if estimate else "spec"),
                    "measured GB/s": bw,
                    "measured by": (
                        f"{best_bw['kernel']} {int(best_bw['bytes']) // 2**20} MiB" if best_bw is not None else None
                    ),
                    "spec GB/s": spec_bw,
                    "ridge (measured)": compute / bw if bw and not math.isnan(bw) else math.nan,
                    "ridge (peak)": peak / spec_bw if peak and spec_bw else math.nan,
                }
            )
    table = pd.DataFrame(rows, columns=columns)
    return table if table["searched shape"].notna().any() else table.drop(columns="searched shape")


def _first_of(*frames: pd.DataFrame, column: str) -> Any:
    """The first present value of a column among the rows of `frames`, in order, or None."""
    for rows in frames:
        value = _first(rows, column)
        if value is not None:
            return value
    return None


def _first(rows: pd.DataFrame, column: str) -> Any:
    """The first present value of a column among rows, or None."""
    if rows.empty or column not in rows.columns:
        return None
    present = rows[column].dropna()
    if present.empty:
        return None
    value = present.iloc[0]
    return float(value) if isinstance(value, int | float | np.floating) and not isinstance(value, bool) else value


# --- findings ----------------------------------------------------------------------------------------------------


def _true(value: Any) -> bool:
    """Whether a cell holds True (missing counts as False)."""
    return value is not None and not pd.isna(value) and bool(value)


#: the columns the findings below read: filtering the whole ~200-column tidy frame per device was most of their time
_MATMUL_COLUMNS = (
    "device_kind", "throughput", "n", "dtype", "tf32", "pct_of_peak", "peak_basis", "peak_estimate", "peak_gflops",
)  # fmt: skip
_MEMBW_COLUMNS = ("throughput", "kernel", "bytes", "pct_of_bandwidth", "spec_bandwidth_gbs")


def _only(rows: pd.DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
    """`rows` with only those of `columns` it has."""
    return rows[[c for c in columns if c in rows.columns]]


def limit_lines(frame: pd.DataFrame) -> list[str]:
    """Findings: how close each device came to its peak, its memory bandwidth and its host link; throttling."""
    if frame.empty or "pct_of_peak" not in frame.columns:
        return []

    labels = _labelled(frame, frame)
    lines = []
    matmul = _only(frame[(frame["workload"] == "matmul") & frame["throughput"].notna()], _MATMUL_COLUMNS)
    for label in sorted(set(labels.loc[matmul.index])):
        part = matmul[labels.loc[matmul.index] == label]
        judged = part[part["pct_of_peak"].notna()]
        if not judged.empty:
            # one line per peak the cases were judged against (FP32, TF32, BF16, FP16 ...), its best case
            for _, basis in judged.groupby("peak_basis", sort=False):
                top = basis.loc[basis["pct_of_peak"].astype(float).idxmax()]
                gpu = top["device_kind"] == "gpu"
                if bool(top.get("peak_estimate")):
                    what = f"the CPU's estimated {top['dtype']} peak (an estimate from its ISA, cores and clock)"
                else:
                    what = f"the {top['peak_basis']}"
                line = (
                    f"Matmul on {label} reaches {fmt_percent(float(top['pct_of_peak']))} of {what}: "
                    f"{fmt_number(float(top['throughput']))} of {fmt_number(float(top['peak_gflops']))} GFLOP/s "
                    f"(n={int(top['n'])} {top['dtype']}{', TF32 on' if gpu and _true(top.get('tf32')) else ''})"
                )
                if bool(top.get("peak_estimate")) and float(top["pct_of_peak"]) > 100:
                    # the estimate takes the advertised (base) clock; a VM or a turbo clock can run faster
                    line += (
                        "; above 100 %: the cores ran faster than the advertised clock the estimate assumes (turbo), "
                        "so the estimate is no ceiling here"
                    )
                lines.append(line + ".")
        elif part["device_kind"].eq("cpu").all():
            best = part.loc[part["throughput"].astype(float).idxmax()]
            why = best.get("peak_basis") or "no estimate"
            lines.append(
                f"Matmul on {label}: the measured best is {fmt_number(float(best['throughput']))} GFLOP/s "
                f"(n={int(best['n'])}, {best['dtype']}); no peak to judge it by ({why})."
            )
    membw = _only(frame[(frame["workload"] == "membw") & frame["throughput"].notna()], _MEMBW_COLUMNS)
    for label in sorted(set(labels.loc[membw.index])):
        part = membw[labels.loc[membw.index] == label]
        top = part.loc[part["throughput"].astype(float).idxmax()]
        text = f"Memory bandwidth on {label}: {fmt_number(float(top['throughput']))} GB/s at best ({top['kernel']}, "
        text += f"{int(top['bytes']) // 2**20} MiB arrays)"
        if pd.notna(top.get("pct_of_bandwidth")):
            spec = fmt_number(float(top["spec_bandwidth_gbs"]))
            text += f", {fmt_percent(float(top['pct_of_bandwidth']))} of the spec's {spec} GB/s"
        lines.append(text + ".")
    lines += link_lines(frame, labels)
    return lines + throttle_lines(frame) + energy_lines(frame)


def link_lines(frame: pd.DataFrame, labels: pd.Series) -> list[str]:
    """Per GPU, the best copy as % of the link, and whether the link ran below its maximum during a copy."""
    rows = frame[frame["pct_of_link"].notna()] if "pct_of_link" in frame.columns else frame.iloc[0:0]
    rows = _only(rows, ("pct_of_link", "direction", "host_memory", "link_gbs", "link_now"))
    lines = []
    for label in sorted(set(labels.loc[rows.index])):
        part = rows[labels.loc[rows.index] == label]
        parts = []
        for (direction, memory), group in part.groupby(["direction", "host_memory"], sort=True):
            top = group.loc[group["pct_of_link"].astype(float).idxmax()]
            parts.append(f"{direction} {memory} {fmt_percent(float(top['pct_of_link']))}")
        ceiling = part["link_gbs"].astype(float).iloc[0]
        text = f"Copies on {label} reach, of the {ceiling:g} GB/s per-direction link: {', '.join(parts)}"
        slow = part[
            part["link_now"].notna() & ~part["link_now"].astype(str).str.contains(f"({ceiling:g} GB/s)", regex=False)
        ]
        if not slow.empty:
            text += f"; the link ran at {slow['link_now'].iloc[0]} during {len(slow)} copy case(s), below its maximum"
        lines.append(text + ".")
    return lines


def throttle_lines(frame: pd.DataFrame) -> list[str]:
    """How many GPU cases ran throttled, and why: their numbers understate the hardware."""
    if "throttled" not in frame.columns:
        return []
    flagged = frame[frame["throttled"].fillna(False).astype(bool)]
    if flagged.empty:
        return []
    texts = [str(t).removeprefix("throttled: ") for t in flagged["throttle_text"].dropna()]
    reasons = sorted({reason for text in texts for reason in text.split(", ")})
    lines = [
        f"{len(flagged)} of {int(frame['throttled'].notna().sum())} GPU case(s) ran throttled ({', '.join(reasons)}): "
        "their clocks were held down, so their numbers understate the hardware (flagged in the tables)."
    ]
    if "rounds_left_out_share" in frame.columns:
        shares = frame["rounds_left_out_share"].dropna().astype(float)
        dropped = shares[shares > 0]
        every = int(frame["every_round_throttled"].fillna(False).astype(bool).sum())
        if not dropped.empty:
            low, high = f"{dropped.min():.0%}", f"{dropped.max():.0%}"
            lines.append(
                f"{len(dropped)} of them had rounds under a power or thermal clock event left out of their median "
                f"({low if low == high else f'{low}-{high}'} of their rounds; kept in the results file)."
            )
        if every:
            lines.append(f"{every} case(s) ran every round throttled: their medians are throttled figures.")
    return lines


def energy_lines(frame: pd.DataFrame) -> list[str]:
    """Per GPU, the most energy-efficient matmul (work per joule, net of idle)."""
    if "work_per_joule" not in frame.columns:
        return []

    rows = frame[(frame["workload"] == "matmul") & frame["work_per_joule"].notna()]
    labels = _labelled(frame, rows) if not rows.empty else pd.Series(dtype=str)
    lines = []
    for label in sorted(set(labels)):
        part = rows[labels == label]
        top = part.loc[part["work_per_joule"].astype(float).idxmax()]
        lines.append(
            f"Most work per joule on {label}: {fmt_number(float(top['work_per_joule']))} GFLOP/J above idle "
            f"(matmul n={int(top['n'])} {top['dtype']}, {fmt_number(float(top['throughput']))} GFLOP/s)."
        )
    return lines
