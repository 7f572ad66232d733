"""reports.decide: the gate's decision rule and MDE, with literal samples (the issue's three cases first)."""

from __future__ import annotations

import json
import math

import pytest

from reports.compare import CaseResult, Comparison, Options, compare, resolution_line, to_json, to_markdown
from reports.decide import (
    decide,
    interval_confidence,
    min_two_sided_p,
    minimum_detectable_effect,
    rank_test_rounds,
    resamples_for,
    rounds_to_decide,
)
from reports.stats import CaseStats, relative_iqr
from tests.literal_runs import bench, run

# Literal per-round times (seconds), drawn once from log-normal distributions and rounded; no ties.
# matmul n=1024 on a 2-core VM: median 5.24 ms, IQR/median 24 %.
BASE25 = [0.004647, 0.005272, 0.006266, 0.003841, 0.005138, 0.006688, 0.005746, 0.004438, 0.00452, 0.005285,
          0.00679, 0.004835, 0.006291, 0.00435, 0.004896, 0.004886, 0.005985, 0.00542, 0.006764, 0.005217]  # fmt: skip
# The same case 80 % slower (median 9.41 ms), IQR/median 25 %.
SLOW80 = [0.01169, 0.008016, 0.01065, 0.009588, 0.00983, 0.009178, 0.0109, 0.007049, 0.007422, 0.008128,
          0.01138, 0.007229, 0.00808, 0.009237, 0.00771, 0.009713, 0.01021, 0.01045, 0.007782, 0.009936]  # fmt: skip
# A fresh draw of BASE25's distribution (an A/A pair), IQR/median 26 %.
AA25 = [0.005971, 0.004578, 0.00642, 0.005347, 0.004762, 0.005253, 0.005104, 0.006684, 0.007437, 0.003715,
        0.004719, 0.006283, 0.009325, 0.005854, 0.004737, 0.004435, 0.005706, 0.006069, 0.005279, 0.003983]  # fmt: skip
# 30 rounds, median 1 ms, IQR/median 1 %.
BASE1 = [0.00099354, 0.00098496, 0.0010125, 0.001001, 0.00099084, 0.00099706, 0.0010038, 0.00098856, 0.00098987,
         0.0010041, 0.00099496, 0.0010084, 0.00099716, 0.00099772, 0.0010044, 0.001011, 0.001007, 0.0010055,
         0.00099153, 0.00099562, 0.0010089, 0.00098743, 0.00099862, 0.0010031, 0.00099365, 0.0010025, 0.00099743,
         0.0010077, 0.0010015, 0.00099498]  # fmt: skip
# 30 rounds 5 % slower (median 1.049 ms), IQR/median 1 %.
PLUS5 = [0.0010444, 0.001047, 0.001053, 0.0010522, 0.0010523, 0.0010303, 0.0010504, 0.0010447, 0.0010555, 0.001048,
         0.0010497, 0.0010476, 0.0010417, 0.0010507, 0.0010318, 0.0010591, 0.0010392, 0.001059, 0.0010428, 0.0010421,
         0.001039, 0.0010479, 0.001041, 0.0010495, 0.0010501, 0.0010588, 0.0010537, 0.0010587, 0.0010418,
         0.0010552]  # fmt: skip


def one(base: list[float], cur: list[float], options: Options | None = None) -> CaseResult:
    """The single case of a one-case comparison."""
    (case,) = compare(run(bench("a", base)), run(bench("a", cur)), options).cases
    return case


def stats(ratio: float, low: float, high: float, rounds: int = 30) -> CaseStats:
    """A CaseStats with the given ratio and interval (medians and p are not used by decide)."""
    return CaseStats(rounds, rounds, 1.0, ratio, ratio, low, high, 1e-9, 0.1, 0.1)


def test_the_literal_samples_have_the_spreads_the_issue_names() -> None:
    assert relative_iqr(BASE25) == pytest.approx(0.24, abs=0.01)
    assert relative_iqr(SLOW80) == pytest.approx(0.25, abs=0.01)
    assert relative_iqr(AA25) == pytest.approx(0.26, abs=0.01)
    assert relative_iqr(BASE1) == pytest.approx(0.01, abs=0.001)
    assert relative_iqr(PLUS5) == pytest.approx(0.01, abs=0.001)


