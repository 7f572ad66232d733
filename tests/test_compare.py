"""reports.compare: matching, verdicts with literal samples, Holm across cases, machine check."""

from __future__ import annotations

import pytest

from reports.compare import (
    Options,
    case_key,
    compare,
    judge,
    machine_differences,
    machine_notes,
    match_cases,
    pool_runs,
    to_json,
    to_markdown,
)
from reports.stats import case_stats
from tests.literal_runs import bench, machine, run, skip

BASE = [1.000, 1.011, 0.992, 1.023, 0.984, 1.005, 1.014, 0.996, 1.002, 1.027, 0.981, 1.008]
DOUBLE = [2 * x for x in BASE]
HALF = [x / 2 for x in BASE]
# Same distribution, different draws (no ties with BASE).
SAME = [1.004, 0.989, 1.016, 0.997, 1.021, 1.001, 0.986, 1.009, 1.013, 0.994, 1.025, 0.983]
SPREAD = [0.5, 1.6, 0.7, 1.9, 1.0, 0.6, 1.8, 1.2, 0.55, 1.4, 2.0, 0.8]


def verdicts(comparison) -> dict[str, str]:
    """name -> verdict."""
    return {case.name.split("-")[-1].rstrip("]"): case.verdict for case in comparison.cases}


def test_clear_2x_slowdown_is_a_regression() -> None:
    result = compare(run(bench("a", BASE)), run(bench("a", DOUBLE)))
    (case,) = result.cases
    assert case.verdict == "regression"
    assert case.stats.ratio == pytest.approx(2.0)
    assert case.stats.ci_low > 1.02
    assert case.p_holm < 0.01
    assert result.exit_code == 1


def test_clear_2x_speedup_is_an_improvement() -> None:
    result = compare(run(bench("a", BASE)), run(bench("a", HALF)))
    assert result.cases[0].verdict == "improvement"
    assert result.exit_code == 0


def test_identical_distributions_are_unchanged() -> None:
    for current in (BASE, SAME):
        result = compare(run(bench("a", BASE)), run(bench("a", current)))
        assert result.cases[0].verdict == "unchanged"
        assert result.exit_code == 0


def test_huge_spread_no_longer_vetoes_a_clear_slowdown() -> None:
    # Was `noisy` (never judged, exit 0) under the old --max-noise veto. Every current round is slower than
    # every baseline round and the interval of the ratio lies far above 1.10: decisive despite the spread.
    result = compare(run(bench("a", BASE)), run(bench("a", [3 * x for x in SPREAD])))
    (case,) = result.cases
    assert case.verdict == "regression"
    assert case.stats.noise_cur > 0.5 and case.stats.ci_low > 1.5
    assert result.exit_code == 1


def test_too_few_rounds_are_not_judged() -> None:
    result = compare(run(bench("a", BASE[:3])), run(bench("a", DOUBLE[:3])))
    assert result.cases[0].verdict == "inconclusive"  # was `noisy`
    assert result.cases[0].reason == "too few rounds (3/3; at least 5 per side are judged)"
    assert result.exit_code == 2  # the only case, not judged: nothing judged is not a pass
    relaxed = compare(run(bench("a", BASE[:3])), run(bench("a", DOUBLE[:3])), Options(min_rounds=3))
    # 3 vs 3 rounds can never reach p < 0.01 (the smallest two-sided p is 0.1): was `unchanged` ("not
    # significant"), now `inconclusive`, because the interval alone says slower and the test cannot confirm it.
    assert relaxed.cases[0].verdict == "inconclusive"
    assert "not significant" in relaxed.cases[0].reason


def test_slowdown_below_threshold_is_unchanged_and_threshold_for_overrides() -> None:
    slower = [1.15 * x for x in BASE]
    assert compare(run(bench("a", BASE)), run(bench("a", slower))).cases[0].verdict == "regression"
    lenient = Options(thresholds={"matmul": 0.25})
    result = compare(run(bench("a", BASE)), run(bench("a", slower)), lenient)
    assert result.cases[0].verdict == "unchanged"
    assert result.cases[0].threshold == 0.25
    assert Options(threshold=0.2, thresholds={"mnist": 0.5}).threshold_for("matmul") == 0.2


def test_judge_needs_significance_and_the_interval_beyond_the_threshold() -> None:
    # --floor is gone: the interval must now clear 1 + threshold itself.
    slower = [1.15 * x for x in BASE]
    cs = case_stats(BASE, slower)
    assert cs.ci_low > 1.10
    assert judge(cs, 1e-6, 0.10, Options()).verdict == "regression"
    # Was `unchanged` ("slower but not significant"); an interval above the threshold without a significant
    # rank test is `inconclusive`.
    assert judge(cs, 0.5, 0.10, Options()).verdict == "inconclusive"
    # The interval straddles a 13 % threshold: undecided, not unchanged.
    assert judge(cs, 1e-6, 0.13, Options()).verdict == "inconclusive"


