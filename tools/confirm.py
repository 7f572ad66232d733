"""Re-time flagged cases base and head alternately (A B A B ...) and judge the pairs: the confirmation step.

    python -m tools.confirm BASE_SRC HEAD_SRC --out DIR [--mode rounds|runs] [--pairs N]
        [--case NAME ... | --verdicts V.json] [--python PY] [--threshold 0.10] [--alpha 0.01] [-- PYTEST_ARGS ...]

``--mode rounds`` (the default): one pytest process per checkout, both alive at once; every timed round of
every flagged case waits for the driver, which starts a base round, then a head round, and so on (N pairs of
rounds per case, default 40; tools/interleave_plugin.py), so drift of the machine cancels within
milliseconds. ``--mode runs``: N pairs of whole runs, base then head (default 5).

BASE_SRC and HEAD_SRC are checkouts of the two commits. Each run is `PY -m pytest <the cases' node ids>
PYTEST_ARGS --results-dir DIR/<side>` in that checkout with the checkout first on PYTHONPATH: one Python
environment serves both (`nox -s confirm` refuses refs whose dependencies differ). The cases are the
`to_confirm` list of a compare verdict file, or --case names. Then `python -m reports confirm DIR/base
DIR/head` decides: exit 1 a confirmed regression, 0 not confirmed (or nothing to confirm), 2 bad input
or a run that failed. Prints the wall time the step took.
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from reports.cli import main as reports_main


def parse(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    """The driver's options, and the pytest arguments after `--`."""
    extra: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, extra = argv[:cut], argv[cut + 1 :]
    parser = argparse.ArgumentParser(prog="python -m tools.confirm", description=__doc__.splitlines()[0])
    parser.add_argument("base_src", type=Path)
    parser.add_argument("head_src", type=Path)
    parser.add_argument("--out", type=Path, required=True, help="new or empty folder for the runs and verdicts")
    parser.add_argument("--mode", choices=("rounds", "runs"), default="rounds", help="pair rounds (default) or runs")
    parser.add_argument("--pairs", type=int, help="pairs per case: of rounds (default 40) or of runs (default 5)")
    parser.add_argument("--case", action="append", default=[], metavar="NAME", help="a case to re-time (repeatable)")
    parser.add_argument("--verdicts", type=Path, help="a compare --json file: re-time its to_confirm cases")
    parser.add_argument("--python", default=sys.executable, help="the Python with the suite's dependencies")
    parser.add_argument("--threshold", type=float, default=0.10)
    parser.add_argument("--alpha", type=float, default=0.01)
    return parser.parse_args(argv), extra


def wanted_cases(args: argparse.Namespace) -> list[str]:
    """The case names to re-time."""
    names = list(args.case)
    if args.verdicts is not None:
        names += json.loads(args.verdicts.read_text(encoding="utf-8")).get("to_confirm", [])
    return sorted(set(names))


