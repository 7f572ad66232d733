"""The pytest plugin: options, device-parametrized cases, the run header and results files.

A thin layer of hooks; the work happens in DevicebenchSession (bench.session) and run_case (bench.runner).
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable, Generator
from typing import Any

import pytest

from bench.cases import Case
from bench.progress import case_line, list_rows, skip_line, what_width
from bench.run_folder import BASELINE_WINDOW, BaselineSaveError
from bench.runner import CaseFailed, CaseSkipped, run_case
from bench.session import CaseRecordError, DevicebenchSession, NeedsGpu, UsageError
from results_format import Benchmark, ResultsWriteError

SESSION_KEY = pytest.StashKey[DevicebenchSession]()
CASE_ARG = "devicebench_case"
NO_CASE = "none"  # the parameter of a workload's placeholder item when it has no case in this run
SKIP_KIND = pytest.StashKey[str]()  # why a case skipped at run time (e.g. "oom"); collection skips are "profile"
SIGNAL_HANDLERS = pytest.StashKey[dict[int, Any]]()  # the handlers we replaced, restored at the end
DESELECTED = pytest.StashKey[int]()
LISTED = pytest.StashKey[bool]()  # --list printed the cases and emptied the run
STOP_SIGNALS = {"SIGTERM": "timeout, docker stop or a cancelled CI job", "SIGHUP": "the terminal went away"}


def pytest_addoption(parser: pytest.Parser) -> None:
    """devicebench's command-line options."""
    group = parser.getgroup("devicebench", "devicebench: device-aware benchmarks")
    group.addoption(
        "--devices",
        dest="devicebench_devices",
        default="all",
        help="devices to benchmark: all (default), cpu, gpu, or a list like CPU:0,GPU:1",
    )
    group.addoption(
        "--profile",
        dest="devicebench_profile",
        default="standard",
        help="smoke (CI, minutes), standard (default, <15 min on a 2-core CPU), full (GPU hosts; the book's sizes) "
        "or sustained (opt-in: a large matmul for --sustained-minutes per device, its result checked every round) "
        "or peaks (opt-in: a search of matmul shapes per dtype for the best TFLOP/s, --peaks-seconds per dtype)",
    )
    group.addoption(
        "--peaks-seconds",
        dest="devicebench_peaks_seconds",
        type=float,
        default=None,
        metavar="SECONDS",
        help="with --profile peaks: the shape search's time budget per GPU dtype (default 120; a CPU searches 2 s)",
    )
    group.addoption(
        "--sustained-minutes",
        dest="devicebench_sustained_minutes",
        type=float,
        default=None,
        metavar="MINUTES",
        help="with --profile sustained: timed minutes per device (default 5; the CPU too, so pick --devices gpu)",
    )
    group.addoption(
        "--backend",
        dest="devicebench_backend",
        default="tensorflow",
        help="tensorflow (default), torch, or both: tensorflow,torch",
    )
    group.addoption(
        "--tf32",
        dest="devicebench_tf32",
        choices=("default", "on", "off"),
        default="default",
        help="TF32 for float32 GPU matmuls: each framework's default (TF on, torch off), or on/off for both",
    )
    group.addoption(
        "--precision",
        dest="devicebench_precision",
        type=float,
        default=None,
        metavar="FRACTION",
        help="keep timing each case until the 95%% interval of its median is within +-FRACTION of it (e.g. 0.02), "
        "or its time budget in the profile is spent (recorded per case); default: the profile's fixed rounds",
    )
    group.addoption(
        "--cache",
        dest="devicebench_cache",
        choices=("hot", "cold"),
        default="hot",
        help="hot (default): caches keep what the last call left; cold: matmul and membw write a buffer twice the "
        "device's last cache level before every call, untimed (one call a round; recorded per case)",
    )
    group.addoption(
        "--results-dir",
        dest="devicebench_results_dir",
        default=None,
        metavar="DIR",
        help="write DIR/<UTC yyyymmdd-HHMMSS>-<host>/benchmarks.json, saved after every finished case, and "
        "point DIR/latest at it ($DEVICEBENCH_HOST overrides the host name)",
    )
    group.addoption(
        "--mnist",
        dest="devicebench_mnist",
        default=None,
        metavar="PATH",
        help="a Keras-format mnist.npz (default: $DEVICEBENCH_MNIST, then ~/.keras/datasets/mnist.npz, "
        "else synthetic data of MNIST's shape; nothing is downloaded)",
    )
    group.addoption(
        "--nvml-interval-ms",
        dest="devicebench_nvml_interval_ms",
        type=float,
        default=20.0,
        metavar="MS",
        help="NVML sampling interval while each case runs (default 20 ms: 5 samples of a 100 ms case)",
    )
    group.addoption(
        "--no-nvml",
        dest="devicebench_no_nvml",
        action="store_true",
        help="do not sample GPUs with NVML (also: DEVICEBENCH_NVML=0)",
    )
    group.addoption(
        "--no-health",
        dest="devicebench_no_health",
        action="store_true",
        help="do not read the GPUs' health counters (ECC, remapped rows, PCIe, power limit, XIDs) around the run",
    )
    group.addoption(
        "--concurrent",
        dest="devicebench_concurrent",
        action="store_true",
        help="before the cases, run matmul (bfloat16) and membw (triad) on every GPU at once, one process per GPU, "
        "and name the stragglers (more than 3 MADs or 5%% below the host's median); needs GPUs",
    )
    group.addoption(
        "--dcgm-diag",
        dest="devicebench_dcgm_diag",
        type=int,
        choices=(1, 2),
        default=None,
        metavar="LEVEL",
        help="also run `dcgmi diag -r LEVEL` (1 or 2) before the cases and record each test's pass/fail "
        "(a recorded skip where dcgmi is not on PATH)",
    )
    group.addoption(
        "--nvbandwidth",
        dest="devicebench_nvbandwidth",
        action="store_true",
        help="also record nvbandwidth's host-device copy matrices (a recorded skip where it is not installed)",
    )
    group.addoption(
        "--save-baseline",
        dest="devicebench_save_baseline",
        default=None,
        metavar="NAME",
        help="also add the finished run to the baseline window DIR/baselines/NAME/, which keeps the last "
        "--baseline-window complete runs (needs --results-dir; only a complete run is kept)",
    )
    group.addoption(
        "--baseline-window",
        dest="devicebench_baseline_window",
        type=int,
        default=BASELINE_WINDOW,
        metavar="K",
        help=f"runs a --save-baseline window keeps, newest first (default {BASELINE_WINDOW})",
    )
    group.addoption(
        "--list",
        dest="devicebench_list",
        action="store_true",
        help="print the cases this profile would run on this host, with each skip's reason, and run nothing",
    )
    group.addoption(
        "--tables",
        dest="devicebench_tables",
        action="store_true",
        help="also print pytest-benchmark's timing tables at the end (by default: one live line per case)",
    )
    group.addoption(
        "--run-path-file",
        dest="devicebench_run_path_file",
        default=None,
        metavar="FILE",
        help="write this run's folder path to FILE as soon as the folder exists (for scripts; needs --results-dir)",
    )


