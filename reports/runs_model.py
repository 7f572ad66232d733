"""Two levels of noise for comparisons across runs: rounds within a run, runs within a side (pure functions).

Each run of a case is reduced to y = log(median of its rounds) and the within-run variance v of y
(McKean-Schrader: the distribution-free order-statistic interval of the median, in log space). Runs of
one side scatter around the side's level by a between-run variance tau^2, which a single run cannot
show: it is estimated from every group of runs of the same code on the same machine (the baseline
window, the current side when it has several runs, a history window) with the DerSimonian-Laird
moment estimator, each group keeping its own level (a one-way random-effects model with the group as a
fixed effect). A side's level is the random-effects mean of its runs (weights 1/(v + tau^2)), so a side
of one run carries tau^2 in full: its run is one draw from the machine's run-to-run scatter.

A window of five runs gives one case's tau^2 only four degrees of freedom (runs minus groups). The runs
of one machine move together, so the cases of a comparison lend each other theirs: each case's
run-level variance s^2 = Q/c (tau^2 plus the within-run part df/c) is moderated toward the machine's
s0^2 with d0 prior degrees of freedom, both estimated from the spread of every case's s^2 (empirical
Bayes with a scaled inverse chi-square prior, Smyth's limma): s~^2 = (df·s^2 + d0·s0^2)/(df + d0) on
df + d0 degrees of freedom, d0 at most the other cases' degrees of freedom (:func:`machine_prior`,
:func:`moderate`). Cases whose scatter differs more than sampling explains get a small d0 and keep
mostly their own.

The interval of the time ratio is exp(d ± q·se) with d the difference of the levels, se² the sum of
both sides' variances and q a Student t quantile on those degrees of freedom. Without any between-run
information (one run per side, no history) there is no interval across runs: see :func:`judge_across`.

Cuts at change points (:func:`window_start`) reuse the step detection of :mod:`reports.history`
(asv's ``step_detect`` idea). Like asv's module, everything here takes plain numbers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq
from scipy.special import digamma, polygamma
from scipy.stats import norm
from scipy.stats import t as student_t

from reports.steps import detect_steps

__all__ = [
    "Across",
    "Between",
    "Prior",
    "RunSummary",
    "Verdict",
    "aa_false_alarms",
    "across",
    "between_groups",
    "dl_between",
    "dl_tau2",
    "judge_across",
    "machine_prior",
    "mde_across",
    "moderate",
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


@dataclass(frozen=True)
class Between:
    """One case's between-run moments (DerSimonian-Laird): run-level variance Q/c, its within-run part df/c, df."""

    total: float  # Q/c: tau^2 plus the typical within-run variance of a run's log median
    within: float  # df/c
    df: int  # runs minus groups

    @property
    def tau2(self) -> float:
        """DerSimonian-Laird's tau^2 = (Q - df)/c, at least 0; nan without degrees of freedom."""
        return max(0.0, self.total - self.within) if self.df else math.nan


def dl_between(groups: Sequence[Sequence[RunSummary]]) -> Between:
    """Between-run moments of one case from groups of runs of the same code (each group its own level)."""
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
    if df == 0 or c <= 0:
        return Between(math.nan if df == 0 else 0.0, math.nan if df == 0 else 0.0, df)
    return Between(q / c, df / c, df)


def dl_tau2(groups: Sequence[Sequence[RunSummary]]) -> tuple[float, int]:
    """Between-run variance tau^2 (DerSimonian-Laird, each group its own level) and its degrees of freedom."""
    between = dl_between(groups)
    return between.tau2, between.df


@dataclass(frozen=True)
class Prior:
    """The machine's run-level variance s0^2 with d0 prior degrees of freedom, from the cases of one comparison."""

    total: float  # s0^2
    df: float  # d0; inf when the cases' s^2 differ no more than their sampling noise
    cases: int  # cases it was estimated from
    df_sum: int  # their degrees of freedom together


#: the range in which d0/2 is solved for; beyond it d0 is infinite (the cases agree) or nil (nothing to lend).
HALF_D0_MIN, HALF_D0_MAX = 1e-8, 1e8


def _trigamma(x: float) -> float:
    """The trigamma function."""
    return float(polygamma(1, x))


