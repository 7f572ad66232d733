"""Two levels of noise for comparisons across runs: rounds within a run, runs within a side (pure functions).

Each run of a case is reduced to y = log(median of its rounds) and the within-run variance v of y
(McKean-Schrader: the distribution-free order-statistic interval of the median, in log space). Runs of
one side scatter around the side's level by a between-run variance tau^2, which a single run cannot
show: it is estimated from every group of runs of the same code on the same machine (the baseline
window, the current side when it has several runs, a history window) with the DerSimonian-Laird
moment estimator, each group keeping its own level (a one-way random-effects model with the group as a
fixed effect). A side's level is the random-effects mean of its runs (weights 1/(v + tau^2)), so a side
of one run carries tau^2 in full: its run is one draw from the machine's run-to-run scatter.

The interval of the time ratio is exp(d ± q·se) with d the difference of the levels, se² the sum of
both sides' variances and q a Student t quantile on the degrees of freedom of tau^2 (runs minus
groups): with five runs in the window, four. Without any between-run information (one run per side,
no history) there is no interval across runs: see :func:`judge_across`.

Cuts at change points (:func:`window_start`) reuse the step detection of :mod:`reports.history`
(asv's ``step_detect`` idea). Like asv's module, everything here takes plain numbers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import norm
from scipy.stats import t as student_t

from reports.steps import detect_steps

__all__ = [
    "Across",
    "RunSummary",
    "Verdict",
    "aa_false_alarms",
    "across",
    "dl_tau2",
    "judge_across",
    "mde_across",
    "run_summary",
    "side_level",
    "window_start",
]

#: probability with which a slowdown of the MDE would be flagged.
POWER = 0.80
#: fewest finite rounds for a run's median to count.
MIN_ROUNDS = 3


@dataclass(frozen=True)
class RunSummary:
    """One run of one case: log of the median and the within-run variance of that log."""

    log_median: float
    var: float
    rounds: int


def run_summary(rounds: Sequence[float]) -> RunSummary | None:
    """log(median) and its within-run variance (McKean-Schrader order statistics); None below MIN_ROUNDS."""
    x = np.sort(np.asarray([r for r in rounds if math.isfinite(r) and r > 0], dtype=float))
    n = x.size
    if n < MIN_ROUNDS:
        return None
    z = float(norm.ppf(0.975))
    c = max(1, round((n + 1) / 2 - z * math.sqrt(n / 4)))
    lo, hi = math.log(x[c - 1]), math.log(x[n - c])
    se = (hi - lo) / (2 * z)
    return RunSummary(float(math.log(np.median(x))), se * se, int(n))


def dl_tau2(groups: Sequence[Sequence[RunSummary]]) -> tuple[float, int]:
    """Between-run variance tau^2 (DerSimonian-Laird, each group its own level) and its degrees of freedom."""
    q = 0.0
    c = 0.0
    df = 0
    for runs in groups:
        if len(runs) < 2:
            continue
        w = np.array([1 / max(r.var, 1e-12) for r in runs])
        y = np.array([r.log_median for r in runs])
        mean = float((w * y).sum() / w.sum())
        q += float((w * (y - mean) ** 2).sum())
        c += float(w.sum() - (w * w).sum() / w.sum())
        df += len(runs) - 1
    if df == 0:
        return math.nan, 0
    return max(0.0, (q - df) / c) if c > 0 else 0.0, df


def side_level(runs: Sequence[RunSummary], tau2: float) -> tuple[float, float]:
    """Random-effects mean of a side's log medians and its variance (tau^2 nan counts as 0: within-run only)."""
    between = tau2 if math.isfinite(tau2) else 0.0
    w = np.array([1 / (r.var + between) if r.var + between > 0 else 1e12 for r in runs])
    y = np.array([r.log_median for r in runs])
    return float((w * y).sum() / w.sum()), float(1 / w.sum())


@dataclass(frozen=True)
class Across:
    """A case compared across runs: ratio of levels, its interval and what it rests on."""

    ratio: float  # exp(level_cur - level_base): > 1 means slower
    ci_low: float  # nan when the between-run noise is unknown
    ci_high: float
    se: float  # standard error of the log ratio, both levels of noise
    df: int  # degrees of freedom of tau^2; 0: between-run noise unknown
    tau: float  # between-run standard deviation of log time (nan when unknown)
    runs_base: int
    runs_cur: int
    confidence: float
    median_base: float  # exp(level), seconds
    median_cur: float

    @property
    def between_known(self) -> bool:
        """Whether tau^2 was estimated from some group of several runs."""
        return self.df > 0


