"""Baseline comparison: match cases of two runs, check the machines agree, give each case a verdict.

Pure functions on parsed results (the dicts in :class:`reports.load.Run`); the command line lives
in :mod:`reports.compare_cmd`; the decision rule itself is :mod:`reports.decide`. Verdicts, from
most to least severe:

``regression``    the whole interval of the time ratio lies above ``1 + threshold`` and the rank
                  test is significant after Holm correction;
``missing``       in the baseline, not in the current run;
``inconclusive``  the interval straddles a band edge, or the comparison could not have seen a
                  slowdown of the threshold (MDE above it), or too few rounds; the reason says which;
``improvement``   the mirror image of ``regression`` (interval below ``1/(1+threshold)``);
``new``           in the current run only;
``unchanged``     the interval lies inside the band and the MDE is at most the threshold.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from reports.decide import POWER, Decision, decide, interval_confidence, resamples_for, too_few_rounds
from reports.drift import DriftFinding, reference_drift, round_trend
from reports.stats import CaseStats, case_stats, holm
from results_format import Benchmark, MachineInfo, RunFile, Stats

__all__ = [
    "SEVERITY",
    "CaseResult",
    "Comparison",
    "Options",
    "case_key",
    "compare",
    "judge",
    "machine_differences",
    "machine_notes",
    "match_cases",
    "nothing_judged_line",
    "pool_runs",
    "resolution_line",
    "to_json",
    "to_markdown",
]

SEVERITY = ("regression", "missing", "inconclusive", "version-changed", "improvement", "new", "unchanged")
ICONS = {
    "regression": "🔴", "missing": "⚫", "inconclusive": "🟡", "version-changed": "🔀", "improvement": "🟢",
    "new": "🆕", "unchanged": "⚪",
}  # fmt: skip

#: the exit code of a comparison that judged no case (and found no case missing without a reason).
EXIT_NOTHING_JUDGED = 2

#: machine_info keys whose values move between identical runs (clock speeds, load): never compared.
JITTER_KEYS = frozenset({"hz_actual", "hz_actual_friendly", "hz_actual_raw", "available", "reason"})


@dataclass(frozen=True)
class Options:
    """Thresholds of the regression gate."""

    threshold: float = 0.10
    thresholds: Mapping[str, float] = field(default_factory=dict)  # per workload
    alpha: float = 0.01
    min_rounds: int = 5
    n_resamples: int = 2000  # at least; more when the Bonferroni level needs them (reports.decide.resamples_for)
    seed: int = 0
    allow_missing: bool = False  # a case missing without a recorded reason does not fail the gate

    def threshold_for(self, workload: str | None) -> float:
        """The slowdown threshold for one workload."""
        return self.thresholds.get(workload or "", self.threshold)


@dataclass(frozen=True)
class CaseResult:
    """The verdict on one case and the numbers behind it."""

    name: str
    workload: str | None
    backend: str | None
    device: str | None
    params: Mapping[str, Any]
    verdict: str
    reason: str
    threshold: float
    stats: CaseStats | None = None
    p_holm: float = math.nan
    confidence: float = math.nan  # level of the interval in stats (1 - alpha/m)
    mde: float = math.nan  # smallest slowdown this comparison could have seen (fraction; inf: none)
    rounds_needed: int | None = None  # rounds per side that would likely decide an inconclusive case
    throughput_unit: str | None = None
    throughput_base: float | None = None
    throughput_cur: float | None = None
    fails_gate: bool = False  # a regression, or a case missing without a recorded reason
    notes: tuple[str, ...] = ()  # how the case ran differently on each side (threads, TF32)


@dataclass(frozen=True)
class Comparison:
    """All case verdicts of one baseline/current pair."""

    baseline: str
    current: str
    cases: list[CaseResult]
    machine_differences: list[str]
    options: Options
    machine_notes: list[str] = field(default_factory=list)
    pooled_runs: tuple[int, int] = (1, 1)  # runs pooled on each side (interleaved mode)
    drift: tuple[DriftFinding | None, DriftFinding | None] = (None, None)  # each side's machine during its run

    def count(self, verdict: str) -> int:
        """How many cases got `verdict`."""
        return sum(case.verdict == verdict for case in self.cases)

    @property
    def judged(self) -> int:
        """How many cases were judged: measured on both sides with enough rounds (the m of the Holm family)."""
        return sum(math.isfinite(case.p_holm) for case in self.cases)

    @property
    def exit_code(self) -> int:
        """1 when a case regressed or went missing without a recorded reason; else 2 when none was judged; else 0."""
        if any(case.fails_gate for case in self.cases):
            return 1
        return 0 if self.judged else EXIT_NOTHING_JUDGED


def case_key(bench: Benchmark) -> tuple[str, str, str, str]:
    """Match key of one case: (test function, backend, device, canonical params)."""
    info = bench.extra_info
    return (
        bench.name.split("[", 1)[0],
        info.backend,
        info.device,
        json.dumps(info.params, sort_keys=True),
    )


def match_cases(base: Sequence[Benchmark], cur: Sequence[Benchmark]) -> list[tuple[Benchmark | None, Benchmark | None]]:
    """Pair up cases by case_key: (base, cur), (base, None) when missing, (None, cur) when new."""
    base_by: dict[tuple[str, str, str, str], Benchmark] = {}
    for bench in base:
        base_by.setdefault(case_key(bench), bench)
    cur_by: dict[tuple[str, str, str, str], Benchmark] = {}
    for bench in cur:
        cur_by.setdefault(case_key(bench), bench)
    pairs: list[tuple[Benchmark | None, Benchmark | None]] = [
        (bench, cur_by.get(key)) for key, bench in base_by.items()
    ]
    pairs.extend((None, bench) for key, bench in cur_by.items() if key not in base_by)
    return pairs


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Leaves of nested dicts as {'a b': value}, skipping jitter keys."""
    if not isinstance(value, Mapping):
        return {prefix: value}
    out: dict[str, Any] = {}
    for key, item in value.items():
        if key in JITTER_KEYS:
            continue
        out.update(_flatten(item, f"{prefix} {key}".strip()))
    return out


