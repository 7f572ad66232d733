"""The gate across runs: each case's verdict from the two-level model of reports.runs_model.

:func:`judge_runs` takes the runs of each side (a baseline window, the current run or runs, an optional
history window) and the within-run comparison of :func:`reports.compare.compare` on their pooled rounds
(which keeps missing, new and version-changed cases, notes and drift), and replaces the verdict of every
judged case by the verdict across runs. Rendering: :func:`to_markdown`, :func:`to_json`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from reports import compare as cmp
from reports.compare import EXIT_NOTHING_JUDGED, CaseResult, Comparison
from reports.runs_model import (
    Across,
    Prior,
    RunSummary,
    Verdict,
    aa_false_alarms,
    across,
    between_groups,
    dl_between,
    judge_across,
    machine_prior,
    run_summary,
    window_start,
)
from results_format import RunFile

__all__ = ["AcrossCase", "AcrossComparison", "judge_runs", "to_json", "to_markdown"]


@dataclass(frozen=True)
class AcrossCase:
    """What the model across runs says about one case."""

    estimate: Across
    verdict: Verdict
    within_verdict: str  # the verdict on the pooled rounds alone (within-run noise)
    aa_flagged: int  # A/A among the baseline window's runs: regressions flagged ...
    aa_pairs: int  # ... out of this many leave-one-out pairs (0: window too small)
    change_points: tuple[str, ...] = ()  # runs of the baseline window where a new level starts
    runs_left_before_step: int = 0  # baseline runs before the latest change point, left out


@dataclass(frozen=True)
class AcrossComparison:
    """A comparison whose judged cases carry verdicts across runs."""

    comparison: Comparison
    cases: dict[str, AcrossCase]
    notes: list[str] = field(default_factory=list)  # window notes: left-out runs, unknown between-run noise
    history_runs: int = 0
    prior: Prior | None = None  # the machine's run-level variance, from every judged case

    @property
    def exit_code(self) -> int:
        """0 clean, 1 a regression across runs or a case missing without a recorded reason."""
        return self.comparison.exit_code

    @property
    def to_confirm(self) -> list[str]:
        """Cases estimated slower whose runs cannot rule out a slowdown of the threshold: to be re-timed."""
        return sorted(name for name, case in self.cases.items() if case.verdict.confirm)


def _per_run(runs: Sequence[RunFile]) -> dict[str, list[RunSummary]]:
    """Each case's per-run summaries, in run order (runs with too few rounds left out)."""
    out: dict[str, list[RunSummary]] = {}
    for run in runs:
        for bench in run.benchmarks:
            summary = run_summary(list(bench.stats.data))
            if summary is not None:
                out.setdefault(bench.name, []).append(summary)
    return out


