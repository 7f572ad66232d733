"""The two-level model across runs (reports.runs_model): literal runs, known answers."""

from __future__ import annotations

import math

import pytest

from reports.runs_model import (
    Between,
    RunSummary,
    aa_false_alarms,
    across,
    dl_between,
    dl_tau2,
    judge_across,
    machine_prior,
    mde_across,
    moderate,
    run_summary,
    window_start,
)


def runs(*medians: float, var: float = 1e-6) -> list[RunSummary]:
    """Runs with these medians (seconds) and a small within-run variance of the log median."""
    return [RunSummary(math.log(m), var, 30) for m in medians]


def test_run_summary_uses_order_statistics_of_the_median() -> None:
    summary = run_summary([1.0, 2.0, 3.0, 4.0, 5.0])
    assert summary is not None and summary.rounds == 5
    assert summary.log_median == pytest.approx(math.log(3.0))
    # n = 5: c = round(3 - 1.96·sqrt(5/4)) = 1, so the interval is min … max: se = log(5/1) / (2·1.96)
    assert math.sqrt(summary.var) == pytest.approx(math.log(5.0) / (2 * 1.959964), rel=1e-5)
    assert run_summary([1.0, 2.0]) is None  # too few rounds
    assert run_summary([1.0, float("nan"), 0.0, 2.0]) is None  # only the finite positive rounds count


def test_between_run_variance_of_identical_runs_is_zero_and_of_scattered_runs_their_variance() -> None:
    assert dl_tau2([runs(1.0, 1.0, 1.0)]) == (0.0, 2)
    assert dl_tau2([runs(1.0)]) == (pytest.approx(math.nan, nan_ok=True), 0)
    tau2, df = dl_tau2([runs(1.0, 1.2, 0.9, 1.1), runs(2.0, 2.2)])  # each group keeps its own level
    assert df == 4
    logs = [math.log(x) for x in (1.0, 1.2, 0.9, 1.1)]
    ss = sum((y - sum(logs) / 4) ** 2 for y in logs) + (math.log(2.2) - math.log(2.0)) ** 2 / 2
    assert tau2 == pytest.approx(ss / 4 - 1e-6, rel=1e-3)  # equal weights: (Q - df)/c = SS/df - v


def test_one_run_per_side_and_no_history_is_never_judged_across_runs() -> None:
    est = across(runs(1.0), runs(2.0))
    assert est.df == 0 and not est.between_known and math.isnan(est.ci_low)
    assert mde_across(est) == math.inf
    verdict = judge_across(est, 0.10)
    assert verdict.verdict == "inconclusive" and "between-run noise unknown" in verdict.reason
    assert verdict.confirm  # +100 %: it goes to confirmation


def test_a_window_of_five_runs_against_a_slower_run() -> None:
    window = runs(1.00, 1.02, 0.98, 1.01, 0.99)
    est = across(window, runs(1.30), confidence=0.99)
    assert est.df == 4 and est.runs_base == 5
    assert est.ratio == pytest.approx(1.30, rel=1e-3)
    assert est.ci_low > 1.0
    assert judge_across(est, 0.10).verdict == "regression"
    # the same window against a run of the same code: no regression, and the A/A among the window flags none
    same = judge_across(across(window, runs(1.005), confidence=0.99), 0.10)
    assert same.verdict in ("unchanged", "inconclusive") and not same.confirm
    assert aa_false_alarms(window, 0.10, 0.99) == (0, 5)


def test_a_significant_slowdown_below_the_threshold_is_not_a_regression_but_one_at_it_is() -> None:
    window = runs(1.000, 1.002, 0.998, 1.001, 0.999)
    below = judge_across(across(window, runs(1.05)), 0.10)
    assert below.verdict == "unchanged" and not below.confirm  # +5 %, interval inside ±10 %
    wide = judge_across(across(runs(1.00, 1.03, 0.97, 1.02, 0.98), runs(1.09)), 0.10)
    assert wide.verdict == "inconclusive" and wide.confirm  # +9 %, and +10 % is not ruled out: confirm it
    at = judge_across(across(window, runs(1.1001)), 0.10)
    assert at.verdict == "regression" and at.confirm


def test_the_between_run_part_widens_the_interval_and_the_mde() -> None:
    quiet = across(runs(1.00, 1.01, 0.99, 1.00, 1.00), runs(1.0))
    noisy = across(runs(1.00, 1.20, 0.85, 1.10, 0.90), runs(1.0))
    assert noisy.tau > quiet.tau and mde_across(noisy) > mde_across(quiet) > 0
    # a single current run carries tau^2 in full: the interval is wider than the window's own scatter
    assert math.log(noisy.ci_high) - math.log(noisy.ratio) > noisy.tau


def test_history_lends_its_between_run_variance_to_single_runs() -> None:
    est = across(runs(1.0), runs(1.5), [runs(1.00, 1.01, 0.99, 1.02, 0.98)])
    assert est.df == 4 and est.between_known
    assert judge_across(est, 0.10).verdict == "regression"


def test_window_starts_after_the_latest_change_point_that_leaves_three_runs() -> None:
    logs = [math.log(x) for x in (1.0, 1.01, 0.99, 1.0, 2.0, 2.02, 1.98, 2.01)]
    start, steps = window_start(logs)
    assert steps == [4] and start == 4
    late = [math.log(x) for x in (1.0, 1.01, 0.99, 1.0, 1.01, 2.0, 2.02)]
    start, steps = window_start(late)
    assert steps == [5] and start == 0  # two runs after the step: reported, not cut at