def _diff(what: str, old: Any, new: Any) -> list[str]:
    """A one-item list 'what: old -> new' when the values differ."""
    if old == new:
        return []
    return [f"{what}: {'none' if old is None else old} -> {'none' if new is None else new}"]


def machine_differences(base: MachineInfo, cur: MachineInfo) -> list[str]:
    """What makes two runs' machines different: CPU model, device models, NVIDIA driver, backend builds."""
    old, new = base.devicebench, cur.devicebench
    diffs = _diff("CPU model", old.cpu_model, new.cpu_model)
    diffs += _diff("NVIDIA driver", old.nvidia_driver, new.nvidia_driver)
    dev_old = {f"{d.backend} {d.name}": d.model for d in old.devices}
    dev_new = {f"{d.backend} {d.name}": d.model for d in new.devices}
    for key in sorted(dev_old.keys() | dev_new.keys()):
        diffs += _diff(f"device {key}", dev_old.get(key, "absent"), dev_new.get(key, "absent"))
    for backend, key, before, after in _backend_changes(base, cur):
        if _BUILD_KEY.search(key):
            diffs += _diff(f"{backend} {key}", before, after)
    return diffs


#: backend keys that describe the build (versions, CUDA/cuDNN): a change refuses the comparison.
_BUILD_KEY = re.compile(r"version|cuda|cudnn|rocm|tensorrt|built|build", re.IGNORECASE)


def _backend_changes(base: MachineInfo, cur: MachineInfo) -> list[tuple[str, str, Any, Any]]:
    """(backend, key, old, new) for every differing fact of the backends both runs have."""
    old, new = base.devicebench.backends, cur.devicebench.backends
    changes = []
    for backend in sorted(set(old) & set(new)):
        flat_old, flat_new = _flatten(old[backend].model_dump()), _flatten(new[backend].model_dump())
        for key in sorted(flat_old.keys() | flat_new.keys()):
            if flat_old.get(key) != flat_new.get(key):
                changes.append((backend, key, flat_old.get(key), flat_new.get(key)))
    return changes


