"""Power study of the regression gate on real rounds: how often the old and the new rule flag known slowdowns.

    python -m tools.power_study RUN [RUN ...] [--trials 200] [--threshold 0.10] [--alpha 0.01]
        [--effects 0,0.02,0.05,0.10,0.20,0.50] [--seed 0] [--markdown OUT.md]
    python -m tools.power_study RUN [RUN ...] --trim OUT.json [--cases 3]
    python -m tools.power_study BASE CUR [BASE CUR ...] --pairs [--threshold 0.10]

Each RUN is a run folder, a results folder of run folders, a benchmarks.json, or a trimmed sample
written by ``--trim`` (the per-round times only). A trial builds one baseline/current pair of results
with every case the runs share and judges it with both rules:

- ``across runs``: the baseline's rounds are resampled (with replacement, as many as the run had) from one
  recorded run and the current's from another, so that drift between runs is part of the noise, as in
  CI; the current's rounds are multiplied by 1 + slowdown.
- ``within a run``: both sides are resampled from the same run (no drift between runs): the rounds' own noise.

``--pairs`` judges the given runs as they are, in pairs (1st against 2nd, 3rd against 4th, ...), with both
rules, and prints each pair's verdicts and exit codes: the old rule's answer on real A/A or A/B pairs.

Slowdown 0 is an A/A pair. A flagged regression below the threshold is a false alarm; at and above it, a
detection. The new rule is the gate itself (reports.compare.compare); the old one (noise veto, point
estimate, floor) lives only here, for this comparison. Seeded: the same inputs give the same table.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from reports.compare import Options, compare
from reports.stats import CaseStats, case_stats, holm, relative_iqr
from results_format import SCHEMA_VERSION, RunFile, Stats, WorkloadSpec, run_folders

EFFECTS = (0.0, 0.02, 0.05, 0.10, 0.20, 0.50)
PAIRINGS = ("across runs", "within a run")


@dataclass(frozen=True)
class Recorded:
    """One recorded run: its label and each case's per-round times."""

    label: str
    cases: dict[str, list[float]]


class InputError(Exception):
    """A file the study cannot read, with its path."""


def _rounds(bench: Mapping[str, Any]) -> list[float]:
    """Finite per-round times (stats.data) of one benchmark."""
    data = (bench.get("stats") or {}).get("data") or []
    return [float(x) for x in data if isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)]


def read_recorded(path: Path) -> list[Recorded]:
    """The runs in a run folder, a results folder of run folders, a benchmarks.json or a trimmed sample."""
    if path.is_dir() and not (path / "benchmarks.json").exists():
        folders = run_folders(path)
        if folders:
            return [run for folder in folders for run in read_recorded(folder)]
    file = path / "benchmarks.json" if path.is_dir() else path
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{file}: {exc}") from None
    if isinstance(data, dict) and isinstance(data.get("runs"), list):  # a trimmed sample
        try:
            return [Recorded(str(r["label"]), {str(k): [float(x) for x in v] for k, v in r["cases"].items()})
                    for r in data["runs"]]  # fmt: skip
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise InputError(f"{file}: not a trimmed sample ({exc!r})") from None
    if not isinstance(data, dict) or not isinstance(data.get("benchmarks"), list):
        raise InputError(f"{file}: neither a pytest-benchmark JSON file nor a trimmed sample")
    cases = {str(b.get("name")): _rounds(b) for b in data["benchmarks"] if isinstance(b, Mapping)}
    label = path.parent.name + "/" + path.name if path.is_dir() else str(path)
    return [Recorded(label, {name: rounds for name, rounds in cases.items() if rounds})]


def shared_cases(runs: Sequence[Recorded]) -> list[str]:
    """Case names every run has, sorted."""
    names = set(runs[0].cases)
    for run in runs[1:]:
        names &= set(run.cases)
    return sorted(names)


def trim(runs: Sequence[Recorded], cases: int) -> dict[str, Any]:
    """A small sample for tests: the first `cases` shared cases of every run, per-round times only."""
    names = shared_cases(runs)[:cases]
    return {
        "note": "per-round times (seconds) written by python -m tools.power_study --trim",
        "runs": [{"label": r.label, "cases": {n: [float(f"{x:.6g}") for x in r.cases[n]] for n in names}}
                 for r in runs],
    }  # fmt: skip