def _env(src: Path) -> dict[str, str]:
    """The environment of a run in checkout `src`: its code first on PYTHONPATH."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(src.resolve()), *filter(None, [env.get("PYTHONPATH")])])
    return env


def node_ids(args: argparse.Namespace, names: list[str], extra: list[str]) -> list[str]:
    """The pytest node ids of `names`, collected in the head checkout."""
    cmd = [args.python, "-m", "pytest", "bench", "--collect-only", "-q", "-p", "no:cacheprovider", *extra]
    out = subprocess.run(cmd, cwd=args.head_src, env=_env(args.head_src), capture_output=True, text=True).stdout
    by_name = {line.rsplit("::", 1)[1]: line.strip() for line in out.splitlines() if "::" in line}
    missing = [name for name in names if name not in by_name]
    if missing:
        raise SystemExit(f"error: not collected in {args.head_src}: {', '.join(missing)}")
    return [by_name[name] for name in names]


PLUGIN = Path(__file__).with_name("interleave_plugin.py")


def _read(pipe: Any, what: str) -> str:
    """One line from a worker, or RuntimeError when it ended."""
    line = pipe.readline()
    if not line:
        raise RuntimeError(f"the {what} process stopped answering")
    return line.strip()


def _open_writer(path: Path, proc: subprocess.Popen[Any], what: str) -> TextIO:
    """Open a FIFO for writing once the worker opened it for reading; RuntimeError when the worker ended first.

    A plain open() would wait for ever for a worker that failed before its first timed round.
    """
    while True:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as exc:
            if exc.errno != errno.ENXIO:  # ENXIO: no reader yet
                raise
            if proc.poll() is not None:
                raise RuntimeError(
                    f"the {what} process ended (exit {proc.returncode}) before its first round"
                ) from None
            time.sleep(0.05)
            continue
        os.set_blocking(fd, True)
        return os.fdopen(fd, "w", buffering=1)


def interleave_rounds(args: argparse.Namespace, ids: list[str], extra: list[str], started: float) -> int:
    """Both checkouts' pytest at once, their rounds started alternately by this process; 0 or 2."""
    plugin_dir = args.out / "plugin"
    plugin_dir.mkdir(parents=True)
    shutil.copy(PLUGIN, plugin_dir / "devicebench_interleave.py")
    procs, pipes = {}, {}
    for side, src in (("base", args.base_src), ("head", args.head_src)):
        results = (args.out / side).resolve()
        results.mkdir(parents=True, exist_ok=True)
        fifo_in, fifo_out = args.out / f"{side}.in", args.out / f"{side}.out"
        os.mkfifo(fifo_in)
        os.mkfifo(fifo_out)
        env = _env(src)
        env["PYTHONPATH"] += os.pathsep + str(plugin_dir.resolve())
        env["DEVICEBENCH_INTERLEAVE_IN"], env["DEVICEBENCH_INTERLEAVE_OUT"] = str(fifo_in), str(fifo_out)
        cmd = [args.python, "-m", "pytest", *ids, "-p", "no:cacheprovider", "-p", "devicebench_interleave", "-q"]
        cmd += [*extra, "--results-dir", str(results)]
        log = (args.out / f"{side}.log").open("w")
        procs[side] = subprocess.Popen(cmd, cwd=src, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        for side in ("base", "head"):  # the order the plugin opens them in: in, then out
            writer = _open_writer(args.out / f"{side}.in", procs[side], side)
            pipes[side] = (writer, open(args.out / f"{side}.out"))  # noqa: SIM115
        for name in ids:
            for side in ("base", "head"):
                if _read(pipes[side][1], side) != "ready":
                    raise RuntimeError(f"the {side} process is out of step")
            for _ in range(args.pairs):
                for side in ("base", "head"):
                    pipes[side][0].write("go\n")
                    _read(pipes[side][1], side)
            for side in ("base", "head"):
                pipes[side][0].write("stop\n")
            print(f"{name.rsplit('::', 1)[-1]}: {args.pairs} pairs of rounds ({time.monotonic() - started:.0f} s)")
    except (RuntimeError, OSError) as exc:
        for proc in procs.values():
            proc.kill()
        print(f"error: interleaving failed: {exc}; see {args.out}/base.log and head.log", file=sys.stderr)
        return 2
    finally:
        for pipe_in, pipe_out in pipes.values():
            pipe_in.close()
            pipe_out.close()
    codes = {side: proc.wait() for side, proc in procs.items()}
    if any(codes.values()):
        print(f"error: pytest exits {codes}: see {args.out}/base.log and head.log", file=sys.stderr)
        return 2
    return 0


def main(argv: list[str] | None = None) -> int:
    """Re-time the cases in pairs, judge them, print the wall time; the confirmation's exit code."""
    args, extra = parse(sys.argv[1:] if argv is None else argv)
    names = wanted_cases(args)
    if not names:
        print("nothing to confirm: no case was flagged")
        return 0
    if args.pairs is None:
        args.pairs = 40 if args.mode == "rounds" else 5
    if args.pairs < 3:
        print("error: --pairs must be at least 3", file=sys.stderr)
        return 2
    if args.out.exists() and any(args.out.iterdir()):
        print(f"error: {args.out} is not empty: give a new folder", file=sys.stderr)
        return 2
    started = time.monotonic()
    try:
        ids = node_ids(args, names, extra)
    except SystemExit as exc:
        print(exc, file=sys.stderr)
        return 2
    if args.mode == "rounds":
        code = interleave_rounds(args, ids, extra, started)
        if code:
            return code
    for i in range(1, args.pairs + 1) if args.mode == "runs" else ():
        for side, src in (("base", args.base_src), ("head", args.head_src)):
            results = (args.out / side).resolve()
            log = args.out / f"{side}-{i:02d}.log"
            results.mkdir(parents=True, exist_ok=True)
            cmd = [args.python, "-m", "pytest", *ids, "-p", "no:cacheprovider", "-q", *extra]
            cmd += ["--results-dir", str(results)]
            with log.open("w") as handle:
                code = subprocess.run(cmd, cwd=src, env=_env(src), stdout=handle, stderr=subprocess.STDOUT).returncode
            print(f"pair {i}/{args.pairs} {side}: pytest exit {code} ({time.monotonic() - started:.0f} s)", flush=True)
            if code != 0:
                print(f"error: the {side} run of pair {i} failed (exit {code}): see {log}", file=sys.stderr)
                return 2
    out = str(args.out)
    sides = [f"{out}/base", f"{out}/head"] if args.mode == "runs" else [f"{out}/base/latest", f"{out}/head/latest"]
    judge = ["confirm", *sides, "--threshold", str(args.threshold), "--alpha", str(args.alpha)]
    code = reports_main([*judge, "--markdown", f"{out}/confirm.md", "--json", f"{out}/confirm.json"])
    print(f"confirmation: {len(names)} case(s), {args.pairs} pairs, wall time {time.monotonic() - started:.0f} s")
    return code


if __name__ == "__main__":
    sys.exit(main())
