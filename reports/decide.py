"""The regression gate's decision rule and the minimum detectable effect (pure functions, no I/O).

For one baseline/current pair the gate has m *judged* cases (both sides have at least ``min_rounds``
finite rounds and a positive median). For each judged case with threshold t (10 % by default):

1. **Interval.** A seeded percentile bootstrap interval [lo, hi] of the time ratio
   median(current) / median(baseline) at confidence 1 - alpha/m (Bonferroni): all m intervals
   hold together with probability at least 1 - alpha, so every decision below, across the whole
   comparison, is wrong with probability at most alpha.
2. **Significance.** The two-sided Mann-Whitney U p-value, Holm-adjusted across the m judged cases.
3. **Verdict**, from where the interval lies against the band 1/(1+t) … 1+t:

   ``regression``    hi and lo both above 1 + t (the whole interval is a slowdown beyond the
                     threshold) **and** p_holm < alpha;
   ``improvement``   the mirror image: hi < 1/(1+t) and p_holm < alpha;
   ``unchanged``     1/(1+t) < lo and hi < 1 + t (the interval lies inside the band) **and** the
                     MDE is at most t (the comparison could have seen a slowdown of t);
   ``inconclusive``  everything else, with the reason: the interval straddles a band edge, or it is
                     beyond an edge but the rank test is not significant after Holm, or it is
                     inside the band but the MDE is above t; too few rounds; no usable data.

   The spread never vetoes a verdict: a large spread widens the interval, and a wide interval can
   only make a case inconclusive, never a regression.

**Minimum detectable effect (MDE).** The smallest slowdown this comparison would tell apart from no
change with probability ``POWER`` (80 %): its interval, at the same level, would exclude 1. With h
the half-width of the case's own bootstrap interval in log space, h = z·s where z = z(1 - alpha/(2m))
and s is the standard error of the log ratio, so MDE = exp((z + z_power)·s) - 1 = exp(h·(1 + z_power/z)) - 1.
The log ratio's error does not depend on the size of the change (both medians scale alike), so the
interval of the observed pair measures the resolution for any change. The MDE is infinite when the
rank test cannot reach alpha at all: with n and k rounds its smallest two-sided p is 2/C(n+k, n),
and Holm multiplies the first p it tests by m.

**Rounds to decide.** An interval shrinks as 1/sqrt(rounds). An undecided case would likely be
decided (80 %) once (z + z_power)·s falls below the distance d from the log ratio to the nearest band
edge (and below log(1+t) for ``unchanged``): rounds per side ≈ n·((z + z_power)·s/d)².
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy.stats import norm

from reports.stats import CaseStats

__all__ = [
    "POWER",
    "Decision",
    "decide",
    "interval_confidence",
    "min_two_sided_p",
    "minimum_detectable_effect",
    "rank_test_rounds",
    "resamples_for",
    "rounds_to_decide",
    "too_few_rounds",
]

#: probability with which a slowdown of the MDE would be seen.
POWER = 0.80
#: bootstrap replicates wanted beyond each end of the interval, so that its ends are stable.
TAIL_REPLICATES = 20
#: upper bound on bootstrap replicates per case (a full profile has ~100 cases).
MAX_RESAMPLES = 100_000
#: up to this many rounds on both sides together, min_two_sided_p counts C(n+k, n) exactly.
EXACT_COMB_ROUNDS = 1000
#: rounds-to-decide estimates above this are not given: the ratio sits too close to a band edge.
MAX_ROUNDS = 10_000


@dataclass(frozen=True)
class Decision:
    """A judged case's verdict, why, the smallest slowdown it could have seen, rounds to decide."""

    verdict: str
    reason: str
    mde: float  # fraction, e.g. 0.06 for 6 %; inf when no slowdown could have been seen
    rounds_needed: int | None = None  # rounds per side that would likely decide an inconclusive case


def interval_confidence(alpha: float, judged: int) -> float:
    """Confidence level of each case's interval: 1 - alpha/m (Bonferroni over the m judged cases)."""
    return 1 - alpha / max(judged, 1)


def resamples_for(alpha: float, judged: int, at_least: int) -> int:
    """Bootstrap replicates so that about TAIL_REPLICATES fall beyond each end (capped at MAX_RESAMPLES)."""
    tail = alpha / max(judged, 1) / 2
    return int(max(at_least, min(MAX_RESAMPLES, math.ceil(TAIL_REPLICATES / tail))))


def min_two_sided_p(rounds_base: int, rounds_cur: int) -> float:
    """Smallest two-sided exact Mann-Whitney p with these round counts: 2/C(n+k, n)."""
    if rounds_base < 1 or rounds_cur < 1:
        return 1.0
    if rounds_base + rounds_cur > EXACT_COMB_ROUNDS:
        # C(n+k, n) of millions of rounds is a number of millions of digits: take its logarithm instead.
        log_comb = (
            math.lgamma(rounds_base + rounds_cur + 1) - math.lgamma(rounds_base + 1) - math.lgamma(rounds_cur + 1)
        )
        return min(1.0, 2 * math.exp(-log_comb))
    return min(1.0, 2 / math.comb(rounds_base + rounds_cur, rounds_base))


def rank_test_rounds(alpha: float, judged: int) -> int:
    """Fewest rounds per side (equal on both) with which the rank test can reach alpha after Holm's factor m."""
    n = 1
    while min_two_sided_p(n, n) * max(judged, 1) >= alpha:
        n += 1
    return n


def _z_interval(confidence: float) -> float:
    """The normal quantile of a two-sided interval at `confidence`."""
    return float(norm.ppf(1 - (1 - confidence) / 2))