def test_an_80_percent_slowdown_with_25_percent_spread_is_a_regression() -> None:
    # The old gate called this `noisy` (IQR/median > 0.2) and exited 0.
    case = one(BASE25, SLOW80)
    assert case.verdict == "regression"
    assert case.stats.ratio == pytest.approx(0.0094125 / 0.0052445)
    assert case.stats.ci_low > 1.10
    assert case.reason.startswith("+79% time, interval +")
    assert case.reason.endswith("above the 10% threshold")
    assert case.confidence == pytest.approx(0.99)


def test_an_a_a_pair_with_25_percent_spread_is_not_a_regression_and_says_it_cannot_tell() -> None:
    case = one(BASE25, AA25)
    assert case.verdict == "inconclusive"
    assert case.stats.ci_low < 1.10 < case.stats.ci_high  # a wide interval, never a false alarm
    assert case.mde > 0.10  # 20 rounds at this spread cannot see a 10 % slowdown ...
    assert "about" in case.reason and "rounds per side would likely decide (now 20/20)" in case.reason
    assert case.rounds_needed is not None and case.rounds_needed > 20  # ... more rounds could


def test_a_5_percent_slowdown_with_1_percent_spread_and_30_rounds_is_seen_at_a_3_percent_threshold() -> None:
    case = one(BASE1, PLUS5, Options(threshold=0.03))
    assert case.verdict == "regression"
    assert 1.03 < case.stats.ci_low < 1.05 < case.stats.ci_high
    assert case.mde < 0.03
    # At the default 10 % threshold the same change is inside the band: unchanged, not a regression.
    assert one(BASE1, PLUS5).verdict == "unchanged"


def test_improvement_mirrors_regression() -> None:
    case = one(SLOW80, BASE25)
    assert case.verdict == "improvement"
    assert case.stats.ci_high < 1 / 1.10
    assert "below -9% (1/(1+10%))" in case.reason
    assert compare(run(bench("a", SLOW80)), run(bench("a", BASE25))).exit_code == 0


def test_too_few_rounds_are_inconclusive_out_of_the_family_and_see_nothing() -> None:
    result = compare(run(bench("a", BASE1[:4]), bench("b", BASE1)), run(bench("a", PLUS5[:4]), bench("b", PLUS5)))
    few = next(c for c in result.cases if c.name.endswith("-a]"))
    assert few.verdict == "inconclusive"
    assert few.reason == "too few rounds (4/4; at least 5 per side are judged)"
    assert math.isinf(few.mde) and math.isnan(few.p_holm)
    other = next(c for c in result.cases if c.name.endswith("-b]"))
    assert other.confidence == pytest.approx(0.99)  # one judged case: no Bonferroni widening
    assert other.p_holm == pytest.approx(other.stats.p_value)


def test_with_few_rounds_the_rank_test_cannot_reach_alpha() -> None:
    # 4 vs 4 rounds: the smallest two-sided p is 2/C(8, 4) = 0.029 > 0.01, even for a clear doubling.
    case = one(BASE1[:4], [2 * x for x in BASE1[:4]], Options(min_rounds=4))
    assert case.verdict == "inconclusive"
    assert "rank test is not significant after Holm" in case.reason
    assert case.reason.endswith("at least 5 rounds per side are needed")
    assert math.isinf(case.mde)


def test_holm_across_cases_can_withhold_a_regression() -> None:
    # 6 vs 6, fully separated: exact p = 2/C(12, 6) = 0.0022 < 0.01 alone ...
    base6, slow6 = BASE1[:6], [2 * x for x in BASE1[:6]]
    assert one(base6, slow6).verdict == "regression"
    # ... but beside 9 unchanged cases Holm multiplies it by 10 (0.022), and each interval is at 1 - 0.01/10.
    others = [bench(f"u{i}", BASE1) for i in range(9)]
    result = compare(run(bench("a", base6), *others), run(bench("a", slow6), *others))
    case = next(c for c in result.cases if c.name.endswith("-a]"))
    assert case.p_holm == pytest.approx(10 * 2 / math.comb(12, 6))
    assert case.confidence == pytest.approx(0.999)
    assert case.verdict == "inconclusive"
    assert "rank test is not significant after Holm (p 0.022 ≥ 0.01 over 10 cases)" in case.reason
    assert case.reason.endswith("at least 7 rounds per side are needed")
    assert result.exit_code == 0