def machine_notes(base: MachineInfo, cur: MachineInfo) -> list[str]:
    """Differences worth showing that do not refuse a comparison: host, cores, affinity, threads, image tag."""
    old, new = base.devicebench, cur.devicebench
    notes = _diff("host", old.host, new.host)
    notes += _diff("CPU cores", old.cpu_cores, new.cpu_cores)
    notes += _diff("usable CPU cores (affinity)", old.cpu_usable_cores, new.cpu_usable_cores)
    notes += _diff("thread settings in the environment", _env_text(old.thread_env), _env_text(new.thread_env))
    notes += _diff("container image", old.container_image, new.container_image)
    for backend, key, before, after in _backend_changes(base, cur):
        if not _BUILD_KEY.search(key):
            notes += _diff(f"{backend} {key}", before, after)
    return notes


def _env_text(env: Mapping[str, str]) -> str | None:
    """Environment settings as 'A=1 B=2', None when there are none."""
    return " ".join(f"{k}={v}" for k, v in sorted(env.items())) or None


def case_notes(base: Benchmark, cur: Benchmark) -> list[str]:
    """What differs in how one case ran on each side: threads in effect, TF32, precision."""
    old, new = base.extra_info, cur.extra_info
    notes = _diff("threads in effect", old.threads.effective_intra_op, new.threads.effective_intra_op)
    notes += _diff("TF32", old.precision.tf32, new.precision.tf32)
    notes += throttle_notes(base, cur)
    return notes


def throttle_notes(base: Benchmark, cur: Benchmark) -> list[str]:
    """A note for each side whose GPU NVML saw throttled while the case ran: its time is not the hardware's own."""
    notes = []
    for side, bench in (("baseline", base), ("current", cur)):
        throttle = bench.extra_info.throttle
        if throttle is not None and throttle.throttled:
            notes.append(f"throttled on the {side} side ({throttle.text.removeprefix('throttled: ')})")
    return notes


def pool_runs(runs: Sequence[RunFile]) -> RunFile:
    """One run from several runs of the same code: every case's rounds concatenated.

    For the interleaved mode (baseline and candidate run alternately in one job): pooling the
    rounds of runs spread over the job balances slow drifts of the machine between both sides.
    Machine facts, commit and date come from the first run; skipped cases from all of them.
    """
    if not runs:
        raise ValueError("no runs to pool")
    if len(runs) == 1:
        return runs[0]
    pooled: dict[tuple[str, str, str, str], list[Benchmark]] = {}
    for run in runs:
        for bench in run.benchmarks:
            pooled.setdefault(case_key(bench), []).append(bench)
    benchmarks = [
        group[0].model_copy(update={"stats": Stats.from_rounds([t for b in group for t in b.stats.data])})
        for group in pooled.values()
    ]
    first = runs[0]
    block = first.devicebench.model_copy(
        update={
            "skipped": [entry for run in runs for entry in run.devicebench.skipped],
            "run": first.devicebench.run.model_copy(
                update={"measured": len(benchmarks), "complete": all(r.complete for r in runs)}
                | ({} if all(r.complete for r in runs) else {"state": "interrupted", "reason": "a pooled run"})
            ),
        }
    )
    return first.model_copy(update={"benchmarks": benchmarks, "devicebench": block})


def _not_judgeable(base: Sequence[float], cur: Sequence[float], options: Options) -> str | None:
    """Why a case cannot be judged (too few rounds, no positive median), or None when it can."""
    base = [x for x in base if math.isfinite(x)]
    cur = [x for x in cur if math.isfinite(x)]
    short = too_few_rounds(len(base), len(cur), options.min_rounds)
    if short:
        return short
    if not (np.median(base) > 0 and np.median(cur) > 0):  # numpy: millions of rounds in a fraction of a second
        return "no usable rounds (median 0)"
    return None


