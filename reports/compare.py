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
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from reports.decide import POWER, Decision, decide, interval_confidence, resamples_for, too_few_rounds
from reports.stats import CaseStats, case_stats, holm

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
    "pool_runs",
    "resolution_line",
    "to_json",
    "to_markdown",
]

SEVERITY = ("regression", "missing", "inconclusive", "improvement", "new", "unchanged")
ICONS = {
    "regression": "🔴", "missing": "⚫", "inconclusive": "🟡", "improvement": "🟢", "new": "🆕", "unchanged": "⚪",
}  # fmt: skip

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

    def count(self, verdict: str) -> int:
        """How many cases got `verdict`."""
        return sum(case.verdict == verdict for case in self.cases)

    @property
    def exit_code(self) -> int:
        """0 when clean, 1 when any case regressed."""
        return 1 if self.count("regression") else 0


def _extra(bench: Mapping[str, Any]) -> Mapping[str, Any]:
    """A benchmark's extra_info (empty when absent)."""
    extra = bench.get("extra_info")
    return extra if isinstance(extra, Mapping) else {}


def case_key(bench: Mapping[str, Any]) -> tuple[str, str, str, str]:
    """Match key of one benchmark: (test function, backend, device, canonical params)."""
    name = str(bench.get("name", ""))
    extra = _extra(bench)
    params = extra.get("params")
    if not isinstance(params, Mapping):
        # No devicebench extra_info: fall back on the full pytest name.
        return (name, "", "", "")
    return (
        name.split("[", 1)[0],
        str(extra.get("backend", "")),
        str(extra.get("device", "")),
        json.dumps(params, sort_keys=True, default=str),
    )


def match_cases(
    base: Sequence[Mapping[str, Any]], cur: Sequence[Mapping[str, Any]]
) -> list[tuple[Mapping[str, Any] | None, Mapping[str, Any] | None]]:
    """Pair up benchmarks by case_key: (base, cur), (base, None) when missing, (None, cur) when new."""
    base_by = {}
    for bench in base:
        base_by.setdefault(case_key(bench), bench)
    cur_by = {}
    for bench in cur:
        cur_by.setdefault(case_key(bench), bench)
    pairs: list[tuple[Mapping[str, Any] | None, Mapping[str, Any] | None]] = []
    for key, bench in base_by.items():
        pairs.append((bench, cur_by.get(key)))
    pairs.extend((None, bench) for key, bench in cur_by.items() if key not in base_by)
    return pairs


def _devicebench(machine_info: Mapping[str, Any]) -> Mapping[str, Any]:
    """machine_info['devicebench'] (empty when absent)."""
    block = machine_info.get("devicebench")
    return block if isinstance(block, Mapping) else {}


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


def machine_differences(base: Mapping[str, Any], cur: Mapping[str, Any]) -> list[str]:
    """What differs between two machine_info dicts: CPU model, device models, NVIDIA driver, backends."""
    db_base, db_cur = _devicebench(base), _devicebench(cur)
    diffs: list[str] = []

    def cpu_model(info: Mapping[str, Any], block: Mapping[str, Any]) -> Any:
        cpu = info.get("cpu")
        return block.get("cpu_model") or (cpu.get("brand_raw") if isinstance(cpu, Mapping) else None)

    diffs += _diff("CPU model", cpu_model(base, db_base), cpu_model(cur, db_cur))
    diffs += _diff("NVIDIA driver", db_base.get("nvidia_driver"), db_cur.get("nvidia_driver"))

    def devices(block: Mapping[str, Any]) -> dict[str, Any]:
        found = {}
        for dev in block.get("devices") or []:
            if not isinstance(dev, Mapping):
                continue
            # The format doc writes {"device": "GPU:0", "name": <model>}; the plugin writes
            # {"name": "GPU:0", "model": <model>}: accept both.
            ident = dev.get("device") or dev.get("name")
            model = dev.get("model") if "model" in dev else dev.get("name") if "device" in dev else None
            found[f"{dev.get('backend', '?')} {ident}"] = model
        return found

    dev_base, dev_cur = devices(db_base), devices(db_cur)
    for key in sorted(dev_base.keys() | dev_cur.keys()):
        diffs += _diff(f"device {key}", dev_base.get(key, "absent"), dev_cur.get(key, "absent"))

    for backend, key, old, new in _backend_changes(db_base, db_cur):
        if _BUILD_KEY.search(key):
            diffs += _diff(f"{backend} {key}", old, new)
    return diffs


#: backend keys that describe the build (versions, CUDA/cuDNN): a change refuses the comparison.
_BUILD_KEY = re.compile(r"version|cuda|cudnn|rocm|tensorrt|built|build", re.IGNORECASE)