def _log_half_width(cs: CaseStats) -> float:
    """Half the width of the case's interval in log space (nan when there is none)."""
    if not (cs.ci_low > 0 and math.isfinite(cs.ci_low) and math.isfinite(cs.ci_high)):
        return math.nan
    return (math.log(cs.ci_high) - math.log(cs.ci_low)) / 2


def minimum_detectable_effect(cs: CaseStats, alpha: float, judged: int, power: float = POWER) -> float:
    """Smallest slowdown (a fraction) this case would tell from no change with probability `power`."""
    if min_two_sided_p(cs.rounds_base, cs.rounds_cur) * max(judged, 1) >= alpha:
        return math.inf
    half = _log_half_width(cs)
    if not math.isfinite(half):
        return math.inf
    z = _z_interval(interval_confidence(alpha, judged))
    return math.expm1(half * (1 + float(norm.ppf(power)) / z))


def rounds_to_decide(cs: CaseStats, threshold: float, alpha: float, judged: int, power: float = POWER) -> int | None:
    """Rounds per side with which this case's interval would likely clear the nearest band edge.

    None when it cannot be estimated (no interval) or would exceed MAX_ROUNDS: the ratio sits on an edge.
    """
    half = _log_half_width(cs)
    if not (math.isfinite(half) and cs.ratio > 0 and math.isfinite(cs.ratio)):
        return None
    edge = math.log1p(threshold)
    # Inside the band this distance is at most log(1+t), so MDE <= t (needed for `unchanged`) follows.
    distance = min(abs(math.log(cs.ratio) - edge), abs(math.log(cs.ratio) + edge))
    if distance <= 1e-12:
        return None
    z = _z_interval(interval_confidence(alpha, judged))
    needed = math.ceil(max(cs.rounds_base, cs.rounds_cur) * (half * (1 + float(norm.ppf(power)) / z) / distance) ** 2)
    needed = max(needed, rank_test_rounds(alpha, judged))
    return needed if needed <= MAX_ROUNDS else None


def too_few_rounds(rounds_base: int, rounds_cur: int, min_rounds: int) -> str | None:
    """The reason a case is not judged for lack of rounds, or None."""
    if min(rounds_base, rounds_cur) >= min_rounds:
        return None
    return f"too few rounds ({rounds_base}/{rounds_cur}; at least {min_rounds} per side are judged)"


def _pct(ratio: float) -> str:
    """A time ratio as a signed whole percentage change, e.g. '+12%'."""
    return f"{round((ratio - 1) * 100):+d}%"


def _interval(cs: CaseStats) -> str:
    """'+3 … +25%' for the case's interval."""
    return f"{_pct(cs.ci_low).removesuffix('%')} … {_pct(cs.ci_high)}"


def _more_rounds(rounds: int | None, cs: CaseStats) -> str:
    """'; about N rounds per side would likely decide (now a/b)', or why no number is given."""
    now = f"now {cs.rounds_base}/{cs.rounds_cur}"
    if rounds is None:
        return f"; the ratio is too close to the edge for more rounds to decide ({now})"
    return f"; about {rounds} rounds per side would likely decide ({now})"


def decide(cs: CaseStats, p_holm: float, threshold: float, alpha: float, judged: int) -> Decision:
    """Verdict of one judged case from its interval (at 1 - alpha/m), Holm-adjusted p and threshold."""
    mde = minimum_detectable_effect(cs, alpha, judged)
    if not (math.isfinite(cs.ratio) and math.isfinite(cs.ci_low) and math.isfinite(cs.ci_high)):
        return Decision("inconclusive", "no usable interval (median 0 or no finite rounds)", mde)
    upper, lower = 1 + threshold, 1 / (1 + threshold)
    significant = math.isfinite(p_holm) and p_holm < alpha
    band = f"±{threshold:.0%}"
    change = f"{_pct(cs.ratio)} time, interval {_interval(cs)}"
    if cs.ci_low > upper or cs.ci_high < lower:
        kind, where = ("regression", "above") if cs.ci_low > upper else ("improvement", "below")
        edge = f"the {threshold:.0%} threshold" if kind == "regression" else f"{lower - 1:+.0%} (1/(1+{threshold:.0%}))"
        if significant:
            return Decision(kind, f"{change} {where} {edge}", mde)
        reason = f"{change} {where} {edge}, but the rank test is not significant after Holm "
        reason += f"(p {p_holm:.2g} ≥ {alpha:g} over {judged} cases)"
        fewest = rank_test_rounds(alpha, judged)
        if fewest > min(cs.rounds_base, cs.rounds_cur):
            return Decision("inconclusive", f"{reason}; at least {fewest} rounds per side are needed", mde, fewest)
        return Decision("inconclusive", reason, mde)
    if lower < cs.ci_low and cs.ci_high < upper:
        if mde <= threshold:
            return Decision("unchanged", f"{change}, inside {band}", mde)
        rounds = rounds_to_decide(cs, threshold, alpha, judged)
        seen = "no slowdown" if math.isinf(mde) else f"only slowdowns of {mde:.0%} or more"
        return Decision(
            "inconclusive",
            f"{change}, inside {band}, but this comparison could see {seen}" + _more_rounds(rounds, cs),
            mde,
            rounds,
        )
    rounds = rounds_to_decide(cs, threshold, alpha, judged)
    if cs.ci_low <= lower and cs.ci_high >= upper:
        what = f"spans the whole {band} band"
    elif cs.ci_high >= upper:
        what = f"straddles the {threshold:.0%} threshold"
    else:
        what = f"straddles {lower - 1:+.0%}"
    return Decision("inconclusive", f"{change} {what}" + _more_rounds(rounds, cs), mde, rounds)
