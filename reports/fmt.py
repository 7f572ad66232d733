"""The one place numbers, sizes, times and percentages become text (pure; every report, table and finding uses it)."""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np
import pandas as pd

from results_format import Fact
from results_format.text import fmt_bytes

__all__ = [
    "cell",
    "fact_heading",
    "fmt_bytes",
    "fmt_fact",
    "fmt_latency",
    "fmt_number",
    "fmt_percent",
    "fmt_ratio",
    "fmt_share",
]


def fmt_ratio(ratio: float) -> str:
    """A speedup as text: 41.2x, 0.86x, 1.0x (also for 0.998, which two significant digits would make '1x')."""
    return f"{ratio:.2g}x" if ratio < 0.995 else f"{ratio:.1f}x"


def fmt_number(value: float | None) -> str:
    """A throughput or time as compact text (thousands separators, 3 significant digits)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if abs(value) >= 999.5:  # 999.6 would read "1e+03" with 3 significant digits
        return f"{value:,.0f}"
    return f"{value:.3g}"


def cell(value: Any, column: str = "") -> str:
    """One table cell as text: empty for missing, bytes in binary units, numbers compact."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if column == "bytes" and isinstance(value, numbers.Real):
        return fmt_bytes(float(value))
    if isinstance(value, numbers.Integral) and column in ("n", "batch_size", "rounds"):
        return str(value)
    if isinstance(value, numbers.Real):
        return fmt_number(float(value))
    return str(value)


def fmt_latency(seconds: float) -> str:
    """A short time with its unit: 35.6 µs, 2.1 ms."""
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def fmt_percent(value: Any) -> str:
    """A percentage (0-100 scale) for a sentence or a cell: 76 %, 4.2 %; empty when missing."""
    if value is None or pd.isna(value):
        return ""
    value = float(value)
    return f"{value:.0f} %" if value >= 10 else f"{value:.2g} %"


def fmt_share(value: Any) -> str:
    """A share (0-1 scale) as a percentage with one decimal: 12.5%; empty when missing."""
    return "" if value is None or pd.isna(value) else f"{float(value):.1%}"


def fmt_fact(value: Any, fact: Fact | None, with_unit: bool = True) -> str:
    """A workload's fact as its spec says to show it (nvbench-style hints); a plain cell where it declares none.

    with_unit=False leaves out a number's declared unit (a table column whose heading names it, see fact_heading).
    """
    if fact is None:
        return cell(value)
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return ""
    if fact.hint == "text" or isinstance(value, str | bool | np.bool_):
        return cell(value)
    number = float(value)
    if fact.hint == "duration":
        return fmt_latency(number)
    if fact.hint == "bytes":
        return fmt_bytes(number)
    if fact.hint == "percent":
        return fmt_percent(number)
    if fact.hint == "ratio":
        return fmt_ratio(number)
    if fact.hint == "count":
        return f"{number:,.0f}"
    text = format(number, fact.format) if fact.format else fmt_number(number)
    return f"{text} {fact.unit}" if fact.unit and with_unit else text


def fact_heading(fact: Fact) -> str:
    """A table column's heading for a fact: its name, with the unit a number does not carry itself."""
    carries_unit = fact.hint in ("duration", "bytes", "percent", "ratio", "count", "text")
    return fact.name if carries_unit or not fact.unit else f"{fact.name} ({fact.unit})"