def judge(cs: CaseStats, p_holm: float, threshold: float, options: Options, judged: int = 1) -> Decision:
    """Verdict, reason and MDE of a judged case (one of `judged` in the Holm family); see reports.decide."""
    return decide(cs, p_holm, threshold, options.alpha, judged)


def _identity(bench: Benchmark) -> dict[str, Any]:
    """Name, workload, backend, device and params of a case."""
    info = bench.extra_info
    return {
        "name": bench.name,
        "workload": info.workload,
        "backend": info.backend,
        "device": info.device,
        "params": dict(info.params),
    }


def _skip_reason(run: RunFile, name: str) -> str | None:
    """The reason a run recorded for leaving the case `name` out, if any."""
    for entry in run.devicebench.skipped:
        if entry.name == name:
            return f"{entry.kind}: {entry.reason}"
    return None


def compare(
    base: RunFile,
    cur: RunFile,
    options: Options | None = None,
    *,
    labels: tuple[str, str] = ("baseline", "current"),
    pooled_runs: tuple[int, int] = (1, 1),
) -> Comparison:
    """Compare two runs case by case (Holm correction across the judged cases)."""
    options = options or Options()
    # First pass: who is judged. The interval level and the Holm family both depend on how many.
    pending: list[tuple[dict[str, Any], float, Benchmark, Benchmark, str | None]] = []
    results: list[CaseResult] = []
    for b, c in match_cases(base.benchmarks, cur.benchmarks):
        either = b if b is not None else c
        assert either is not None
        ident = _identity(either)
        threshold = options.threshold_for(ident["workload"])
        unit = either.extra_info.throughput_unit
        if b is None or c is None:
            if b is None:
                verdict, reason, fails = "new", "only in the current run", False
            else:
                recorded = _skip_reason(cur, ident["name"])
                verdict = "missing"
                reason = recorded or "not in the current run, and the run recorded no reason"
                fails = recorded is None and not options.allow_missing
                if recorded is None and options.allow_missing:
                    reason += " (allowed by --allow-missing)"
            results.append(
                CaseResult(
                    **ident,
                    verdict=verdict,
                    reason=reason,
                    threshold=threshold,
                    throughput_unit=unit,
                    throughput_base=_throughput(b),
                    throughput_cur=_throughput(c),
                    fails_gate=fails,
                )
            )
            continue
        old, new = b.extra_info.workload_version, c.extra_info.workload_version
        if old != new:
            results.append(
                CaseResult(
                    **ident,
                    verdict="version-changed",
                    reason=f"workload {ident['workload']} changed (version {old} -> {new}): not compared",
                    threshold=threshold,
                    throughput_unit=unit,
                    throughput_base=_throughput(b),
                    throughput_cur=_throughput(c),
                )
            )
            continue
        pending.append((ident, threshold, b, c, _not_judgeable(list(b.stats.data), list(c.stats.data), options)))
    judged = sum(why is None for *_, why in pending)
    confidence = interval_confidence(options.alpha, judged)
    n_resamples = resamples_for(options.alpha, judged, options.n_resamples)
    stats = [
        case_stats(
            list(b.stats.data), list(c.stats.data), confidence=confidence, n_resamples=n_resamples, seed=options.seed
        )
        for _, _, b, c, _ in pending
    ]
    adjusted = iter(holm([cs.p_value for cs, (*_, why) in zip(stats, pending, strict=True) if why is None]))
    drift = (run_drift(base, options.seed), run_drift(cur, options.seed))
    drift_size = max((d.size for d in drift if d is not None), default=0.0)
    for cs, (ident, threshold, b, c, why) in zip(stats, pending, strict=True):
        if why is None:
            p_holm = next(adjusted)
            decision = within_drift(judge(cs, p_holm, threshold, options, judged), cs, drift_size)
        else:
            p_holm, decision = math.nan, Decision("inconclusive", why, math.inf)
        results.append(
            CaseResult(
                **ident,
                verdict=decision.verdict,
                reason=decision.reason,
                threshold=threshold,
                stats=cs,
                p_holm=p_holm,
                confidence=confidence,
                mde=decision.mde,
                rounds_needed=decision.rounds_needed,
                throughput_unit=b.extra_info.throughput_unit,
                throughput_base=_throughput(b),
                throughput_cur=_throughput(c),
                fails_gate=decision.verdict == "regression",
                notes=(*case_notes(b, c), *trend_notes(b, c)),
            )
        )
    results.sort(key=_severity_key)
    return Comparison(
        baseline=labels[0],
        current=labels[1],
        cases=results,
        machine_differences=machine_differences(base.machine_info, cur.machine_info),
        options=options,
        machine_notes=machine_notes(base.machine_info, cur.machine_info),
        pooled_runs=pooled_runs,
        drift=drift,
    )