def judge_runs(
    within: Comparison,
    base: Sequence[RunFile],
    cur: Sequence[RunFile],
    history: Sequence[RunFile] = (),
    base_names: Sequence[str] = (),
    notes: Sequence[str] = (),
) -> AcrossComparison:
    """Replace the verdict of every judged case of `within` by the verdict across runs."""
    options = within.options
    per_base, per_cur, per_hist = _per_run(base), _per_run(cur), _per_run(history)
    judged = {c.name for c in within.cases if math.isfinite(c.p_holm) and c.name in per_base and c.name in per_cur}
    confidence = 1 - options.alpha / max(len(judged), 1)
    names = list(base_names) or [f"run {i + 1}" for i in range(len(base))]
    # First pass: each judged case's runs, cut at its latest change point. The level comes from the runs after
    # the cut; tau^2 from the whole window, steps included: on a shared machine a "step" is as often a load
    # regime that comes back as a lasting change.
    plan: dict[str, tuple[list[RunSummary], list[RunSummary], list[list[RunSummary]], int, list[int]]] = {}
    for case in within.cases:
        if case.name in judged:
            window = per_base[case.name]
            start, steps = window_start([r.log_median for r in window]) if len(window) >= 3 else (0, [])
            hist = [per_hist[case.name]] if case.name in per_hist else []
            plan[case.name] = (window, window[start:], hist, start, steps)
    # The machine's run-level variance from every judged case: it lends each case degrees of freedom.
    prior = machine_prior([dl_between(between_groups(b, per_cur[n], h, [w])) for n, (w, b, h, _, _) in plan.items()])
    cases: dict[str, AcrossCase] = {}
    results: list[CaseResult] = []
    for case in within.cases:
        if case.name not in judged:
            results.append(case)
            continue
        window, runs_b, hist, start, steps = plan[case.name]
        est = across(runs_b, per_cur[case.name], hist, confidence=confidence, scatter=[window], prior=prior)
        verdict = judge_across(est, case.threshold)
        # A/A among the baseline window's runs; a single baseline run borrows its history's
        flagged, pairs = aa_false_alarms(
            runs_b if len(runs_b) >= 3 else per_hist.get(case.name, []), case.threshold, confidence, prior
        )
        step_names = tuple(names[i] if i < len(names) else f"run {i + 1}" for i in steps)
        cases[case.name] = AcrossCase(est, verdict, case.verdict, flagged, pairs, step_names, start)
        extra = [f"within runs alone: {case.verdict} ({case.reason})"]
        if steps:
            cut = f"the window starts at {names[start]}" if start else "too few runs after it: the window is kept whole"
            extra.append(f"change point in the baseline window at {', '.join(step_names)}: {cut}")
        results.append(
            replace(
                case,
                verdict=verdict.verdict,
                reason=verdict.reason,
                mde=verdict.mde,
                rounds_needed=None,
                confidence=confidence,
                fails_gate=verdict.verdict == "regression",
                notes=(*extra, *case.notes),
            )
        )
    results.sort(key=cmp._severity_key)
    all_notes = list(notes)
    if any(not c.estimate.between_known for c in cases.values()):
        all_notes.append(
            "between-run noise unknown: one run per side and no history (save a baseline window with "
            "--save-baseline, or pass --history); cases are at most inconclusive"
        )
    return AcrossComparison(replace(within, cases=results), cases, all_notes, len(history), prior)


def _fmt_interval(est: Across) -> str:
    """'+3% … +25%' or '–' when the between-run noise is unknown."""
    if not est.between_known:
        return "–"
    return f"{cmp._fmt_pct(est.ci_low)} … {cmp._fmt_pct(est.ci_high)}"


def _gate_line(result: AcrossComparison) -> str:
    """The rule across runs in one paragraph."""
    opts = result.comparison.options
    level = next(iter(result.cases.values())).estimate.confidence if result.cases else math.nan
    prior = result.prior
    if prior is None:
        pooled = ""
    else:
        d0 = "∞" if math.isinf(prior.df) else f"{prior.df:.1f}"
        pooled = (
            f", moderated toward the machine's run-level variance from all {prior.cases} cases (empirical Bayes: "
            f"prior sd {math.sqrt(prior.total):.1%} on {d0} degrees of freedom, at most the other cases')"
        )
    return (
        f"Gate across runs: threshold {opts.threshold:.0%}, α = {opts.alpha:g}. Per case, each run's log median "
        "and its within-run error, the between-run variance from the runs of each side and any history "
        f"(DerSimonian-Laird){pooled}, and a {level * 100:.4g}% Student-t interval of the time ratio (Bonferroni over "
        f"{len(result.cases)} cases): `regression` when it lies above 1 and the estimate is at least 1 + threshold; "
        "`unchanged` when it lies inside the band and the MDE across runs is at most the threshold; "
        "`inconclusive` otherwise. Cases estimated slower whose interval reaches 1 + threshold go to confirmation "
        "(`nox -s confirm`), which re-times them base and head alternately."
    )