def pytest_configure(config: pytest.Config) -> None:
    """Build the run's session (checking that its results can be written) and catch stop signals."""
    config.addinivalue_line("markers", "workload(name): the devicebench workload a benchmark test times")
    # Keras 3 saving a model calls np.array on its own tensors the NumPy-2-deprecated way: noise, not ours to fix
    config.addinivalue_line("filterwarnings", "ignore:__array__ implementation doesn't accept a copy keyword")
    if config.option.help or getattr(config.option, "version", False):
        return
    if config.option.devicebench_results_dir and getattr(config.option, "benchmark_json", None) is not None:
        raise pytest.UsageError("--results-dir writes <run>/benchmarks.json itself; drop --benchmark-json")
    try:
        session = DevicebenchSession(config.option)
    except NeedsGpu as exc:
        pytest.exit(f"devicebench: {exc}", returncode=2)
    except UsageError as exc:
        raise pytest.UsageError(str(exc)) from None
    config.stash[SESSION_KEY] = session
    config.stash[DESELECTED] = 0
    if not config.option.devicebench_tables:
        config.option.benchmark_quiet = True  # one live line per case instead of a table per group at the end
    config.stash[SIGNAL_HANDLERS] = catch_stop_signals(session)


def catch_stop_signals(session: DevicebenchSession) -> dict[int, Any]:
    """Turn SIGTERM and SIGHUP into an interrupt pytest handles like Ctrl-C, so the run ends and says why."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    replaced: dict[int, Any] = {}
    for name, meaning in STOP_SIGNALS.items():
        number = getattr(signal, name, None)
        if number is None:
            continue

        def stop(signum: int, frame: Any, name: str = name, meaning: str = meaning) -> None:
            session.stop_reason = f"stopped by {name} ({meaning})"
            raise KeyboardInterrupt(session.stop_reason)

        replaced[number] = signal.signal(number, stop)
    return replaced


def _session(config: pytest.Config) -> DevicebenchSession | None:
    return config.stash.get(SESSION_KEY, None)


def pytest_report_header(config: pytest.Config) -> list[str]:
    """The run header: profile, backends, devices, and why any device is missing."""
    session = _session(config)
    return session.header_lines() if session else []


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize each workload test over its cases on the selected devices."""
    if CASE_ARG not in metafunc.fixturenames:
        return
    session = _session(metafunc.config)
    marker = metafunc.definition.get_closest_marker("workload")
    if session is None or marker is None:
        raise pytest.UsageError(f"{metafunc.definition.nodeid}: a devicebench test needs @pytest.mark.workload(name)")
    try:
        cases = session.cases_for(marker.args[0])
    except UsageError as exc:
        raise pytest.UsageError(f"{metafunc.definition.nodeid}: {exc}") from None
    params = [
        pytest.param(c.id, id=c.id, marks=[pytest.mark.skip(reason=c.skip_reason)] if c.skip_reason else [])
        for c in cases
    ]
    if not params:
        reason = session.no_case_reason(marker.args[0])
        params = [pytest.param(NO_CASE, id="no-case", marks=[pytest.mark.skip(reason=reason)])]
    metafunc.parametrize(CASE_ARG, params, indirect=True)