def run_drift(run: RunFile, seed: int = 0) -> DriftFinding | None:
    """The drift of a run's machine during the run, from its reference case (None when not measured)."""
    block = run.devicebench.drift
    return reference_drift(block.start_s, block.end_s, seed) if block is not None else None


def within_drift(decision: Decision, cs: CaseStats, drift_size: float) -> Decision:
    """A regression or improvement no larger than the machine's drift during a run becomes inconclusive."""
    if drift_size <= 0 or decision.verdict not in ("regression", "improvement"):
        return decision
    least = cs.ci_low - 1 if decision.verdict == "regression" else 1 / cs.ci_high - 1
    if least > drift_size:
        return decision  # decisive beyond anything the drift could explain
    return Decision(
        "inconclusive",
        f"{decision.reason}; but the machine drifted by at least {drift_size:.0%} during a run, "
        f"as much as this change can be vouched for ({least:.0%}): it may be the drift",
        decision.mde,
        decision.rounds_needed,
    )


def trend_notes(base: Benchmark, cur: Benchmark) -> list[str]:
    """Notes for a case whose round times trended inside either run."""
    notes = []
    for side, bench in (("baseline", base), ("current", cur)):
        trend = round_trend(bench.stats.data)
        if trend is not None and trend.flagged:
            notes.append(f"{side}: {trend.text()}")
    return notes


def _throughput(bench: Benchmark | None) -> float | None:
    """A case's throughput (None for latency cases and absent sides)."""
    return bench.extra_info.throughput if bench is not None else None


def _severity_key(case: CaseResult) -> tuple[int, float, str]:
    """Sort key: verdict severity, then the largest slowdown first, then name."""
    ratio = case.stats.ratio if case.stats and math.isfinite(case.stats.ratio) else 1.0
    # Largest change first: the biggest slowdown among regressions, the biggest speed-up among improvements.
    return (SEVERITY.index(case.verdict), ratio if case.verdict == "improvement" else -ratio, case.name)


def _fmt_time(seconds: float) -> str:
    """A duration with a readable unit."""
    if not math.isfinite(seconds):
        return "–"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def _fmt_pct(ratio: float) -> str:
    """A time ratio as a signed percentage change."""
    return f"{ratio - 1:+.1%}" if math.isfinite(ratio) else "–"


def _fmt_mde(mde: float) -> str:
    """The MDE as a percentage slowdown; ∞ when no slowdown could have been seen."""
    if math.isnan(mde):
        return "–"
    return "∞" if math.isinf(mde) else f"{mde:.1%}"


def summary_line(comparison: Comparison) -> str:
    """One line counting the verdicts, e.g. '1 regression, 4 unchanged'."""
    parts = [f"{comparison.count(v)} {v}" for v in SEVERITY if comparison.count(v)]
    return ", ".join(parts) if parts else "no cases"


def resolution(comparison: Comparison) -> dict[str, Any]:
    """How many compared cases could see a slowdown of their threshold, and the largest such MDE."""
    compared = [case for case in comparison.cases if case.stats is not None]
    seen = [case for case in compared if case.mde <= case.threshold]
    return {
        "cases": len(compared),
        "could_see_threshold": len(seen),
        "need_more_rounds": len(compared) - len(seen),
        "largest_mde_seen": max((case.mde for case in seen), default=None),
    }