def to_markdown(result: AcrossComparison, *, allowed_machine_change: bool = False) -> str:
    """A Markdown report of the comparison across runs."""
    comparison = result.comparison
    if comparison.count("regression"):
        status = "❌ regression"
    elif comparison.exit_code == EXIT_NOTHING_JUDGED:
        status = "⛔ nothing judged"
    elif comparison.exit_code:
        status = "❌ cases missing without a recorded reason"
    else:
        status = "✅ no regression"
    runs = comparison.pooled_runs
    lines = [
        f"## devicebench compare: {status}",
        "",
        f"`{comparison.baseline}` (baseline, {runs[0]} run{'s' if runs[0] != 1 else ''}) → `{comparison.current}` "
        f"(current, {runs[1]} run{'s' if runs[1] != 1 else ''})"
        + (f", history of {result.history_runs} runs" if result.history_runs else "")
        + f": {cmp.summary_line(comparison)}.",
        "",
        f"Resolution across runs: {cmp.resolution_line(comparison).replace('more rounds', 'more runs')}.",
        "",
        _gate_line(result),
    ]
    if result.to_confirm:
        names = ", ".join(f"`{n}`" for n in result.to_confirm)
        lines += ["", f"To confirm (estimated slower; a slowdown of the threshold not ruled out): {names}"]
    if result.notes:
        lines += ["", "Notes:", *[f"- {n}" for n in result.notes]]
    if comparison.machine_differences:
        head = "Machine changed (allowed by --allow-machine-change):" if allowed_machine_change else "Machine differs:"
        lines += ["", head, *[f"- {d}" for d in comparison.machine_differences]]
    if comparison.machine_notes:
        lines += ["", "Also differs (not a reason to refuse):", *[f"- {d}" for d in comparison.machine_notes]]
    lines += ["", *cmp.drift_lines(comparison)]
    lines += [
        "",
        "| verdict | case | baseline | current | time change | interval across runs | MDE across runs "
        "| between-run sd | runs b/c | A/A in window or history | note |",
        "|---|---|---:|---:|---:|---|---:|---:|---:|---:|---|",
    ]
    for case in comparison.cases:
        info = result.cases.get(case.name)
        if info is None:
            cells = ["–"] * 8
        else:
            est = info.estimate
            cells = [
                cmp._fmt_time(est.median_base),
                cmp._fmt_time(est.median_cur),
                cmp._fmt_pct(est.ratio),
                _fmt_interval(est),
                cmp._fmt_mde(case.mde),
                f"{est.tau:.1%}" if math.isfinite(est.tau) else "unknown",
                f"{est.runs_base} / {est.runs_cur}",
                f"{info.aa_flagged}/{info.aa_pairs}" if info.aa_pairs else "–",
            ]
        name = case.name.replace("|", "\\|")
        note = "; ".join([case.reason, *case.notes]).replace("|", "\\|")
        lines.append(f"| {cmp.ICONS[case.verdict]} {case.verdict} | `{name}` | " + " | ".join(cells) + f" | {note} |")
    return "\n".join(lines) + "\n"


def to_json(
    result: AcrossComparison,
    base: RunFile | None = None,
    cur: RunFile | None = None,
    *,
    allowed_machine_change: bool = False,
) -> dict[str, Any]:
    """The verdict file of compare, with an `across` block per case and the cases to confirm."""
    data = cmp.to_json(result.comparison, base, cur, allowed_machine_change=allowed_machine_change)
    for row in data["cases"]:
        info = result.cases.get(row["name"])
        if info is None:
            row["across"] = None
            continue
        row["across"] = cmp._clean(
            {
                **asdict(info.estimate),
                "mde": info.verdict.mde,
                "confirm": info.verdict.confirm,
                "within_verdict": info.within_verdict,
                "aa_false_alarms": {"flagged": info.aa_flagged, "pairs": info.aa_pairs},
                "change_points": list(info.change_points),
            }
        )
    data["to_confirm"] = result.to_confirm
    data["notes"] = result.notes
    data["history_runs"] = result.history_runs
    prior = result.prior
    data["between_prior"] = (
        None
        if prior is None
        else cmp._clean({"total": prior.total, "df": prior.df, "cases": prior.cases, "df_sum": prior.df_sum})
    )
    return data