def pytest_deselected(items: list[pytest.Item]) -> None:
    """Count the cases -k/-m left out (to say why a run measured nothing)."""
    if items:
        config = items[0].config
        config.stash[DESELECTED] = config.stash.get(DESELECTED, 0) + len(items)


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """Remember the cases in run order (for the time-left estimate); with --list, print them and run nothing."""
    run = _session(config)
    if run is None:
        return
    ours = [(item, run.cases[cid]) for item in items if (cid := _case_id(item)) in run.cases]
    if config.option.devicebench_list:
        rows = [
            (case.workload.name, case.backend, case.device.name, case.workload.label(dict(case.params)),
             case.skip_reason)
            for _, case in ours
        ]  # fmt: skip
        writer = config.get_terminal_writer()
        writer.line("")
        for line in list_rows(rows):
            writer.line(line)
        config.stash[LISTED] = True
        items[:] = []


def pytest_collection_finish(session: pytest.Session) -> None:
    """The cases that will run, in order (after -k/-m), for the live lines' count and time left."""
    run = _session(session.config)
    if run is None:
        return
    ours = [(item, run.cases[cid]) for item in session.items if (cid := _case_id(item)) in run.cases]
    run.pending = [item.nodeid for item, _ in ours]
    run.workload_of = {item.nodeid: case.workload.name for item, case in ours}
    run.what_width = what_width([f"{case.workload.name} {case.workload.label(dict(case.params))}" for _, case in ours])
    # A workload with no case here (e.g. tf.data under torch) has one placeholder item: no progress letter either.
    run.placeholders = {item.nodeid for item in session.items if _case_id(item) == NO_CASE}


def _case_id(item: pytest.Item) -> str | None:
    """The devicebench case id an item times, if it is one of ours."""
    callspec = getattr(item, "callspec", None)
    return callspec.params.get(CASE_ARG) if callspec else None


