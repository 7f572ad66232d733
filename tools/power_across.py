"""Power study of the gate across runs on recorded runs: one-run gate against window model and confirmation.

    python -m tools.power_across RUN [RUN ...] [--window 5] [--pairs 5] [--trials 200]
        [--effects 0,0.02,0.05,0.10,0.20,0.50] [--threshold 0.10] [--alpha 0.01] [--seed 0] [--markdown OUT.md]

The RUNs (run folders or results folders of them, as tools/power_study.py reads them) are taken in name
order, that is in the order they were recorded. A trial, for slowdown e:

1. picks a random position s: the baseline window is runs s … s+K-1 and the current run is run s+K (the
   next run, as in CI); every run's rounds are resampled (bootstrap) and the current's multiplied by 1 + e;
2. judges it with the one-run gate of f2917fb (the last window run against the current run, rounds only:
   reports.compare) and with the window model (reports.runs_model: `regression`, and the cases to confirm),
   twice: each case's tau^2 from its own runs alone (the rule before pooling) and moderated toward the
   machine's from every case of the trial (reports.runs_model.machine_prior: the gate's rule);
3. simulates the confirmation for the cases to confirm, judged by reports.confirm: with ``--confirm rounds``
   (the default, as tools/confirm.py --mode rounds) N pairs of rounds (default 40) drawn from one recorded
   run at a random position, the head's × (1 + e): rounds timed alternately see the same machine; with
   ``--confirm runs``, N pairs of whole runs (default 5) from 2N consecutive recorded runs (even runs the
   base, odd runs the head). A comparison exits 1 after confirmation when any of its cases is confirmed.
   Both rules' flagged cases are judged on the same re-timed pairs.

Slowdowns below the threshold count as false alarms when flagged, at and above it as detections.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from reports.confirm import confirm_case, pair_log_ratios
from reports.runs_model import RunSummary, across, between_groups, dl_between, judge_across, machine_prior, run_summary
from tools.power_study import EFFECTS, InputError, Recorded, new_rule, read_recorded, shared_cases


def _resample(rng: np.random.Generator, rounds: Sequence[float], scale: float = 1.0) -> list[float]:
    """A bootstrap resample of one run's rounds, scaled."""
    return list(rng.choice(np.asarray(rounds), size=len(rounds)) * scale)


def trial(
    runs: Sequence[Recorded],
    names: Sequence[str],
    rng: np.random.Generator,
    *,
    effect: float,
    window: int,
    pairs: int,
    threshold: float,
    alpha: float,
    mode: str = "rounds",
) -> dict[str, object]:
    """One resampled comparison judged three ways; what each would have done."""
    s = int(rng.integers(0, len(runs) - window))
    base_runs = [{n: _resample(rng, runs[s + k].cases[n]) for n in names} for k in range(window)]
    cur = {n: _resample(rng, runs[s + window].cases[n], 1 + effect) for n in names}
    one_run = new_rule(base_runs[-1], cur, threshold=threshold, alpha=alpha)
    confidence = 1 - alpha / len(names)
    summaries: dict[str, tuple[list[RunSummary], RunSummary]] = {}
    for n in names:
        window_runs = [run_summary(r[n]) for r in base_runs]
        current = run_summary(cur[n])
        if current is not None and all(x is not None for x in window_runs):
            summaries[n] = ([x for x in window_runs if x], current)
    prior = machine_prior([dl_between(between_groups(w, [c])) for w, c in summaries.values()])
    flagged, regressions, mdes, own_mdes = [], [], {}, {}
    own_flagged, own_regressions = [], []
    for n, (window_runs, current) in summaries.items():
        verdict = judge_across(across(window_runs, [current], confidence=confidence, prior=prior), threshold)
        mdes[n] = verdict.mde
        if verdict.confirm:
            flagged.append(n)
        if verdict.verdict == "regression":
            regressions.append(n)
        own = judge_across(across(window_runs, [current], confidence=confidence), threshold)
        own_mdes[n] = own.mde
        if own.confirm:
            own_flagged.append(n)
        if own.verdict == "regression":
            own_regressions.append(n)
    confirmed, own_confirmed = [], []
    if flagged or own_flagged:
        c = int(rng.integers(0, len(runs) - (2 * pairs if mode == "runs" else 1) + 1))
        for n in sorted(set(flagged) | set(own_flagged)):
            if mode == "runs":
                base = [_resample(rng, runs[c + 2 * k].cases[n]) for k in range(pairs)]
                head = [_resample(rng, runs[c + 2 * k + 1].cases[n], 1 + effect) for k in range(pairs)]
            else:
                rounds = np.asarray(runs[c].cases[n])
                base = [[x] for x in rng.choice(rounds, size=pairs)]
                head = [[x * (1 + effect)] for x in rng.choice(rounds, size=pairs)]
            ratios = pair_log_ratios(base, head)
            # the same re-timed pairs judged for each rule, at its own Bonferroni level
            for chosen, out in ((flagged, confirmed), (own_flagged, own_confirmed)):
                if n in chosen and confirm_case(n, ratios, threshold, 1 - alpha / len(chosen)).confirmed:
                    out.append(n)
    return {
        "one_run": [n for n, (v, _) in one_run.items() if v == "regression"],
        "regressions": regressions,
        "flagged": flagged,
        "confirmed": confirmed,
        "mde": mdes,
        "own_mde": own_mdes,
        "own_regressions": own_regressions,
        "own_flagged": own_flagged,
        "own_confirmed": own_confirmed,
    }