STUDY_DEVICE = {"backend": "study", "name": "CPU:0", "kind": "cpu", "model": "recorded rounds"}
STUDY_BACKENDS = {"study": {"available": True, "version": "0"}}
#: what the study's results file says its one workload is (schema 3 files describe their workloads)
STUDY_SPEC = WorkloadSpec(
    name="matmul", version=1, title="recorded rounds", params=("n", "dtype"), keys=("n", "dtype"),
    work_unit="FLOP", throughput_unit="GFLOP/s",
)  # fmt: skip


def _case(name: str, rounds: Sequence[float]) -> dict[str, Any]:
    """One case called `name` with these per-round times (a matmul whose dtype is the name: cases match by it)."""
    return {
        "name": name,
        "fullname": name,
        "param": name,
        "extra_info": {
            "workload": "matmul", "workload_version": 1, "backend": "study", "backend_version": "0",
            "device": "CPU:0", "device_kind": "cpu", "device_name": "recorded rounds",
            "params": {"n": 1, "dtype": name}, "work_per_call": 1.0, "work_unit": "FLOP",
            "measure": "latency", "throughput": None,  # rounds only: no throughput to carry
            "sync": "none", "placement": "CPU:0", "precision": {"dtype": "float32"}, "threads": {},
            "warmup": {"calls": 0, "first_call_s": 0.0, "last_call_s": 0.0}, "one_time_cost_s": 0.0,
            "profile": "study",
        },
        "stats": Stats.from_rounds(list(rounds)).model_dump(),
    }  # fmt: skip


def _results(cases: Mapping[str, Sequence[float]]) -> RunFile:
    """A minimal results file for reports.compare (which reads typed runs): one case per name, no drift record."""
    return RunFile.model_validate(
        {
            "machine_info": {
                "devicebench": {"version": "0", "host": "study", "backends": STUDY_BACKENDS, "devices": [STUDY_DEVICE],
                                "cpu_model": "recorded rounds", "nvml": {"enabled": False}},
            },
            "commit_info": {},
            "benchmarks": [_case(name, rounds) for name, rounds in cases.items()],
            "datetime": "1970-01-01T00:00:00+00:00",
            "version": "0",
            "devicebench": {
                "schema_version": SCHEMA_VERSION, "suite_version": "0", "profile": "study", "backends": STUDY_BACKENDS,
                "devices": [STUDY_DEVICE], "nvml": {"enabled": False}, "workloads": {"matmul": STUDY_SPEC},
                "run": {"state": "complete", "complete": True, "started": "1970-01-01T00:00:00+00:00",
                        "measured": len(cases)},
            },
        }
    )  # fmt: skip


def old_rule(
    base: Mapping[str, Sequence[float]],
    cur: Mapping[str, Sequence[float]],
    *,
    threshold: float,
    alpha: float = 0.01,
    floor: float = 0.02,
    max_noise: float = 0.20,
    min_rounds: int = 5,
    seed: int = 0,
) -> dict[str, str]:
    """The gate's rule before issue 12, verdict per case: noise veto, then point estimate + Holm + floor."""
    verdicts: dict[str, str] = {}
    judged: list[tuple[str, CaseStats]] = []
    for name in base:
        cs = case_stats(base[name], cur[name], confidence=1 - alpha, n_resamples=2000, seed=seed)
        noise = max(cs.noise_base, cs.noise_cur)
        if min(cs.rounds_base, cs.rounds_cur) < min_rounds or not math.isfinite(noise) or noise > max_noise:
            verdicts[name] = "noisy"
        else:
            judged.append((name, cs))
    for (name, cs), p_holm in zip(judged, holm([cs.p_value for _, cs in judged]), strict=True):
        significant = math.isfinite(p_holm) and p_holm < alpha
        if cs.ratio >= 1 + threshold and significant and cs.ci_low > 1 + floor:
            verdicts[name] = "regression"
        elif cs.ratio <= 1 / (1 + threshold) and significant and cs.ci_high < 1 / (1 + floor):
            verdicts[name] = "improvement"
        else:
            verdicts[name] = "unchanged"
    return verdicts


def new_rule(
    base: Mapping[str, Sequence[float]], cur: Mapping[str, Sequence[float]], *, threshold: float, alpha: float
) -> dict[str, tuple[str, float]]:
    """The gate as shipped (reports.compare): verdict and MDE per case."""
    result = compare(_results(base), _results(cur), Options(threshold=threshold, alpha=alpha))
    return {case.name: (case.verdict, case.mde) for case in result.cases}


