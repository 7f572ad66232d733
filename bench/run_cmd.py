"""`python -m bench run [--suite PATH]... [pytest args]`: run the suite, then the summary and the report of that run.

The one "run, summary, report" path of the nox `bench` session, the container entrypoint and tools/gpu-check.sh. Each
step is a child process (pytest, then `python -m reports ingest RUN` into the results store, `python -m reports summary
RUN` and `python -m reports RUN --store STORE`; bench never imports reports). SIGTERM, SIGINT and SIGHUP are forwarded
to the step running, so a stopped run ends `interrupted` with what it measured, and its summary and report.html are
still written. This process may be a container's PID 1, which the kernel shields from every signal it has no handler
for: without the forwarding `docker stop` would wait out its grace period and SIGKILL the run.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import FrameType

USAGE = """\
usage: python -m bench run [--suite PATH]... [--] [pytest arguments]

Run the devicebench suite with pytest, then print the run's summary (python -m reports summary RUN) and
build its report.html (python -m reports RUN), each as a child process.

  --suite PATH   a folder or file of benchmarks to run, repeatable, in order (default: the bench package)
  pytest args    passed on after the defaults, so they win: --profile, --devices, -k, --results-dir, ...
                 (default --results-dir: $DEVICEBENCH_RESULTS, else results)