def _median_pct(values: Sequence[float]) -> str:
    """The median of the finite values as a percentage, or ∞."""
    finite = [m for m in values if math.isfinite(m)]
    return f"{float(np.median(finite)):.0%}" if finite else "∞"


def study(
    runs: Sequence[Recorded],
    *,
    trials: int,
    effects: Sequence[float],
    window: int,
    pairs: int,
    threshold: float,
    alpha: float,
    seed: int,
    mode: str = "rounds",
) -> str:
    """The study's Markdown tables."""
    names = shared_cases(runs)
    rows = [
        "| slowdown | a flag is | one-run gate exits 1 | own τ²: window model exits 1 | own τ²: flagged "
        "| own τ²: exits 1 after confirmation | pooled τ²: window model exits 1 | pooled τ²: flagged "
        "| pooled τ²: exits 1 after confirmation | pooled τ²: cases confirmed |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    per_case: dict[str, dict[float, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0, 0]))
    mdes: dict[str, list[float]] = defaultdict(list)
    own_mdes: dict[str, list[float]] = defaultdict(list)
    for e_index, effect in enumerate(effects):
        rng = np.random.default_rng([seed, e_index])
        one = reg = flag = final = cases_confirmed = own_reg = own_flag = own_final = 0
        for _ in range(trials):
            out = trial(runs, names, rng, effect=effect, window=window, pairs=pairs, threshold=threshold, alpha=alpha)
            one += bool(out["one_run"])
            reg += bool(out["regressions"])
            flag += bool(out["flagged"])
            final += bool(out["confirmed"])
            cases_confirmed += len(out["confirmed"])  # type: ignore[arg-type]
            own_reg += bool(out["own_regressions"])
            own_flag += bool(out["own_flagged"])
            own_final += bool(out["own_confirmed"])
            for n in names:
                cell = per_case[n][effect]
                cell[0] += n in out["one_run"]  # type: ignore[operator]
                cell[1] += n in out["flagged"]  # type: ignore[operator]
                cell[2] += n in out["confirmed"]  # type: ignore[operator]
            for n, m in out["mde"].items():  # type: ignore[attr-defined]
                mdes[n].append(m)
            for n, m in out["own_mde"].items():  # type: ignore[attr-defined]
                own_mdes[n].append(m)
        kind = "A/A: false alarm" if effect == 0 else ("false alarm" if effect < threshold else "detection")
        rows.append(
            f"| {effect:.0%} | {kind} | {one / trials:.1%} | {own_reg / trials:.1%} | {own_flag / trials:.1%} "
            f"| {own_final / trials:.1%} | {reg / trials:.1%} | {flag / trials:.1%} "
            f"| **{final / trials:.1%}** | {cases_confirmed / (trials * len(names)):.1%} |"
        )
    case_rows = [
        "| case | median MDE across runs, own τ² / pooled τ² | " + " | ".join(f"{e:.0%}" for e in effects) + " |",
        "|---|---:|" + "---:|" * len(effects),
    ]
    for n in names:
        mde = f"{_median_pct(own_mdes[n])} / {_median_pct(mdes[n])}"
        cells = ["{:.0%} / {:.0%} / {:.0%}".format(*(x / trials for x in per_case[n][e])) for e in effects]
        case_rows.append(f"| `{n}` | {mde} | " + " | ".join(cells) + " |")
    head = (
        f"{len(runs)} runs ({runs[0].label} … {runs[-1].label}), window {window}, "
        f"{pairs} confirmation pairs of {mode}, "
        f"{trials} trials per slowdown, threshold {threshold:.0%}, alpha {alpha:g}, seed {seed}."
    )
    note = "Per case, pooled τ²: one-run gate regression / flagged for confirmation / confirmed, at each slowdown."
    return "\n".join([head, "", *rows, "", note, "", *case_rows]) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: print (or write) the study's tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="run folders or results folders, in recording order")
    parser.add_argument("--window", type=int, default=5, help="runs in the baseline window (default 5)")
    parser.add_argument("--confirm", choices=("rounds", "runs"), default="rounds", help="what confirmation pairs")
    parser.add_argument("--pairs", type=int, help="confirmation pairs (default 40 of rounds, 5 of runs)")
    parser.add_argument("--trials", type=int, default=200, help="resampled comparisons per slowdown (default 200)")
    parser.add_argument("--effects", default=",".join(str(e) for e in EFFECTS), help="slowdowns, e.g. 0,0.1,0.2")
    parser.add_argument("--threshold", type=float, default=0.10)
    parser.add_argument("--alpha", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--markdown", type=Path, help="also write the tables here")
    args = parser.parse_args(argv)
    try:
        runs = [run for path in args.runs for run in read_recorded(path)]
        effects = [float(x) for x in args.effects.split(",")]
    except (InputError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.pairs is None:
        args.pairs = 40 if args.confirm == "rounds" else 5
    need = max(args.window + 1, 2 * args.pairs if args.confirm == "runs" else 0)
    if len(runs) < need or not shared_cases(runs):
        print(f"error: need at least {need} runs that share a case, got {len(runs)}", file=sys.stderr)
        return 2
    text = study(
        runs,
        trials=args.trials,
        effects=effects,
        window=args.window,
        pairs=args.pairs,
        threshold=args.threshold,
        alpha=args.alpha,
        seed=args.seed,
        mode=args.confirm,
    )
    sys.stdout.write(text)
    if args.markdown:
        args.markdown.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