def test_mde_shrinks_with_more_rounds_and_grows_with_spread() -> None:
    # The same 10 values 1x, 2x and 4x over: more rounds of the same distribution.
    mdes = [one(BASE1[:10] * k, BASE1[10:20] * k).mde for k in (1, 2, 4)]
    assert mdes[0] > mdes[1] > mdes[2] > 0

    # The same rounds with their deviations from the median tripled: more spread.
    def wider(xs: list[float]) -> list[float]:
        return [0.001 + 3 * (x - 0.001) for x in xs]

    assert one(wider(BASE1), wider(PLUS5)).mde > one(BASE1, PLUS5).mde


def test_mde_from_the_interval_half_width() -> None:
    # Interval 0.95 … 1.05 at 99 % (z = 2.576): s = log(1.05/0.95)/2/z; MDE = exp((z + 0.8416)·s) - 1.
    cs = stats(1.0, 0.95, 1.05)
    s = math.log(1.05 / 0.95) / 2 / 2.5758
    assert minimum_detectable_effect(cs, 0.01, 1) == pytest.approx(math.exp((2.5758 + 0.8416) * s) - 1, rel=1e-3)
    assert minimum_detectable_effect(cs, 0.01, 1) == pytest.approx(0.0686, abs=1e-4)
    assert math.isinf(minimum_detectable_effect(stats(1.0, 0.95, 1.05, rounds=4), 0.01, 1))


def test_decide_places_the_interval_against_the_band() -> None:
    assert decide(stats(1.5, 1.2, 1.8), 1e-6, 0.10, 0.01, 1).verdict == "regression"
    assert decide(stats(1.5, 1.2, 1.8), 0.5, 0.10, 0.01, 1).verdict == "inconclusive"  # not significant
    assert decide(stats(0.6, 0.5, 0.7), 1e-6, 0.10, 0.01, 1).verdict == "improvement"
    inside = decide(stats(1.01, 0.98, 1.04), 0.5, 0.10, 0.01, 1)
    assert (inside.verdict, inside.reason) == ("unchanged", "+1% time, interval -2 … +4%, inside ±10%")
    # A significant slowdown below the threshold is not a regression.
    assert decide(stats(1.05, 1.03, 1.07), 1e-9, 0.10, 0.01, 1).verdict == "unchanged"
    straddle = decide(stats(1.12, 1.02, 1.25), 1e-6, 0.10, 0.01, 1)
    assert straddle.verdict == "inconclusive"
    # half-width h = log(1.25/1.02)/2 = 0.1017, distance to the edge d = log(1.12/1.10) = 0.0180:
    # 30 · (h · (1 + 0.8416/2.5758) / d)^2 = 1682 rounds per side.
    assert straddle.rounds_needed == 1682
    assert straddle.reason == (
        "+12% time, interval +2 … +25% straddles the 10% threshold; "
        "about 1682 rounds per side would likely decide (now 30/30)"
    )
    wide = decide(stats(1.0, 0.8, 1.3), 0.5, 0.10, 0.01, 1)
    assert wide.verdict == "inconclusive" and "spans the whole ±10% band" in wide.reason
    assert "straddles -9%" in decide(stats(0.92, 0.85, 0.97), 1e-3, 0.10, 0.01, 1).reason


def test_an_interval_inside_the_band_is_not_unchanged_when_the_threshold_was_out_of_sight() -> None:
    # 0.92 … 1.09 lies inside ±10 %, but its half-width h = log(1.09/0.92)/2 = 0.0848 makes the MDE
    # exp(1.327·h) - 1 = 12 %: the gate could not have seen a 10 % slowdown.
    cs = stats(1.0, 0.92, 1.09)
    assert minimum_detectable_effect(cs, 0.01, 1) == pytest.approx(0.119, abs=1e-3)
    decision = decide(cs, 0.5, 0.10, 0.01, 1)
    assert decision.verdict == "inconclusive"
    assert "inside ±10%, but this comparison could see only slowdowns of 12% or more" in decision.reason
    # 30 · (1.327·h / log(1.1))^2 = 42 rounds per side bring the MDE down to 10 %.
    assert decision.rounds_needed == 42


def test_rounds_to_decide_gives_up_on_the_edge() -> None:
    assert rounds_to_decide(stats(1.10, 1.0, 1.2), 0.10, 0.01, 1) is None
    assert rounds_to_decide(stats(1.0, math.nan, math.nan), 0.10, 0.01, 1) is None
    reason = decide(stats(1.10, 1.0, 1.2), 1e-6, 0.10, 0.01, 1).reason
    assert reason.endswith("too close to the edge for more rounds to decide (now 30/30)")


