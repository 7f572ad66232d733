"""Baseline comparison: match cases of two runs, check the machines agree, give each case a verdict.

Pure functions on parsed results (the dicts in :class:`reports.load.Run`); the command line lives
in :mod:`reports.compare_cmd`. Verdicts, from most to least severe:

``regression``   slower by at least the threshold, significant after Holm correction, and the
                 bootstrap interval of the time ratio lies above ``1 + floor``;
``missing``      in the baseline, not in the current run;
``noisy``        spread (IQR/median) above ``max_noise`` or fewer than ``min_rounds`` rounds on
                 either side: never judged;
``improvement``  the mirror image of ``regression`` (time ratio at most ``1/(1+threshold)``);
``new``          in the current run only;
``unchanged``    everything else.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

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
    "to_json",
    "to_markdown",
]

SEVERITY = ("regression", "missing", "noisy", "improvement", "new", "unchanged")
ICONS = {
    "regression": "🔴", "missing": "⚫", "noisy": "🟡", "improvement": "🟢", "new": "🆕", "unchanged": "⚪",
}  # fmt: skip

#: machine_info keys whose values move between identical runs (clock speeds, load): never compared.
JITTER_KEYS = frozenset({"hz_actual", "hz_actual_friendly", "hz_actual_raw", "available", "reason"})


@dataclass(frozen=True)
class Options:
    """Thresholds of the regression gate."""

    threshold: float = 0.10
    thresholds: Mapping[str, float] = field(default_factory=dict)  # per workload
    alpha: float = 0.01
    floor: float = 0.02
    max_noise: float = 0.20
    min_rounds: int = 5
    n_resamples: int = 2000
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


def _not_judgeable(cs: CaseStats, options: Options) -> str | None:
    """Why a case cannot be judged safely, or None when it can."""
    fewest = min(cs.rounds_base, cs.rounds_cur)
    if fewest < options.min_rounds:
        return f"too few rounds ({fewest} < {options.min_rounds})"
    noise = max(cs.noise_base, cs.noise_cur)
    if not math.isfinite(noise) or not math.isfinite(cs.ratio):
        return "no usable spread (median 0 or no data)"
    if noise > options.max_noise:
        side = "baseline" if cs.noise_base >= cs.noise_cur else "current"
        return f"spread {noise:.0%} IQR/median on the {side} side > {options.max_noise:.0%}"
    return None


def judge(cs: CaseStats, p_holm: float, threshold: float, options: Options) -> tuple[str, str]:
    """Verdict and reason for a judgeable case from its statistics and Holm-adjusted p-value."""
    significant = math.isfinite(p_holm) and p_holm < options.alpha
    if cs.ratio >= 1 + threshold:
        if not significant:
            return "unchanged", f"slower but not significant (p_holm {p_holm:.2g} >= {options.alpha:g})"
        if not cs.ci_low > 1 + options.floor:
            return "unchanged", f"slower but the interval reaches {cs.ci_low:.3f} <= {1 + options.floor:.3f}"
        return "regression", f"{cs.ratio - 1:+.0%} time (threshold {threshold:.0%})"
    if cs.ratio <= 1 / (1 + threshold):
        if not significant:
            return "unchanged", f"faster but not significant (p_holm {p_holm:.2g} >= {options.alpha:g})"
        if not cs.ci_high < 1 / (1 + options.floor):
            return "unchanged", f"faster but the interval reaches {cs.ci_high:.3f}"
        return "improvement", f"{cs.ratio - 1:+.0%} time (threshold {threshold:.0%})"
    return "unchanged", f"within {threshold:.0%}"


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
    pending: list[tuple[dict[str, Any], CaseStats, float, Mapping[str, Any], Mapping[str, Any]]] = []
    results: list[CaseResult] = []
    for b, c in match_cases(base.get("benchmarks", []), cur.get("benchmarks", [])):
        ident = _identity(b if b is not None else c)  # type: ignore[arg-type]
        threshold = options.threshold_for(ident["workload"])
        unit = _extra(b or c or {}).get("throughput_unit")
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
                    throughput_unit=unit,
                    throughput_base=_throughput(b),
                    throughput_cur=_throughput(c),
                )
            )
            continue
        cs = case_stats(
            _rounds(b),
            _rounds(c),
            confidence=1 - options.alpha,
            n_resamples=options.n_resamples,
            seed=options.seed,
        )
        why = _not_judgeable(cs, options)
        if why:
            results.append(
                CaseResult(
                    **ident,
                    verdict="noisy",
                    reason=why,
                    threshold=threshold,
                    stats=cs,
                    throughput_unit=unit,
                    throughput_base=_throughput(b),
                    throughput_cur=_throughput(c),
                )
            )
            continue
        pending.append((ident, cs, threshold, b, c))
    adjusted = holm([cs.p_value for _, cs, _, _, _ in pending])
    for (ident, cs, threshold, b, c), p_holm in zip(pending, adjusted, strict=True):
        verdict, reason = judge(cs, p_holm, threshold, options)
        results.append(
            CaseResult(
                **ident,
                verdict=verdict,
                reason=reason,
                threshold=threshold,
                stats=cs,
                p_holm=p_holm,
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


def summary_line(comparison: Comparison) -> str:
    """One line counting the verdicts, e.g. '1 regression, 4 unchanged'."""
    parts = [f"{comparison.count(v)} {v}" for v in SEVERITY if comparison.count(v)]
    return ", ".join(parts) if parts else "no cases"


def to_markdown(comparison: Comparison, *, allowed_machine_change: bool = False) -> str:
    """A Markdown report: headline, machine differences, and one table row per case by severity."""
    opts = comparison.options
    status = "❌ regression" if comparison.exit_code else "✅ no regression"
    lines = [
        f"## devicebench compare: {status}",
        "",
        f"`{comparison.baseline}` (baseline) → `{comparison.current}` (current): {summary_line(comparison)}.",
        "",
        f"Gate: slowdown ≥ {opts.threshold:.0%}"
        + (
            " (" + ", ".join(f"{k} {v:.0%}" for k, v in sorted(opts.thresholds.items())) + ")"
            if opts.thresholds
            else ""
        )
        + f", Mann-Whitney U p < {opts.alpha:g} after Holm, {1 - opts.alpha:.0%} bootstrap interval of the "
        f"time ratio beyond {opts.floor:.0%}; not judged when IQR/median > {opts.max_noise:.0%} or "
        f"rounds < {opts.min_rounds}.",
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
        "| verdict | case | baseline | current | time change | interval | p (Holm) | spread b/c | rounds b/c | note |",
        "|---|---|---:|---:|---:|---|---:|---:|---:|---|",
    ]
    for case in comparison.cases:
        cs = case.stats
        if cs is None:
            cells = ["–"] * 7
        else:
            cells = [
                _fmt_time(cs.median_base),
                _fmt_time(cs.median_cur),
                _fmt_pct(cs.ratio),
                f"{_fmt_pct(cs.ci_low)} … {_fmt_pct(cs.ci_high)}" if math.isfinite(cs.ci_low) else "–",
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
            "exit_code": comparison.exit_code,
            "cases": cases,
        }
    )


def iter_regressions(comparison: Comparison) -> Iterable[CaseResult]:
    """The regressed cases."""
    return (case for case in comparison.cases if case.verdict == "regression")
