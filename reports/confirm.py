"""The confirmation step: a regression flagged across runs is re-timed base and head alternately (pure functions).

The re-timing (tools/confirm.py, or the `confirm` job in CI) runs only the flagged cases, N pairs
A B A B …, in one job on one machine, so that drift of the machine between runs falls on both sides of
each pair alike. Per pair i the log ratio d_i = log(median head_i / median base_i); the pairs' mean and
its paired Student-t interval (N - 1 degrees of freedom, confidence 1 - alpha/m over the m re-timed cases)
decide:

``confirmed``      the interval lies above 1 (the pairs show a slowdown) **and** reaches 1 + t (the
                   slowdown is not shown to be smaller than the threshold): the gate fails;
``not confirmed``  otherwise, with the reason (no slowdown the pairs can vouch for, or one shown to be
                   below the threshold, or too few pairs).

Under no change the interval lies above 1 with probability at most (1 - confidence)/2 per case, so the
confirmation step's false alarms stay below alpha/2 for the whole comparison, whatever the first stage
flagged.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import t as student_t

__all__ = ["MIN_PAIRS", "Confirmation", "confirm_case", "pair_log_ratios"]

#: fewest complete pairs with which a case can be confirmed.
MIN_PAIRS = 3


@dataclass(frozen=True)
class Confirmation:
    """The paired verdict on one re-timed case."""

    name: str
    confirmed: bool
    reason: str
    pairs: int
    ratio: float  # exp(mean of the pairs' log ratios): > 1 means slower
    ci_low: float
    ci_high: float
    confidence: float


def pair_log_ratios(base: Sequence[Sequence[float]], head: Sequence[Sequence[float]]) -> list[float]:
    """log(median head_i / median base_i) for each pair whose sides both have positive finite rounds."""
    out = []
    for b, h in zip(base, head, strict=False):
        bb = np.asarray([x for x in b if math.isfinite(x) and x > 0])
        hh = np.asarray([x for x in h if math.isfinite(x) and x > 0])
        if bb.size and hh.size:
            out.append(float(math.log(np.median(hh) / np.median(bb))))
    return out


def _pct(ratio: float) -> str:
    """'+12.3%' for a time ratio."""
    return f"{ratio - 1:+.1%}"


def confirm_case(name: str, log_ratios: Sequence[float], threshold: float, confidence: float) -> Confirmation:
    """Confirmed when the paired interval lies above 1 and reaches 1 + threshold; see the module docstring."""
    d = np.asarray(log_ratios, dtype=float)
    n = d.size
    if n < MIN_PAIRS:
        ratio = math.exp(float(d.mean())) if n else math.nan
        why = f"only {n} complete pair(s); at least {MIN_PAIRS} are needed"
        return Confirmation(name, False, why, n, ratio, math.nan, math.nan, confidence)
    mean, se = float(d.mean()), float(d.std(ddof=1)) / math.sqrt(n)
    q = float(student_t.ppf(1 - (1 - confidence) / 2, n - 1))
    lo, hi = math.exp(mean - q * se), math.exp(mean + q * se)
    text = f"{_pct(math.exp(mean))} over {n} pairs, interval {_pct(lo)} … {_pct(hi)}"
    if lo > 1 and hi >= 1 + threshold:
        return Confirmation(name, True, f"{text}: confirmed", n, math.exp(mean), lo, hi, confidence)
    if lo <= 1:
        why = "the paired rounds show no slowdown they can vouch for"
    else:
        why = f"a slowdown, but shown to be below the {threshold:.0%} threshold"
    return Confirmation(name, False, f"{text}: not confirmed ({why})", n, math.exp(mean), lo, hi, confidence)