def test_between_moments_split_the_run_level_variance_into_tau2_and_the_within_part() -> None:
    between = dl_between([runs(1.0, 1.2, 0.9, 1.1), runs(2.0)])  # a group of one run adds nothing
    logs = [math.log(x) for x in (1.0, 1.2, 0.9, 1.1)]
    ss = sum((y - sum(logs) / 4) ** 2 for y in logs)
    # equal within-run variances v: Q/c is the runs' sample variance SS/df, df/c is v
    assert between.df == 3 and between.total == pytest.approx(ss / 3) and between.within == pytest.approx(1e-6)
    assert between.tau2 == pytest.approx(ss / 3 - 1e-6)
    assert dl_between([runs(1.0), runs(2.0)]).df == 0 and math.isnan(dl_between([runs(1.0)]).tau2)


def test_machine_prior_of_cases_that_agree_is_their_pooled_variance_on_infinite_prior_df() -> None:
    # the same run-level variance in every case: var(e) = 0 is below trigamma(2) = 0.645, so d0 is infinite
    prior = machine_prior([Between(0.010, 0.001, 4), Between(0.012, 0.001, 4), Between(0.014, 0.001, 2)])
    assert prior is not None and prior.df == math.inf and prior.cases == 3 and prior.df_sum == 10
    assert prior.total == pytest.approx((4 * 0.010 + 4 * 0.012 + 2 * 0.014) / 10)  # 0.0116
    assert machine_prior([Between(0.01, 0.001, 4)]) is None  # one case lends nothing
    assert machine_prior([Between(0.01, 0.001, 4), Between(math.nan, math.nan, 0)]) is None


def test_machine_prior_of_cases_that_differ_lends_few_degrees_of_freedom() -> None:
    # variances 1:4:16 at 4 df: var(log s^2) = log(4)^2 = 1.922; minus trigamma(2) = 0.645 gives trigamma(d0/2) = 1.277
    prior = machine_prior([Between(0.01, 0.001, 4), Between(0.04, 0.001, 4), Between(0.16, 0.001, 4)])
    assert prior is not None and prior.df == pytest.approx(2.387, abs=1e-3)
    assert prior.total == pytest.approx(0.03263, rel=1e-3)  # exp(mean(e) + digamma(d0/2) - log(d0/2))
    tau2, df = moderate(Between(0.16, 0.001, 4), prior)
    assert df == 4 + 2  # d0 rounded down: a case unlike the others keeps mostly its own variance
    assert tau2 == pytest.approx((4 * 0.16 + 2 * 0.03263) / 6 - 0.001, rel=1e-3)


def test_moderation_lends_at_most_the_other_cases_degrees_of_freedom() -> None:
    prior = machine_prior([Between(0.01, 0.001, 4)] * 3)
    assert prior is not None and prior.total == pytest.approx(0.01) and prior.df == math.inf
    tau2, df = moderate(Between(0.04, 0.001, 4), prior)
    assert df == 12  # 4 of its own + 8 of the two other cases, not infinitely many
    assert tau2 == pytest.approx((4 * 0.04 + 8 * 0.01) / 12 - 0.001)  # 0.019
    assert moderate(Between(0.04, 0.001, 4), None) == (pytest.approx(0.039), 4)  # no prior: its own
    # a case without runs of its own to scale the prior stays unknown: never judged on within-run noise alone
    unknown = moderate(Between(math.nan, math.nan, 0), prior)
    assert math.isnan(unknown[0]) and unknown[1] == 0


def test_pooling_lets_a_five_run_window_see_a_real_slowdown_and_keeps_a_a_undecided() -> None:
    window = runs(1.0, 1.25, 0.8, 1.1, 0.9)  # between-run sd about 17 %
    own = dl_between([window, runs(1.9)])
    prior = machine_prior([own, own, own])  # three cases of one machine, alike
    alone = across(window, runs(1.9), confidence=0.99)
    pooled = across(window, runs(1.9), confidence=0.99, prior=prior)
    assert (alone.df, pooled.df, pooled.df_case) == (4, 12, 4)
    assert judge_across(alone, 0.10).verdict == "inconclusive"  # +90 %, interval -20 … +356 % on 4 df
    assert judge_across(pooled, 0.10).verdict == "regression" and pooled.ci_low > 1  # +7 … +240 % on 12 df
    assert mde_across(pooled) < mde_across(alone)
    same = judge_across(across(window, runs(1.0), confidence=0.99, prior=prior), 0.10)
    assert same.verdict == "inconclusive"  # A/A: neither a regression nor an improvement
    assert aa_false_alarms(window, 0.10, 0.99, prior) == (0, 5)
    # no history at all: a prior cannot make one run per side judgeable
    none = across(runs(1.0), runs(1.9), prior=prior)
    assert not none.between_known and judge_across(none, 0.10).verdict == "inconclusive"


def test_cases_a_thousandfold_apart_lend_each_other_nothing() -> None:
    prior = machine_prior([Between(1e-4, 1e-6, 4), Between(1e-1, 1e-6, 4), Between(1e2, 1e-6, 4)])
    assert prior is not None and 0 < prior.df < 1
    assert moderate(Between(1e-1, 1e-6, 4), prior) == (pytest.approx(1e-1 - 1e-6), 4)  # d0 rounds down to 0