def test_holm_correction_across_cases_can_withhold_a_verdict() -> None:
    # 6 vs 6 untied, fully separated: exact p = 2 / C(12, 6) = 0.00216 < 0.01 alone ...
    base6, slow6 = BASE[:6], DOUBLE[:6]
    alone = compare(run(bench("a", base6)), run(bench("a", slow6)))
    assert alone.cases[0].verdict == "regression"
    # ... but with 9 more (unchanged) cases, Holm multiplies it by 10: 0.0216 > 0.01.
    others = [bench(f"u{i}", BASE) for i in range(9)]
    many = compare(run(bench("a", base6), *others), run(bench("a", slow6), *others))
    case = next(c for c in many.cases if c.name.endswith("-a]"))
    assert case.p_holm == pytest.approx(10 * case.stats.p_value)
    assert case.verdict == "inconclusive"  # was `unchanged`: the interval says slower, the test cannot confirm it
    assert many.exit_code == 0


def test_cases_with_too_few_rounds_are_left_out_of_the_holm_family() -> None:
    # Was: noisy cases are left out. Spread no longer excludes a case; too few rounds still do.
    others = [bench(f"n{i}", BASE[:3]) for i in range(9)]
    result = compare(run(bench("a", BASE[:6]), *others), run(bench("a", DOUBLE[:6]), *others))
    case = next(c for c in result.cases if c.name.endswith("-a]"))
    assert case.p_holm == pytest.approx(case.stats.p_value)
    assert case.confidence == pytest.approx(0.99)
    assert case.verdict == "regression"


def test_matching_by_name_params_backend_device() -> None:
    base = [bench("a", BASE), bench("b", BASE), bench("a", BASE, device="GPU:0")]
    cur = [bench("a", BASE, device="GPU:0"), bench("c", BASE), bench("a", BASE)]
    pairs = match_cases(base, cur)
    keyed = {(case_key(b) if b else None, case_key(c) if c else None) for b, c in pairs}
    assert len(pairs) == 4
    assert (case_key(base[1]), None) in keyed  # b: missing
    assert (None, case_key(cur[1])) in keyed  # c: new
    result = compare(run(*base), run(*cur))
    assert sorted(c.verdict for c in result.cases) == ["missing", "new", "unchanged", "unchanged"]
    assert result.exit_code == 1  # b went missing and the run recorded no reason


def test_params_order_does_not_matter() -> None:
    one = bench("a", BASE)
    params = dict(reversed(list(one.extra_info.params.items())))
    two = one.model_copy(update={"extra_info": one.extra_info.model_copy(update={"params": params})})
    assert list(one.extra_info.params) != list(two.extra_info.params)
    assert case_key(one) == case_key(two)


def test_missing_case_says_why_when_the_run_recorded_a_skip() -> None:
    gone = bench("a", BASE)
    kept = bench("b", BASE)  # judged, so that the comparison judged something
    result = compare(run(gone, kept), run(kept, skipped=[skip(gone, "oom", "GPU:0 ran out of memory")]))
    assert result.cases[0].verdict == "missing"
    assert result.cases[0].reason == "oom: GPU:0 ran out of memory"
    assert result.exit_code == 0  # explained: the gate passes, the table says why


def test_a_case_missing_without_a_reason_fails_the_gate_unless_allowed() -> None:
    result = compare(run(bench("a", BASE), bench("b", BASE)), run(bench("a", BASE)))
    missing = next(c for c in result.cases if c.verdict == "missing")
    assert missing.reason == "not in the current run, and the run recorded no reason"
    assert result.exit_code == 1
    allowed = compare(run(bench("a", BASE), bench("b", BASE)), run(bench("a", BASE)), Options(allow_missing=True))
    assert allowed.exit_code == 0
    assert "allowed by --allow-missing" in next(c for c in allowed.cases if c.verdict == "missing").reason


def test_a_changed_workload_version_is_not_compared() -> None:
    old = bench("a", BASE)
    new = bench("a", DOUBLE)
    new = new.model_copy(update={"extra_info": new.extra_info.model_copy(update={"workload_version": 2})})
    result = compare(run(old), run(new))
    (case,) = result.cases
    assert case.verdict == "version-changed"
    assert case.reason == "workload matmul changed (version 1 -> 2): not compared"
    assert case.stats is None and result.exit_code == 2  # its only case not compared: nothing judged