def _backend_changes(db_base: Mapping[str, Any], db_cur: Mapping[str, Any]) -> list[tuple[str, str, Any, Any]]:
    """(backend, key, old, new) for every differing leaf of backends both runs have."""
    back_base, back_cur = db_base.get("backends") or {}, db_cur.get("backends") or {}
    changes = []
    for backend in sorted(set(back_base) & set(back_cur)):
        flat_base, flat_cur = _flatten(back_base[backend]), _flatten(back_cur[backend])
        for key in sorted(flat_base.keys() | flat_cur.keys()):
            if flat_base.get(key) != flat_cur.get(key):
                changes.append((backend, key, flat_base.get(key), flat_cur.get(key)))
    return changes


def machine_notes(base: Mapping[str, Any], cur: Mapping[str, Any]) -> list[str]:
    """Differences worth showing that do not refuse a comparison: core counts, settings, image tag."""
    db_base, db_cur = _devicebench(base), _devicebench(cur)
    notes: list[str] = []
    for key, label in (
        ("cpu_cores", "CPU cores"),
        ("cpu_usable_cores", "usable CPU cores (affinity)"),
        ("container_image", "container image"),
    ):
        notes += _diff(label, db_base.get(key), db_cur.get(key))
    for backend, key, old, new in _backend_changes(db_base, db_cur):
        if not _BUILD_KEY.search(key):
            notes += _diff(f"{backend} {key}", old, new)
    return notes


def pool_runs(runs: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """One results dict from several runs of the same code: every case's rounds concatenated.

    For the interleaved mode (baseline and candidate run alternately in one job): pooling the
    rounds of runs spread over the job balances slow drifts of the machine between both sides.
    machine_info, commit and datetime come from the first run; skipped cases from all of them.
    """
    if not runs:
        raise ValueError("no runs to pool")
    if len(runs) == 1:
        return dict(runs[0])
    pooled: dict[tuple[str, str, str, str], dict[str, Any]] = {}
    for data in runs:
        for bench in data.get("benchmarks", []):
            key = case_key(bench)
            if key not in pooled:
                pooled[key] = json.loads(json.dumps(bench))  # a deep copy we may extend
                continue
            stats = pooled[key].setdefault("stats", {})
            stats["data"] = [*stats.get("data", []), *_rounds(bench)]
    for bench in pooled.values():
        stats = bench.get("stats", {})
        data = sorted(_rounds(bench))
        if data:
            mid = len(data) // 2
            stats["median"] = data[mid] if len(data) % 2 else (data[mid - 1] + data[mid]) / 2
            stats["rounds"] = len(data)
    first = dict(runs[0])
    first["benchmarks"] = list(pooled.values())
    skipped = [e for data in runs for e in ((data.get("devicebench") or {}).get("skipped") or [])]
    first["devicebench"] = {**(first.get("devicebench") or {}), "skipped": skipped, "pooled_runs": len(runs)}
    return first


def _rounds(bench: Mapping[str, Any]) -> list[float]:
    """Per-round times (stats.data) of a benchmark."""
    data = (bench.get("stats") or {}).get("data") or []
    return [float(x) for x in data if isinstance(x, int | float) and not isinstance(x, bool)]


def _throughput(bench: Mapping[str, Any] | None) -> float | None:
    """A benchmark's extra_info.throughput, if numeric."""
    value = _extra(bench).get("throughput") if bench else None
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _not_judgeable(base: Sequence[float], cur: Sequence[float], options: Options) -> str | None:
    """Why a case cannot be judged (too few rounds, no positive median), or None when it can."""
    base = [x for x in base if math.isfinite(x)]
    cur = [x for x in cur if math.isfinite(x)]
    short = too_few_rounds(len(base), len(cur), options.min_rounds)
    if short:
        return short
    if not (statistics.median(base) > 0 and statistics.median(cur) > 0):
        return "no usable rounds (median 0)"
    return None


def judge(cs: CaseStats, p_holm: float, threshold: float, options: Options, judged: int = 1) -> Decision:
    """Verdict, reason and MDE of a judged case (one of `judged` in the Holm family); see reports.decide."""
    return decide(cs, p_holm, threshold, options.alpha, judged)


def _identity(bench: Mapping[str, Any]) -> dict[str, Any]:
    """Name, workload, backend, device and params of a benchmark."""
    extra = _extra(bench)
    params = extra.get("params")
    return {
        "name": str(bench.get("name", "?")),
        "workload": extra.get("workload") or str(bench.get("name", "")).split("[", 1)[0].removeprefix("test_"),
        "backend": extra.get("backend"),
        "device": extra.get("device"),
        "params": dict(params) if isinstance(params, Mapping) else {},
    }


def _skip_reason(data: Mapping[str, Any], name: str) -> str | None:
    """The reason a run recorded for leaving the case `name` out (devicebench.skipped), if any."""
    block = data.get("devicebench")
    for entry in (block.get("skipped") or []) if isinstance(block, Mapping) else []:
        if isinstance(entry, Mapping) and entry.get("name") == name:
            return f"{entry.get('kind', 'skipped')}: {entry.get('reason', '')}".strip(": ")
    return None


def compare(
    base: Mapping[str, Any],
    cur: Mapping[str, Any],
    options: Options | None = None,
    *,
    labels: tuple[str, str] = ("baseline", "current"),
) -> Comparison:
    """Compare two parsed results files case by case (Holm correction across the judged cases)."""
    options = options or Options()
    # First pass: who is judged. The interval level and the Holm family both depend on how many.
    pending: list[tuple[dict[str, Any], float, Mapping[str, Any], Mapping[str, Any], str | None]] = []
    results: list[CaseResult] = []
    for b, c in match_cases(base.get("benchmarks", []), cur.get("benchmarks", [])):
        ident = _identity(b if b is not None else c)  # type: ignore[arg-type]
        threshold = options.threshold_for(ident["workload"])
        if b is None or c is None:
            verdict = "new" if b is None else "missing"
            skipped = _skip_reason(cur, ident["name"]) if c is None else None
            reason = skipped or ("only in the current run" if b is None else "not in the current run")
            results.append(
                CaseResult(
                    **ident,
                    verdict=verdict,
                    reason=reason,
                    threshold=threshold,
                    throughput_unit=_extra(b or c or {}).get("throughput_unit"),
                    throughput_base=_throughput(b),
                    throughput_cur=_throughput(c),
                )
            )
            continue
        pending.append((ident, threshold, b, c, _not_judgeable(_rounds(b), _rounds(c), options)))
    judged = sum(why is None for *_, why in pending)
    confidence = interval_confidence(options.alpha, judged)
    n_resamples = resamples_for(options.alpha, judged, options.n_resamples)
    stats = [
        case_stats(_rounds(b), _rounds(c), confidence=confidence, n_resamples=n_resamples, seed=options.seed)
        for _, _, b, c, _ in pending
    ]
    adjusted = iter(holm([cs.p_value for cs, (*_, why) in zip(stats, pending, strict=True) if why is None]))
    for cs, (ident, threshold, b, c, why) in zip(stats, pending, strict=True):
        if why is None:
            p_holm = next(adjusted)
            decision = judge(cs, p_holm, threshold, options, judged)
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
                throughput_unit=_extra(b).get("throughput_unit"),
                throughput_base=_throughput(b),
                throughput_cur=_throughput(c),
            )
        )
    results.sort(key=_severity_key)
    return Comparison(
        baseline=labels[0],
        current=labels[1],
        cases=results,
        machine_differences=machine_differences(base.get("machine_info") or {}, cur.get("machine_info") or {}),
        options=options,
        machine_notes=machine_notes(base.get("machine_info") or {}, cur.get("machine_info") or {}),
        pooled_runs=(_pooled(base), _pooled(cur)),
    )