The run is ingested into the results store (python -m reports ingest RUN --store STORE; STORE is
$DEVICEBENCH_STORE, a DuckDB file or postgresql:// URL, else devicebench.duckdb in the results folder), and
the report's History shows every stored run of this host. The summary and report are of the run just made
(pytest names its folder in --run-path-file), never of an older one. SIGTERM, SIGINT (Ctrl-C) and SIGHUP are
passed to pytest: the run stops as `interrupted`, keeps every finished case, and still gets its summary and
report. With --collect-only, --co or --list
only pytest runs.

Exit status: pytest's when it failed (2: interrupted); 1 when the run measured no case; else the report's.
"""
#: the signals passed on to the step running (docker stop and Kubernetes send SIGTERM; Ctrl-C; a lost terminal)
FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
LISTING = {"--collect-only", "--co", "--list"}
PR_SET_PDEATHSIG = 1
INTERRUPTED = 2  # pytest.ExitCode.INTERRUPTED (bench run does not import pytest)


class UsageError(Exception):
    """A bad command line for `bench run`; the message is one line."""


def split_arguments(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    """(suite paths, pytest arguments): the leading --suite options, then everything else (after a `--`)."""
    suites: list[str] = []
    args = list(argv)
    while args:
        if args[0] == "--suite":
            if len(args) < 2:
                raise UsageError("--suite needs a PATH")
            suites.append(args[1])
            args = args[2:]
        elif args[0].startswith("--suite="):
            suites.append(args.pop(0).split("=", 1)[1])
        else:
            break
    if args[:1] == ["--"]:
        args = args[1:]
    return suites, args


def option_value(args: Sequence[str], name: str) -> str | None:
    """The value of the last `name VALUE` or `name=VALUE` in a pytest argument list, else None."""
    found = None
    for i, arg in enumerate(args):
        if arg == name and i + 1 < len(args):
            found = args[i + 1]
        elif arg.startswith(name + "="):
            found = arg.split("=", 1)[1]
    return found


class Forwarder:
    """Passes SIGTERM, SIGINT and SIGHUP on to the step running (the signal handler of `bench run`)."""

    def __init__(self) -> None:
        self.child: subprocess.Popen | None = None
        self.hold = 0  # signals to keep from the running step before passing them on
        self.pending: list[int] = []  # signals that came while no step ran
        self.prctl = None
        if sys.platform.startswith("linux"):  # looked up before any fork: the child only calls it
            with contextlib.suppress(OSError, AttributeError):
                self.prctl = ctypes.CDLL(None, use_errno=True).prctl

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        """The handler: forward the signal to the running step, unless it is held; note it when none runs."""
        if self.child is None:
            self.pending.append(signum)
        elif self.hold > 0:
            self.hold -= 1
        elif self.child.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.child.send_signal(signum)

    def die_with_parent(self) -> None:
        """In the child, before exec: SIGTERM to it if this process dies (even by SIGKILL), so pytest stops cleanly."""
        if self.prctl is not None:
            self.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)

    def run(self, command: Sequence[str], hold: int = 0) -> int:
        """Run one child in its own process group, the first `hold` signals kept from it; its exit status.

        A step that keeps nothing (pytest) also gets the signals that came just before it started.
        """
        self.hold, early = hold, ([] if hold else self.pending)
        self.pending = []
        # Its own process group: a Ctrl-C on the terminal reaches this process only, which passes it on once
        # (two SIGINTs would cut pytest's own clean stop short).
        self.child = subprocess.Popen(command, process_group=0, preexec_fn=self.die_with_parent)
        for signum in early + self.pending:
            self.child.send_signal(signum)
        self.pending = []
        status = self.child.wait()
        self.child, self.hold = None, 0
        return 128 - status if status < 0 else status  # 128+N when signal N ended it


@contextlib.contextmanager
def forwarding() -> Iterator[Forwarder]:
    """While in the block, SIGTERM, SIGINT and SIGHUP go to the Forwarder's running step instead of this process."""
    forwarder = Forwarder()
    previous = {number: signal.signal(number, forwarder) for number in FORWARDED}
    try:
        yield forwarder
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def main(argv: Sequence[str], python: str = sys.executable) -> int:
    """Run pytest on the suite, then the summary and the report of the run it made; the exit status (see USAGE)."""
    if argv[:1] in (["-h"], ["--help"]):
        print(USAGE, end="")
        return 0
    try:
        suites, args = split_arguments(argv)
    except UsageError as exc:
        print(f"usage error: {exc} (see python -m bench run --help)", file=sys.stderr)
        return 2
    suites = suites or [str(Path(__file__).resolve().parent)]
    pytest = [python, "-m", "pytest", *suites]
    with forwarding() as steps:
        if LISTING & set(args):  # only lists cases: nothing to summarise
            return steps.run([*pytest, *args])
        return run_and_report(steps, pytest, args, python)


def store_location(args: Sequence[str]) -> str:
    """The results store runs go into: $DEVICEBENCH_STORE, else devicebench.duckdb in the run's results folder."""
    results = option_value(args, "--results-dir") or os.environ.get("DEVICEBENCH_RESULTS") or "results"
    return os.environ.get("DEVICEBENCH_STORE") or str(Path(results) / "devicebench.duckdb")


def run_and_report(steps: Forwarder, pytest: list[str], args: list[str], python: str) -> int:
    """pytest, then the summary and report of the run it made; the exit status (see USAGE)."""
    if option_value(args, "--results-dir") is None:
        args = ["--results-dir", os.environ.get("DEVICEBENCH_RESULTS") or "results", *args]
    given = option_value(args, "--run-path-file")
    if given is None:
        handle, name = tempfile.mkstemp(prefix="devicebench-run.")
        os.close(handle)
        path_file = Path(name)
        args = ["--run-path-file", name, *args]
    else:
        path_file = Path(given)
    # pytest writes the new run's folder here once its first case is saved: never mistake an older run for it
    path_file.unlink(missing_ok=True)
    try:
        bench_status = steps.run([*pytest, *args])
        run_dir = path_file.read_text().strip() if path_file.is_file() else ""
    finally:
        if given is None:
            path_file.unlink(missing_ok=True)
    if not run_dir:
        print(
            f"devicebench: this run measured no case (pytest exited {bench_status}); no report built", file=sys.stderr
        )
        return bench_status or 1
    # Into the store, the findings and throughput tables on the terminal (informational), then report.html. A stop
    # signal now (docker stop after pytest ended) lets them finish: the grace period is for this; a second one
    # stops them.
    store = store_location(args)
    stored = steps.run([python, "-m", "reports", "ingest", run_dir, "--store", store], hold=1) == 0
    if not stored:
        print(f"devicebench: the run was not ingested into {store} (the report reads its file alone)", file=sys.stderr)
    if steps.run([python, "-m", "reports", "summary", run_dir], hold=1) != 0:
        print("devicebench: the summary failed (the report follows)", file=sys.stderr)
    report_status = steps.run([python, "-m", "reports", run_dir, *(["--store", store] if stored else [])], hold=1)
    print(f"devicebench: run folder {run_dir}", flush=True)
    if bench_status != 0:
        why = "were stopped" if bench_status == INTERRUPTED else "did not all pass"
        print(f"devicebench: the benchmarks {why} (pytest exited {bench_status}); what was measured "
              f"is kept in {run_dir}", file=sys.stderr)  # fmt: skip
        return bench_status
    return report_status