def pytest_report_teststatus(report: pytest.TestReport, config: pytest.Config) -> tuple[str, str, str] | None:
    """No progress letter for a case: its live line says more (see pytest_runtest_logreport)."""
    run = _session(config)
    ours = run is not None and (report.nodeid in run.workload_of or report.nodeid in run.placeholders)
    if ours and (report.when == "call" or (report.when == "setup" and not report.passed)):
        return report.outcome, "", report.outcome.upper()
    return None


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Print the live line of a case as it finishes."""
    line = getattr(report, "devicebench_line", None)
    if line and report.when in ("setup", "call"):
        reporter = _terminal
        if reporter is not None:
            reporter.ensure_newline()
            reporter.write_line(line, **({"red": True} if report.failed else {}))


_terminal: Any = None


@pytest.hookimpl(trylast=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    """Find pytest's terminal reporter, where the live lines go."""
    global _terminal
    _terminal = session.config.pluginmanager.get_plugin("terminalreporter")
    if _terminal is not None and _session(session.config) is not None:
        _terminal.showfspath = False  # a line per case says more than a file name and a row of dots


@pytest.fixture
def devicebench_case(request: pytest.FixtureRequest) -> Case:
    """The Case this test instance times."""
    session = _session(request.config)
    assert session is not None
    return session.cases[request.param]