def _whole_pct(fraction: float) -> str:
    """A fraction as a whole percentage rounded up, e.g. 0.053 -> '6%'."""
    return f"{math.ceil(round(fraction * 100, 6))}%"


def resolution_line(comparison: Comparison) -> str:
    """E.g. 'this gate could see slowdowns of 6 % or more in 14 of 16 cases; 2 cases need more rounds'."""
    res = resolution(comparison)
    if not res["cases"]:
        return "no case was compared"
    need = res["need_more_rounds"]
    more = f"; {need} case{'s' if need != 1 else ''} need{'s' if need == 1 else ''} more rounds" if need else ""
    if not res["could_see_threshold"]:
        return f"this gate could not see a slowdown of the threshold in any of {res['cases']} cases{more}"
    return (
        f"this gate could see slowdowns of {_whole_pct(res['largest_mde_seen'])} or more in "
        f"{res['could_see_threshold']} of {res['cases']} cases{more}"
    )


def nothing_judged_line(comparison: Comparison) -> str:
    """Why the gate neither passes nor fails a comparison that judged no case (exit 2)."""
    return (
        "nothing judged: no case was measured in both runs with the same workload version and at least "
        f"{comparison.options.min_rounds} rounds per side ({summary_line(comparison)}); the gate vouches for nothing"
    )


def drift_lines(comparison: Comparison) -> list[str]:
    """Whether each side's machine changed during its run (from the reference case timed at start and end)."""
    lines = []
    for label, finding in zip(("baseline", "current"), comparison.drift, strict=True):
        if finding is None:
            lines.append(f"- {label}: drift not measured (the run did not time its reference case at the end)")
        else:
            lines.append(f"- {'⚠️ ' if finding.drifted else ''}{finding.text(label)}")
    return ["Machine drift during each run:", *lines]


def _gate_line(comparison: Comparison) -> str:
    """The rule in one paragraph, with this comparison's numbers."""
    opts = comparison.options
    judged = [case for case in comparison.cases if math.isfinite(case.p_holm)]
    level = f"{judged[0].confidence * 100:.4g}%" if judged else "–"
    per_workload = (
        " (" + ", ".join(f"{k} {v:.0%}" for k, v in sorted(opts.thresholds.items())) + ")" if opts.thresholds else ""
    )
    return (
        f"Gate: threshold {opts.threshold:.0%}{per_workload}, α = {opts.alpha:g}. Each case's {level} bootstrap "
        f"interval of the time ratio (Bonferroni over {len(judged)} judged cases) is placed against the band "
        "1/(1 + threshold) … 1 + threshold: `regression` when it lies wholly above and the Mann-Whitney U test "
        "is significant after Holm, `improvement` the mirror image, `unchanged` when it lies inside and the MDE "
        f"is at most the threshold, `inconclusive` otherwise; fewer than {opts.min_rounds} rounds are not judged. "
        f"MDE: the smallest slowdown the case would tell from no change with {POWER:.0%} probability."
    )