@dataclass
class Tally:
    """Verdict counts of one (pairing, slowdown) cell, per case and over all cases."""

    old: Counter
    new: Counter
    old_by_case: dict[str, Counter]
    new_by_case: dict[str, Counter]
    mde_by_case: dict[str, list[float]]
    comparisons: int = 0
    old_exit_1: int = 0
    new_exit_1: int = 0


def study(
    runs: Sequence[Recorded],
    *,
    trials: int = 200,
    effects: Sequence[float] = EFFECTS,
    threshold: float = 0.10,
    alpha: float = 0.01,
    seed: int = 0,
) -> dict[tuple[str, float], Tally]:
    """Run every (pairing, slowdown) cell for `trials` resampled comparisons."""
    names = shared_cases(runs)
    if len(runs) < 2 or not names:
        raise ValueError("need at least two runs that share a case")
    out: dict[tuple[str, float], Tally] = {}
    for p_index, pairing in enumerate(PAIRINGS):
        for e_index, effect in enumerate(effects):
            rng = np.random.default_rng([seed, p_index, e_index])
            tally = Tally(Counter(), Counter(), defaultdict(Counter), defaultdict(Counter), defaultdict(list))
            for _ in range(trials):
                i, j = rng.choice(len(runs), size=2, replace=False)
                src_b, src_c = (runs[i], runs[j]) if pairing == "across runs" else (runs[i], runs[i])
                base = {n: rng.choice(src_b.cases[n], size=len(src_b.cases[n])) for n in names}
                cur = {n: rng.choice(src_c.cases[n], size=len(src_c.cases[n])) * (1 + effect) for n in names}
                old = old_rule(base, cur, threshold=threshold, alpha=alpha)
                new = new_rule(base, cur, threshold=threshold, alpha=alpha)
                tally.comparisons += 1
                tally.old_exit_1 += "regression" in old.values()
                tally.new_exit_1 += any(v == "regression" for v, _ in new.values())
                for n in names:
                    tally.old[old[n]] += 1
                    tally.new[new[n][0]] += 1
                    tally.old_by_case[n][old[n]] += 1
                    tally.new_by_case[n][new[n][0]] += 1
                    tally.mde_by_case[n].append(new[n][1])
            out[(pairing, effect)] = tally
    return out


def _rate(counter: Counter, verdict: str) -> str:
    """Share of `verdict` in a counter, as a percentage."""
    total = sum(counter.values())
    return f"{counter[verdict] / total:.1%}" if total else "–"


def _kind(effect: float, threshold: float) -> str:
    """What a flag means at this slowdown: a false alarm below the threshold, else a detection."""
    if effect == 0:
        return "A/A: false alarm"
    return "false alarm" if effect < threshold - 1e-12 else "detection"


def _median_mde(values: Sequence[float]) -> str:
    """Median MDE as a percentage (∞ when most were infinite)."""
    med = statistics.median(values) if values else math.nan
    return "–" if math.isnan(med) else "∞" if math.isinf(med) else f"{med:.1%}"