@pytest.fixture
def devicebench_run(
    request: pytest.FixtureRequest, benchmark: Any, devicebench_case: Case
) -> Callable[[], dict[str, Any]]:
    """Call it to time this test's case; returns the case's extra_info."""
    session = _session(request.config)
    assert session is not None

    def run() -> dict[str, Any]:
        session.start()  # a no-op once started: a run that measures starts it with the session
        backend = session.backends[devicebench_case.backend]
        try:
            return run_case(
                benchmark,
                devicebench_case,
                backend,
                session.profile,
                session.telemetry,
                session.precision,
                gpu=session.gpu_context(devicebench_case),
                cache=request.config.option.devicebench_cache,
            )
        except CaseSkipped as skip:
            request.node.stash[SKIP_KIND] = skip.kind
            pytest.skip(skip.reason)

    return run


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    """Save every case that passed at once; record every case that produced no number with its reason."""
    report = yield
    session = _session(item.config)
    callspec = getattr(item, "callspec", None)
    case_id = callspec.params.get(CASE_ARG) if callspec else None
    if session is None or case_id not in session.cases:
        return report
    case = session.cases[case_id]
    if report.skipped and report.when in ("setup", "call"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        reason = reason.removeprefix("Skipped: ")
        kind = item.stash.get(SKIP_KIND, "profile")
        session.record_skip(case, kind, reason)
        session.finished(item.nodeid, report.duration)
        if kind != "profile":  # profile skips are known before the run; --list shows them
            report.devicebench_line = skip_line(case.workload.name, case.id, kind, reason)  # type: ignore[attr-defined]
    elif report.failed and report.when in ("setup", "call"):
        error = call.excinfo.value if call.excinfo else None
        message = str(error) if isinstance(error, CaseFailed) else (call.excinfo.exconly() if call.excinfo else "")
        session.record_skip(case, "error", message.splitlines()[0] if message else "failed")
        session.finished(item.nodeid, report.duration)
        report.devicebench_line = skip_line(
            case.workload.name, case.id, "error", message.splitlines()[0] if message else "failed"
        )  # type: ignore[attr-defined]
    elif report.passed and report.when == "call":
        saved = save_case(item, session, report)
        position, total, left = session.finished(item.nodeid, report.duration)
        if saved is not None:
            report.devicebench_line = case_line(  # type: ignore[attr-defined]
                saved, position, total, left, session.what_width
            )
    return report


def save_case(item: pytest.Item, session: DevicebenchSession, report: pytest.TestReport) -> Benchmark | None:
    """Hand a passed case's pytest-benchmark record to the session, which saves the run at once; the record."""
    fixture = getattr(item, "funcargs", {}).get("benchmark")
    metadata = getattr(fixture, "stats", None)
    if not metadata:
        return None
    config = item.config
    hook = config.hook
    machine_info = commit_info = None
    if not session.has_run_facts:  # once per run: py-cpuinfo alone takes ~0.2 s, and only the first is kept
        machine_info = hook.pytest_benchmark_generate_machine_info(config=config)
        hook.pytest_benchmark_update_machine_info(config=config, machine_info=machine_info)
        commit_info = hook.pytest_benchmark_generate_commit_info(config=config)
        hook.pytest_benchmark_update_commit_info(config=config, commit_info=commit_info)
    try:
        session.add_case(metadata.as_dict(include_data=True), machine_info, commit_info)
    except CaseRecordError as exc:
        report.outcome = "failed"
        report.longrepr = str(exc)
        session.record_skip(session.cases[item.callspec.params[CASE_ARG]], "error", str(exc))  # type: ignore[attr-defined]
        return None
    except ResultsWriteError as exc:
        item.session.shouldstop = f"devicebench: {exc}; the run stops (what was saved before is kept)"
        session.stop_reason = f"failed to write results: {exc}"
    return session.benchmarks[-1]


def pytest_benchmark_update_machine_info(config: pytest.Config, machine_info: dict[str, Any]) -> None:
    """Add backends, devices, CPU and container facts to pytest-benchmark's machine_info."""
    session = _session(config)
    if session is not None:
        machine_info["devicebench"] = session.machine_info()


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Write the run's final state; a run that measured nothing writes no folder and does not pass."""
    run = _session(session.config)
    if run is None:
        return
    state, reason = final_state(session, run, exitstatus)
    try:
        run.finish(state, reason)
    except BaselineSaveError as exc:  # the run is kept; only its copy into the window failed
        sys.stderr.write(f"\ndevicebench: error: {exc}\n")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        return
    except ResultsWriteError as exc:
        run.stop_reason = f"failed to write results: {exc}"
    listed = session.config.stash.get(LISTED, False)
    if listed and exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED:
        session.exitstatus = pytest.ExitCode.OK  # --list ran nothing on purpose
        return
    nothing = run.folder is not None and not run.benchmarks and not session.config.option.collectonly
    if nothing and exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.NO_TESTS_COLLECTED


def final_state(session: pytest.Session, run: DevicebenchSession, exitstatus: int) -> tuple[str, str]:
    """(state, reason) of a run that is ending: complete, interrupted (a signal, -x, maxfail) or failed."""
    if run.stop_reason and run.stop_reason.startswith("failed"):
        return "failed", run.stop_reason
    if exitstatus == pytest.ExitCode.INTERRUPTED:
        return "interrupted", run.stop_reason or "interrupted by SIGINT (Ctrl-C)"
    stopped = session.shouldstop or session.shouldfail
    if stopped:
        return "interrupted", f"stopped early: {stopped}"
    return "complete", ""


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """Say what was skipped and why, and where the results are (or why there are none)."""
    session = _session(config)
    if session is None:
        return
    tr = terminalreporter
    if session.skipped:
        tr.section("devicebench: cases without a number")
        for s in session.skipped:
            tr.write_line(f"{s.kind:>7}  {s.name}: {s.reason}")
    if session.folder is None:
        return
    if session.run_dir is None:
        if config.stash.get(LISTED, False):
            return
        reason = session.nothing_measured_reason(config.stash.get(DESELECTED, 0), config.option.collectonly)
        tr.write_line(f"devicebench: no case was measured ({reason}); no run folder was written", red=True)
        return
    count = session.saved
    if session.last_state != "complete":
        tr.write_line(
            f"devicebench results: {session.run_dir} (INCOMPLETE: {session.last_reason}; "
            f"{count} finished case{'s' if count != 1 else ''} kept)",
            yellow=True,
        )
    else:
        tr.write_line(f"devicebench results: {session.run_dir} ({count} case{'s' if count != 1 else ''})")


def pytest_unconfigure(config: pytest.Config) -> None:
    """Put back the signal handlers we replaced and stop the NVML sampler."""
    for number, handler in config.stash.get(SIGNAL_HANDLERS, {}).items():
        signal.signal(number, handler)
    session = _session(config)
    if session is not None:
        session.health.close()
        session.telemetry.close()