def across(
    base: Sequence[RunSummary],
    cur: Sequence[RunSummary],
    history: Sequence[Sequence[RunSummary]] = (),
    *,
    confidence: float = 0.99,
    scatter: Sequence[Sequence[RunSummary]] | None = None,
) -> Across:
    """Compare two sides of runs with tau^2 from both sides' own runs and any history groups.

    `scatter`, when given, replaces the base side's own runs in tau^2's estimate (e.g. a whole baseline
    window when the level comes only from its runs after a change point).
    """
    if not base or not cur:
        raise ValueError("each side needs at least one run")
    tau2, df = dl_tau2([*(scatter if scatter is not None else [base]), cur, *history])
    level_b, var_b = side_level(base, tau2)
    level_c, var_c = side_level(cur, tau2)
    d, se = level_c - level_b, math.sqrt(var_b + var_c)
    if df > 0:
        q = float(student_t.ppf(1 - (1 - confidence) / 2, df))
        lo, hi = math.exp(d - q * se), math.exp(d + q * se)
    else:
        lo = hi = math.nan
    return Across(
        ratio=math.exp(d),
        ci_low=lo,
        ci_high=hi,
        se=se,
        df=df,
        tau=math.sqrt(tau2) if math.isfinite(tau2) else math.nan,
        runs_base=len(base),
        runs_cur=len(cur),
        confidence=confidence,
        median_base=math.exp(level_b),
        median_cur=math.exp(level_c),
    )


def mde_across(est: Across, power: float = POWER) -> float:
    """Smallest slowdown flagged with probability `power`: exp((q + t_power)·se) - 1; inf when tau is unknown."""
    if not est.between_known:
        return math.inf
    q = float(student_t.ppf(1 - (1 - est.confidence) / 2, est.df))
    return math.expm1((q + float(student_t.ppf(power, est.df))) * est.se)


@dataclass(frozen=True)
class Verdict:
    """A verdict across runs, why, and whether the case goes to the confirmation step."""

    verdict: str
    reason: str
    mde: float
    confirm: bool  # estimated slower and a slowdown of t not ruled out: re-time it base/head alternately


def _pct(ratio: float) -> str:
    """'+12%' for a time ratio."""
    return f"{round((ratio - 1) * 100):+d}%"


def judge_across(est: Across, threshold: float) -> Verdict:
    """Verdict of one case across runs.

    ``regression``: the interval lies above 1 (a slowdown at the interval's level) **and** the point
    estimate is at least 1 + t; ``improvement`` the mirror image; ``unchanged``: the interval lies inside
    1/(1+t) … 1+t and the MDE across runs is at most t; ``inconclusive`` otherwise, and always when the
    between-run noise is unknown. A case goes to confirmation when it is estimated slower (ratio > 1) and
    the runs cannot rule out a slowdown of the threshold (the interval reaches 1 + t, or there is none).
    """
    upper, lower = 1 + threshold, 1 / (1 + threshold)
    mde = mde_across(est)
    confirm = est.ratio > 1 and not (est.between_known and est.ci_high < upper)
    change = f"{_pct(est.ratio)} time across runs"
    if not est.between_known:
        return Verdict(
            "inconclusive",
            f"{change}; between-run noise unknown (one run per side and no history): not judged across runs",
            mde,
            confirm,
        )
    change += f", interval {_pct(est.ci_low).removesuffix('%')} … {_pct(est.ci_high)}"
    if est.ci_low > 1 and est.ratio >= upper:
        why = f"a slowdown, estimated at or beyond the {threshold:.0%} threshold"
        return Verdict("regression", f"{change}: {why}", mde, True)
    if est.ci_high < 1 and est.ratio <= lower:
        return Verdict("improvement", f"{change}: a speed-up beyond {lower - 1:+.0%}", mde, False)
    if lower < est.ci_low and est.ci_high < upper:
        if mde <= threshold:
            return Verdict("unchanged", f"{change}, inside ±{threshold:.0%}", mde, False)
        why = f"inside ±{threshold:.0%}, but across runs only {mde:.0%} could be seen"
        return Verdict("inconclusive", f"{change}, {why}", mde, False)
    if est.ci_low > 1:
        why = f"a slowdown, but estimated below the {threshold:.0%} threshold"
    elif confirm:
        why = "a slowdown of the threshold cannot be ruled out across runs: to be confirmed"
    else:
        why = "not decided by the runs at hand"
    return Verdict("inconclusive", f"{change}: {why}", mde, confirm)


#: fewest runs a window keeps after a change point; with fewer, the change point is reported, not cut at.
MIN_RUNS_AFTER_STEP = 3


def window_start(log_medians: Sequence[float], min_change: float = 0.05) -> tuple[int, list[int]]:
    """Where a window of runs should start (after its latest change point) and every change point found.

    The window starts at the latest change point that leaves at least MIN_RUNS_AFTER_STEP runs after it.
    """
    steps = detect_steps([math.exp(y) for y in log_medians], min_change=min_change)
    usable = [s for s in steps if len(log_medians) - s >= MIN_RUNS_AFTER_STEP]
    return (usable[-1] if usable else 0), steps


def aa_false_alarms(runs: Sequence[RunSummary], threshold: float, confidence: float) -> tuple[int, int]:
    """A/A within a window: each run against the others (leave one out); (regressions flagged, pairs judged)."""
    if len(runs) < 3:
        return 0, 0
    flagged = 0
    for i, run in enumerate(runs):
        others = [r for j, r in enumerate(runs) if j != i]
        flagged += judge_across(across(others, [run], confidence=confidence), threshold).verdict == "regression"
    return flagged, len(runs)