def table(results: Mapping[tuple[str, float], Tally], threshold: float) -> str:
    """The Markdown tables: rates per rule and slowdown, then the per-case breakdown."""
    lines = [
        "| pairing | slowdown | a flag is | old: regression | old: noisy | old: unchanged | new: regression "
        "| new: inconclusive | new: unchanged | comparisons exiting 1 (old / new) |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for (pairing, effect), t in results.items():
        lines.append(
            f"| {pairing} | {effect:.0%} | {_kind(effect, threshold)} | {_rate(t.old, 'regression')} "
            f"| {_rate(t.old, 'noisy')} | {_rate(t.old, 'unchanged')} | {_rate(t.new, 'regression')} "
            f"| {_rate(t.new, 'inconclusive')} "
            f"| {_rate(t.new, 'unchanged')} | {t.old_exit_1 / t.comparisons:.1%} / {t.new_exit_1 / t.comparisons:.1%} |"
        )
    effects = sorted({effect for _, effect in results})
    lines += [
        "",
        "Per case, across runs: regression rate old / new at each slowdown, and the new rule's median MDE.",
        "",
        "| case | median MDE | " + " | ".join(f"{e:.0%}" for e in effects) + " |",
        "|---|---:|" + "---:|" * len(effects),
    ]
    across = {effect: t for (pairing, effect), t in results.items() if pairing == "across runs"}
    for name in sorted(next(iter(across.values())).new_by_case):
        cells = [
            f"{_rate(across[e].old_by_case[name], 'regression')} / {_rate(across[e].new_by_case[name], 'regression')}"
            for e in effects
        ]
        mde = _median_mde([m for t in across.values() for m in t.mde_by_case[name]])
        lines.append(f"| `{name}` | {mde} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def describe(runs: Sequence[Recorded]) -> str:
    """One line per case: rounds per run and the median spread (IQR/median) over the runs."""
    lines = []
    for name in shared_cases(runs):
        rounds = [len(r.cases[name]) for r in runs]
        spread = statistics.median(relative_iqr(r.cases[name]) for r in runs)
        medians = [statistics.median(r.cases[name]) for r in runs]
        lines.append(
            f"- `{name}`: {min(rounds)}–{max(rounds)} rounds per run, median IQR/median {spread:.0%}, "
            f"run medians {min(medians) * 1e3:.3g}–{max(medians) * 1e3:.3g} ms"
        )
    return "\n".join(lines)


def real_pairs(runs: Sequence[Recorded], *, threshold: float, alpha: float) -> str:
    """Both rules on consecutive pairs of real runs (no resampling): verdicts and exit codes, as Markdown."""
    lines = [
        "| baseline | current | old exit | new exit | old verdicts | new verdicts |",
        "|---|---|---:|---:|---|---|",
    ]
    for base, cur in zip(runs[::2], runs[1::2], strict=False):
        names = sorted(set(base.cases) & set(cur.cases))
        old = old_rule({n: base.cases[n] for n in names}, {n: cur.cases[n] for n in names}, threshold=threshold,
                       alpha=alpha)  # fmt: skip
        new = new_rule({n: base.cases[n] for n in names}, {n: cur.cases[n] for n in names}, threshold=threshold,
                       alpha=alpha)  # fmt: skip

        def short(name: str) -> str:
            return name.rsplit("-", 2)[-2] if name.count("-") >= 2 else name

        old_v = ", ".join(f"{short(n)} {old[n]}" for n in names)
        new_v = ", ".join(f"{short(n)} {new[n][0]}" for n in names)
        old_exit = int("regression" in old.values())
        new_exit = int(any(v == "regression" for v, _ in new.values()))
        lines.append(f"| {base.label} | {cur.label} | {old_exit} | {new_exit} | {old_v} | {new_v} |")
    return "\n".join(lines) + "\n"


def _effects(text: str) -> list[float]:
    """argparse type: comma-separated fractions."""
    try:
        values = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected fractions such as 0,0.05,0.1, got {text!r}") from None
    if not values or any(v < 0 for v in values):
        raise argparse.ArgumentTypeError(f"expected non-negative fractions, got {text!r}")
    return values


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: print (or write) the study's tables, or write a trimmed sample with --trim."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="run folders, benchmarks.json files or trimmed samples")
    parser.add_argument("--trials", type=int, default=200, help="resampled comparisons per cell (default 200)")
    parser.add_argument("--effects", type=_effects, default=list(EFFECTS), help="slowdowns, e.g. 0,0.05,0.2")
    parser.add_argument("--threshold", type=float, default=0.10, help="gate threshold (default 0.10)")
    parser.add_argument("--alpha", type=float, default=0.01, help="gate alpha (default 0.01)")
    parser.add_argument("--seed", type=int, default=0, help="resampling seed (default 0)")
    parser.add_argument("--markdown", type=Path, help="also write the tables here")
    parser.add_argument("--trim", type=Path, metavar="OUT.json", help="write a trimmed sample instead of a study")
    parser.add_argument("--cases", type=int, default=3, help="cases kept by --trim (default 3)")
    parser.add_argument("--pairs", action="store_true", help="judge the runs as given, in pairs, with both rules")
    args = parser.parse_args(argv)
    try:
        runs = [run for path in args.runs for run in read_recorded(path)]
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if len(runs) < 2 or not shared_cases(runs):
        print("error: need at least two runs that share a case", file=sys.stderr)
        return 2
    if args.trim:
        args.trim.write_text(json.dumps(trim(runs, args.cases), indent=0) + "\n", encoding="utf-8")
        return 0
    if args.pairs:
        sys.stdout.write(real_pairs(runs, threshold=args.threshold, alpha=args.alpha))
        return 0
    results = study(
        runs, trials=args.trials, effects=args.effects, threshold=args.threshold, alpha=args.alpha, seed=args.seed
    )
    text = (
        f"{len(runs)} runs, {args.trials} trials per cell, threshold {args.threshold:.0%}, alpha {args.alpha:g}, "
        f"seed {args.seed}.\n\n{describe(runs)}\n\n{table(results, args.threshold)}"
    )
    sys.stdout.write(text)
    if args.markdown:
        args.markdown.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