def to_markdown(comparison: Comparison, *, allowed_machine_change: bool = False) -> str:
    """A Markdown report: headline, the rule, resolution, machine differences, one table row per case."""
    if comparison.count("regression"):
        status = "❌ regression"
    elif comparison.exit_code == 1:
        status = "❌ cases missing without a recorded reason"
    elif comparison.exit_code == EXIT_NOTHING_JUDGED:
        status = "⛔ nothing judged"
    else:
        status = "✅ no regression"
    lines = [
        f"## devicebench compare: {status}",
        "",
        f"`{comparison.baseline}` (baseline) → `{comparison.current}` (current): {summary_line(comparison)}.",
        "",
        f"Resolution: {resolution_line(comparison)}.",
        "",
        _gate_line(comparison),
    ]
    if comparison.pooled_runs == (1, 1):
        lines += [
            "",
            "One run per side: the rounds show the noise within each run, not drift of the machine between "
            "the runs. On a shared runner, prefer the interleaved mode (several runs per side, alternated).",
        ]
    if comparison.machine_differences:
        head = "Machine changed (allowed by --allow-machine-change):" if allowed_machine_change else "Machine differs:"
        lines += ["", head, *[f"- {d}" for d in comparison.machine_differences]]
    if comparison.machine_notes:
        lines += ["", "Also differs (not a reason to refuse):", *[f"- {d}" for d in comparison.machine_notes]]
    lines += ["", *drift_lines(comparison)]
    lines += [
        "",
        "| verdict | case | baseline | current | time change | interval | MDE | p (Holm) | spread b/c | rounds b/c "
        "| note |",
        "|---|---|---:|---:|---:|---|---:|---:|---:|---:|---|",
    ]
    for case in comparison.cases:
        cs = case.stats
        if cs is None:
            cells = ["–"] * 8
        else:
            cells = [
                _fmt_time(cs.median_base),
                _fmt_time(cs.median_cur),
                _fmt_pct(cs.ratio),
                f"{_fmt_pct(cs.ci_low)} … {_fmt_pct(cs.ci_high)}" if math.isfinite(cs.ci_low) else "–",
                _fmt_mde(case.mde),
                f"{case.p_holm:.2g}" if math.isfinite(case.p_holm) else "–",
                f"{cs.noise_base:.0%} / {cs.noise_cur:.0%}",
                f"{cs.rounds_base} / {cs.rounds_cur}",
            ]
        name = case.name.replace("|", "\\|")
        note = "; ".join([case.reason, *case.notes]).replace("|", "\\|")
        lines.append(f"| {ICONS[case.verdict]} {case.verdict} | `{name}` | " + " | ".join(cells) + f" | {note} |")
    return "\n".join(lines) + "\n"


def _clean(value: Any) -> Any:
    """JSON-safe copy: nan/inf become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def _run_summary(label: str, run: RunFile | None) -> dict[str, Any]:
    """Path, date, commit, host and completeness of one side."""
    if run is None:
        return {"path": label}
    return {
        "path": label,
        "datetime": run.datetime,
        "commit": run.commit_info.id,
        "host": run.machine_info.devicebench.host,
        "complete": run.complete,
    }


def to_json(
    comparison: Comparison,
    base: RunFile | None = None,
    cur: RunFile | None = None,
    *,
    allowed_machine_change: bool = False,
) -> dict[str, Any]:
    """The verdict file: options, machine differences, verdict counts, exit code and every case."""
    cases: list[dict[str, Any]] = []
    for case in comparison.cases:
        row = {k: v for k, v in asdict(case).items() if k != "stats"}
        stats = asdict(case.stats) if case.stats else dict.fromkeys(CaseStats.__dataclass_fields__)
        row.update(stats)
        cases.append(row)
    opts = asdict(comparison.options)
    opts["thresholds"] = dict(comparison.options.thresholds)
    return _clean(
        {
            "schema": "devicebench-compare/1",
            "baseline": _run_summary(comparison.baseline, base),
            "current": _run_summary(comparison.current, cur),
            "options": opts,
            "machine": {
                "differences": comparison.machine_differences,
                "allowed": allowed_machine_change,
                "notes": comparison.machine_notes,
            },
            "pooled_runs": list(comparison.pooled_runs),
            "drift": {
                side: asdict(finding) if finding is not None else None
                for side, finding in zip(("baseline", "current"), comparison.drift, strict=True)
            },
            "summary": {v: comparison.count(v) for v in SEVERITY},
            "resolution": {**resolution(comparison), "line": resolution_line(comparison)},
            "exit_code": comparison.exit_code,
            "cases": cases,
        }
    )


def iter_regressions(comparison: Comparison) -> Iterable[CaseResult]:
    """The regressed cases."""
    return (case for case in comparison.cases if case.verdict == "regression")