def test_thread_settings_that_differ_are_noted_per_case() -> None:
    base = bench("a", BASE)
    threads = base.extra_info.threads.model_copy(update={"effective_intra_op": 1})
    cur = bench("a", DOUBLE)
    cur = cur.model_copy(update={"extra_info": cur.extra_info.model_copy(update={"threads": threads})})
    (case,) = compare(run(base), run(cur)).cases
    assert f"threads in effect: {base.extra_info.threads.effective_intra_op} -> 1" in case.notes


def test_cases_are_sorted_by_severity() -> None:
    base = run(bench("r", BASE), bench("u", BASE), bench("i", BASE), bench("n", BASE), bench("m", BASE))
    cur = run(bench("r", DOUBLE), bench("u", SAME), bench("i", HALF), bench("n", SPREAD), bench("x", BASE))
    result = compare(base, cur)
    # `n`, BASE against SPREAD, was `noisy`: now `inconclusive`, its wide interval spans the band.
    assert [c.verdict for c in result.cases] == [
        "regression", "missing", "inconclusive", "improvement", "new", "unchanged",
    ]  # fmt: skip


def test_same_machine_has_no_differences_despite_clock_jitter() -> None:
    jittered = machine().model_dump()
    jittered["cpu"]["hz_actual_friendly"] = "3.1000 GHz"
    jittered["cpu"]["hz_actual"] = [3100000000, 0]
    other = type(machine()).model_validate(jittered)
    assert machine_differences(machine(), other) == []
    assert machine_notes(machine(), other) == []


def test_machine_differences_name_driver_tf_version_and_device_model() -> None:
    diffs = machine_differences(machine(), machine(driver="560.35.03", tf="2.20.0", gpu="NVIDIA A100"))
    assert "NVIDIA driver: 555.42.06 -> 560.35.03" in diffs
    assert "tensorflow version: 2.21.0 -> 2.20.0" in diffs
    assert "device tensorflow GPU:0: NVIDIA H100 80GB HBM3 -> NVIDIA A100" in diffs


def test_core_counts_and_settings_are_notes_not_differences() -> None:
    pinned = machine(cpu_usable_cores=1, thread_env={"TF_NUM_INTRAOP_THREADS": "1"}).model_dump()
    pinned["devicebench"]["backends"]["tensorflow"]["tf32_enabled"] = False
    pinned_info = type(machine()).model_validate(pinned)
    cores = machine().devicebench.cpu_usable_cores
    assert machine_differences(machine(), pinned_info) == []
    assert machine_notes(machine(), pinned_info) == [
        f"usable CPU cores (affinity): {cores} -> 1",
        "thread settings in the environment: none -> TF_NUM_INTRAOP_THREADS=1",
        "tensorflow tf32_enabled: True -> False",
    ]


def test_markdown_table_and_json_verdicts() -> None:
    result = compare(run(bench("r", BASE), bench("u", BASE)), run(bench("r", DOUBLE), bench("u", SAME)),
                     labels=("results/baselines/main", "results/latest"))  # fmt: skip
    md = to_markdown(result)
    lines = md.splitlines()
    assert lines[0] == "## devicebench compare: ❌ regression"
    table = [line for line in lines if line.startswith("| ")]
    assert table[0].startswith("| verdict | case |")
    assert "regression" in table[1] and "+100.0%" in table[1]
    assert "unchanged" in table[2]
    verdict_file = to_json(result, run(), run())
    assert verdict_file["exit_code"] == 1
    assert verdict_file["summary"]["regression"] == 1
    assert verdict_file["baseline"]["path"] == "results/baselines/main"
    first = verdict_file["cases"][0]
    assert first["verdict"] == "regression" and first["ratio"] == pytest.approx(2.0)
    assert {"ci_low", "ci_high", "p_value", "p_holm", "noise_base", "rounds_cur"} <= first.keys()


def test_pool_runs_concatenates_rounds_per_case() -> None:
    first = run(bench("a", BASE[:6]), bench("b", BASE))
    second = run(bench("a", BASE[6:]), bench("c", BASE), skipped=[skip(bench("x", BASE), "oom", "r")])
    pooled = pool_runs([first, second])
    by_case = {b.extra_info.params["dtype"]: b for b in pooled.benchmarks}
    assert sorted(by_case) == ["a", "b", "c"]
    assert by_case["a"].stats.data == BASE
    assert by_case["a"].stats.rounds == 12
    assert by_case["a"].stats.median == pytest.approx(sorted(BASE)[5] / 2 + sorted(BASE)[6] / 2)
    assert [s.name for s in pooled.devicebench.skipped] == ["test_matmul[tensorflow-CPU:0-x]"]
    assert first.benchmarks[0].stats.data == BASE[:6]  # inputs untouched
    assert pool_runs([first]) is first
