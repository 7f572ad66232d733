"""TensorFlow vs PyTorch: throughput of the same workload and parameters on the same device (pure, no I/O).

Rows of the tidy frame are paired on host, run, device, workload and the workload's case keys; the
ratio is torch throughput / TensorFlow throughput, so above 1 means torch is faster.
"""

from __future__ import annotations

import pandas as pd
from scipy import stats

from reports import specs

TF = "tensorflow"
TORCH = "torch"
BACKEND_TITLES = {TF: "TensorFlow", TORCH: "PyTorch"}


RATIO_COLUMNS = [
    "host", "run", "device", "device_kind", "workload", TF, TORCH, "throughput_unit", "ratio", "comparable", "note",
    "case_label",
]  # fmt: skip


def key_columns(case_keys: dict[str, tuple[str, ...]]) -> list[str]:
    """Every case key of every workload, in the order they follow RATIO_COLUMNS."""
    return list(dict.fromkeys(k for keys in case_keys.values() for k in keys))


#: ratios within this factor of 1 are "about the same".
SAME_WITHIN = 1.05


def both_ran(frame: pd.DataFrame) -> bool:
    """Whether the frame holds measured cases of both TensorFlow and torch."""
    if frame.empty:
        return False
    measured = frame[frame["throughput"].notna()]
    return {TF, TORCH} <= set(measured["backend"].dropna())


def _shared_note(tf_shares: bool, torch_shares: bool) -> str:
    """Why a pair of transfer cases has no ratio: a side that shared the buffer moved no bytes (a latency case)."""
    if tf_shares and torch_shares:
        return "both share the buffer (no copy)"
    if tf_shares or torch_shares:
        return f"{BACKEND_TITLES[TORCH] if torch_shares else BACKEND_TITLES[TF]} shares the buffer (no copy)"
    return ""


def backend_ratios(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per case that both backends measured on the same device: both throughputs and torch/TF.

    The case keys (n, dtype, mode, ...) follow as columns, empty where a workload has no such key.

    ``comparable`` is False where a side is a latency case (a transfer that shared the buffer instead of
    copying it has no throughput); ``note`` says why.
    """
    case_keys = specs.case_keys()  # the parameters that make two cases the same workload, per workload
    key_cols = key_columns(case_keys)
    empty = pd.DataFrame(columns=[*RATIO_COLUMNS, *key_cols])
    if not both_ran(frame):
        return empty
    ids = ["host", "run", "device", "device_kind", "workload"]
    # only the columns read below: filtering the whole tidy frame (~200 columns) per workload took most of the time
    read = [*ids, *key_cols, "case_label", "measure", "backend", "throughput", "throughput_unit"]
    frame = frame[[c for c in dict.fromkeys(read) if c in frame.columns]]
    parts = []
    for workload, keys in case_keys.items():
        rows = frame[frame["workload"] == workload]
        if rows.empty or any(k not in rows.columns for k in keys):
            continue
        rows = rows.dropna(subset=list(keys)).assign(shares=lambda r: r["measure"] == "latency")
        rows = rows.assign(case_label=rows["case_label"] if "case_label" in rows.columns else None)
        wanted = [*ids, *keys, "case_label", "throughput", "throughput_unit", "shares"]
        tf = rows[rows["backend"] == TF][wanted]
        torch = rows[rows["backend"] == TORCH][wanted]
        pairs = tf.merge(torch, on=[*ids, *keys], suffixes=("_tf", "_torch"))
        if pairs.empty:
            continue
        comparable = ~(pairs["shares_tf"] | pairs["shares_torch"])
        tf_speed, torch_speed = pairs["throughput_tf"].astype(float), pairs["throughput_torch"].astype(float)
        parts.append(
            pd.DataFrame(
                {
                    **{c: pairs[c] for c in ids},
                    TF: tf_speed,
                    TORCH: torch_speed,
                    "throughput_unit": pairs["throughput_unit_tf"].fillna(pairs["throughput_unit_torch"]),
                    "ratio": (torch_speed / tf_speed).where(comparable),
                    "comparable": comparable,
                    "note": [
                        _shared_note(a, b) for a, b in zip(pairs["shares_tf"], pairs["shares_torch"], strict=True)
                    ],
                    "case_label": pairs["case_label_tf"].fillna(pairs["case_label_torch"]),
                    **{k: pairs[k] for k in keys},
                }
            )
        )
    if not parts:
        return empty
    out = pd.concat(parts, ignore_index=True)
    for key in key_cols:
        if key not in out.columns:
            out[key] = None
    order = out["workload"].map({w: i for i, w in enumerate(case_keys)})
    out = out.assign(_order=order).sort_values(["host", "run", "device", "_order", *key_cols], kind="stable")
    return out[[*RATIO_COLUMNS, *key_cols]].reset_index(drop=True)


def winner(ratio: float) -> str:
    """Who is faster for a torch/TF throughput ratio: TF, TORCH, or "same" within SAME_WITHIN."""
    return "same" if 1 / SAME_WITHIN < ratio < SAME_WITHIN else faster(ratio)[0]


def faster(ratio: float) -> tuple[str, float]:
    """Which backend is faster for a torch/TF ratio, and by what factor (>= 1)."""
    return (TORCH, ratio) if ratio >= 1 else (TF, 1.0 / ratio)


def summarize(ratios: pd.Series) -> dict[str, float | int]:
    """Geometric mean, smallest and largest torch/TF ratio, and how many cases torch won."""
    values = ratios.astype(float)
    return {
        "gmean": float(stats.gmean(values)),
        "low": float(values.min()),
        "high": float(values.max()),
        "torch_wins": int((values > 1).sum()),
        "cases": len(values),
    }