def machine_prior(cases: Sequence[Between]) -> Prior | None:
    """Empirical-Bayes prior of the cases' run-level variances (Smyth 2004, limma's fitFDist); None below 2 cases.

    With e = log s^2 - digamma(df/2) + log(df/2) per case: trigamma(d0/2) = var(e) - mean(trigamma(df/2)) and
    log s0^2 = mean(e) + digamma(d0/2) - log(d0/2). When var(e) is no more than sampling explains, d0 is
    infinite (the cases share one variance) and s0^2 is their pooled variance, sum(df·s^2)/sum(df).
    """
    usable = [b for b in cases if b.df > 0 and b.total > 0 and math.isfinite(b.total)]
    if len(usable) < 2:
        return None
    d = np.array([b.df for b in usable], dtype=float)
    e = np.log([b.total for b in usable]) - digamma(d / 2) + np.log(d / 2)
    excess = float(e.var(ddof=1)) - float(np.mean([_trigamma(x / 2) for x in d]))
    df_sum = int(d.sum())
    if excess <= _trigamma(HALF_D0_MAX):  # no more spread than sampling explains (d0 beyond any use)
        pooled = sum(b.df * b.total for b in usable) / df_sum
        return Prior(float(pooled), math.inf, len(usable), df_sum)
    half = (
        HALF_D0_MIN
        if excess >= _trigamma(HALF_D0_MIN)
        else brentq(lambda x: _trigamma(x) - excess, HALF_D0_MIN, HALF_D0_MAX)
    )
    d0 = 2 * half
    return Prior(float(math.exp(e.mean() + digamma(half) - math.log(half))), d0, len(usable), df_sum)


def moderate(own: Between, prior: Prior | None) -> tuple[float, int]:
    """A case's tau^2 moderated toward the machine's and its degrees of freedom (df + d0).

    d0 is the prior's, at most the other cases' degrees of freedom (the prior knows no more than their runs),
    rounded down. Without a prior, or without runs of its own to scale it (df 0), the case's own estimate.
    """
    if prior is None or own.df == 0:
        return own.tau2, own.df
    d0 = int(min(prior.df, max(prior.df_sum - own.df, 0)))
    if d0 == 0:
        return own.tau2, own.df
    total = (own.df * own.total + d0 * prior.total) / (own.df + d0)
    return max(0.0, total - own.within), own.df + d0


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
    df_case: int = 0  # degrees of freedom of the case's own runs (df minus what the machine's prior lent)
    tau_case: float = math.nan  # between-run sd from the case's own runs alone

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
    prior: Prior | None = None,
) -> Across:
    """Compare two sides of runs with tau^2 from both sides' own runs and any history groups.

    `scatter`, when given, replaces the base side's own runs in tau^2's estimate (e.g. a whole baseline
    window when the level comes only from its runs after a change point). `prior`, the machine's
    run-level variance from every case of the comparison (:func:`machine_prior`), moderates tau^2.
    """
    if not base or not cur:
        raise ValueError("each side needs at least one run")
    own = dl_between(between_groups(base, cur, history, scatter))
    tau2, df = moderate(own, prior)
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
        df_case=own.df,
        tau_case=math.sqrt(own.tau2) if math.isfinite(own.tau2) else math.nan,
    )


def between_groups(
    base: Sequence[RunSummary],
    cur: Sequence[RunSummary],
    history: Sequence[Sequence[RunSummary]] = (),
    scatter: Sequence[Sequence[RunSummary]] | None = None,
) -> list[Sequence[RunSummary]]:
    """The groups of runs of one code that tau^2 is estimated from (as :func:`across` takes them)."""
    return [*(scatter if scatter is not None else [base]), cur, *history]


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


def aa_false_alarms(
    runs: Sequence[RunSummary], threshold: float, confidence: float, prior: Prior | None = None
) -> tuple[int, int]:
    """A/A within a window: each run against the others (leave one out); (regressions flagged, pairs judged)."""
    if len(runs) < 3:
        return 0, 0
    flagged = 0
    for i, run in enumerate(runs):
        others = [r for j, r in enumerate(runs) if j != i]
        est = across(others, [run], confidence=confidence, prior=prior)
        flagged += judge_across(est, threshold).verdict == "regression"
    return flagged, len(runs)