def _pooled(data: Mapping[str, Any]) -> int:
    """How many runs a results dict pools (1 for a plain run)."""
    block = data.get("devicebench")
    count = block.get("pooled_runs") if isinstance(block, Mapping) else None
    return count if isinstance(count, int) and count > 0 else 1


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
    status = "❌ regression" if comparison.exit_code else "✅ no regression"
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
        note = case.reason.replace("|", "\\|")
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


def _run_summary(label: str, data: Mapping[str, Any]) -> dict[str, Any]:
    """Path, datetime and commit of one side."""
    commit = data.get("commit_info") if isinstance(data.get("commit_info"), Mapping) else {}
    return {
        "path": label,
        "datetime": data.get("datetime"),
        "commit": commit.get("id"),
        "host": (data.get("machine_info") or {}).get("node"),
    }


def to_json(
    comparison: Comparison,
    base: Mapping[str, Any] | None = None,
    cur: Mapping[str, Any] | None = None,
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
            "baseline": _run_summary(comparison.baseline, base or {}),
            "current": _run_summary(comparison.current, cur or {}),
            "options": opts,
            "machine": {
                "differences": comparison.machine_differences,
                "allowed": allowed_machine_change,
                "notes": comparison.machine_notes,
            },
            "pooled_runs": list(comparison.pooled_runs),
            "summary": {v: comparison.count(v) for v in SEVERITY},
            "resolution": {**resolution(comparison), "line": resolution_line(comparison)},
            "exit_code": comparison.exit_code,
            "cases": cases,
        }
    )


def iter_regressions(comparison: Comparison) -> Iterable[CaseResult]:
    """The regressed cases."""
    return (case for case in comparison.cases if case.verdict == "regression")