def test_rank_test_limits_and_levels() -> None:
    assert min_two_sided_p(5, 5) == pytest.approx(2 / 252)
    assert rank_test_rounds(0.01, 1) == 5
    assert rank_test_rounds(0.01, 20) == 8  # 7 rounds: 2/C(14, 7) · 20 = 0.0117 ≥ 0.01
    assert interval_confidence(0.01, 4) == pytest.approx(0.9975)
    assert interval_confidence(0.01, 0) == pytest.approx(0.99)
    assert resamples_for(0.01, 1, 2000) == 4000  # 20 replicates beyond each 0.5 % tail
    assert resamples_for(0.01, 16, 2000) == 64000
    assert resamples_for(0.01, 1000, 2000) == 100_000  # capped
    assert resamples_for(0.5, 1, 2000) == 2000


def case_with(mde: float, threshold: float = 0.10) -> CaseResult:
    """A compared case with the given MDE."""
    return CaseResult("x", "matmul", None, None, {}, "unchanged", "", threshold, stats=stats(1.0, 0.99, 1.01), mde=mde)


def test_resolution_line_counts_cases_that_could_see_their_threshold() -> None:
    cases = [case_with(0.03)] * 13 + [case_with(0.053), case_with(0.2), case_with(math.inf)]
    cases.append(CaseResult("y", "matmul", None, None, {}, "new", "", 0.10))  # not compared: not counted
    comparison = Comparison("b", "c", cases, [], Options())
    assert resolution_line(comparison) == (
        "this gate could see slowdowns of 6% or more in 14 of 16 cases; 2 cases need more rounds"
    )
    assert resolution_line(Comparison("b", "c", [case_with(0.2)], [], Options())) == (
        "this gate could not see a slowdown of the threshold in any of 1 cases; 1 case needs more rounds"
    )
    assert resolution_line(Comparison("b", "c", [], [], Options())) == "no case was compared"
    # Per-workload thresholds: an MDE of 15 % sees a 20 % threshold.
    assert "in 1 of 1 cases" in resolution_line(Comparison("b", "c", [case_with(0.15, 0.2)], [], Options()))


def test_markdown_and_json_carry_the_mde_and_the_resolution() -> None:
    result = compare(run(bench("r", BASE25), bench("a", BASE25)), run(bench("r", SLOW80), bench("a", AA25)))
    md = to_markdown(result)
    lines = md.splitlines()
    assert lines[4].startswith("Resolution: this gate could ")
    header = next(line for line in lines if line.startswith("| verdict"))
    columns = [c.strip() for c in header.strip("|").split("|")]
    assert columns[5:8] == ["interval", "MDE", "p (Holm)"]
    rows = [line for line in lines if line.startswith("| 🔴") or line.startswith("| 🟡")]
    assert len(rows) == 2
    regression = [c.strip() for c in rows[0].strip("|").split("|")]
    assert regression[0] == "🔴 regression"
    assert regression[6] == f"{result.cases[0].mde:.1%}"
    assert "99.5% bootstrap interval" in md and "Bonferroni over 2 judged cases" in md

    verdicts = json.loads(json.dumps(to_json(result)))
    assert verdicts["summary"]["regression"] == 1 and verdicts["summary"]["inconclusive"] == 1
    assert "noisy" not in verdicts["summary"]
    first = verdicts["cases"][0]
    assert first["mde"] == pytest.approx(result.cases[0].mde)
    assert first["confidence"] == pytest.approx(0.995)
    assert first["rounds_needed"] is None
    second = verdicts["cases"][1]
    assert second["verdict"] == "inconclusive" and second["rounds_needed"] > 20
    assert verdicts["resolution"]["cases"] == 2
    assert verdicts["resolution"]["line"] == resolution_line(result)
    assert set(verdicts["options"]) == {
        "threshold", "thresholds", "alpha", "min_rounds", "n_resamples", "seed", "allow_missing",
    }  # fmt: skip


def test_infinite_mde_is_null_in_json_and_infinity_in_markdown() -> None:
    result = compare(run(bench("a", BASE1[:3])), run(bench("a", PLUS5[:3])))
    assert to_json(result)["cases"][0]["mde"] is None
    row = next(line for line in to_markdown(result).splitlines() if line.startswith("| 🟡"))
    assert "| ∞ |" in row
