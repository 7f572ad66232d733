"""The pytest plugin: options, device-parametrized cases, the run header and results files.

A thin layer of hooks; the work happens in DevicebenchSession (bench.session) and run_case (bench.runner).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Generator
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest

from bench.cases import Case
from bench.runner import CaseSkipped, run_case
from bench.session import DevicebenchSession, UsageError

SESSION_KEY = pytest.StashKey[DevicebenchSession]()
CASE_ARG = "devicebench_case"
SKIP_KIND = pytest.StashKey[str]()  # why a case skipped at run time (e.g. "oom"); collection skips are "profile"


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
        help="smoke (CI, minutes), standard (default, <15 min on a 2-core CPU) or full (GPU hosts; the book's sizes)",
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
        "--results-dir",
        dest="devicebench_results_dir",
        default=None,
        metavar="DIR",
        help="write DIR/<UTC yyyymmdd-HHMMSS>-<host>/benchmarks.json and point DIR/latest at it",
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
        "--save-baseline",
        dest="devicebench_save_baseline",
        default=None,
        metavar="NAME",
        help="also copy the finished run to DIR/baselines/NAME/ (needs --results-dir)",
    )


def pytest_configure(config: pytest.Config) -> None:
    """Build the run's session; with --results-dir, send pytest-benchmark's JSON into the run folder."""
    config.addinivalue_line("markers", "workload(name): the devicebench workload a benchmark test times")
    if config.option.help or getattr(config.option, "version", False):
        return
    if config.option.devicebench_save_baseline and not config.option.devicebench_results_dir:
        raise pytest.UsageError("--save-baseline needs --results-dir")
    if config.option.devicebench_results_dir and getattr(config.option, "benchmark_json", None) is not None:
        raise pytest.UsageError("--results-dir writes <run>/benchmarks.json itself; drop --benchmark-json")
    try:
        session = DevicebenchSession(config.option)
    except UsageError as exc:
        raise pytest.UsageError(str(exc)) from None
    config.stash[SESSION_KEY] = session
    if session.run_dir is not None:
        # pytest-benchmark configures after us (trylast) and writes its JSON there at the end.
        config.option.benchmark_json = json_target(session.run_dir / "benchmarks.json")


def json_target(path: Path) -> Any:
    """--benchmark-json's value for `path`: a Path for pytest-benchmark >= 5.3, an open file before."""
    major, minor = (int(x) for x in version("pytest-benchmark").split(".")[:2])
    if (major, minor) >= (5, 3):
        return path
    return open(path, "wb")


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
    cases = session.cases_for(marker.args[0])
    params = [
        pytest.param(c.id, id=c.id, marks=[pytest.mark.skip(reason=c.skip_reason)] if c.skip_reason else [])
        for c in cases
    ]
    if not params:
        reason = session.no_case_reason(marker.args[0])
        params = [pytest.param("none", id="no-case", marks=[pytest.mark.skip(reason=reason)])]
    metafunc.parametrize(CASE_ARG, params, indirect=True)


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
        backend = session.backends[devicebench_case.backend]
        try:
            return run_case(benchmark, devicebench_case, backend, session.profile, session.telemetry)
        except CaseSkipped as skip:
            request.node.stash[SKIP_KIND] = skip.kind
            pytest.skip(skip.reason)

    return run


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    """Record every case that produced no number (profile skip, out of memory, error) with its reason."""
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
        session.record_skip(case, item.stash.get(SKIP_KIND, "profile"), reason)
    elif report.failed and report.when == "call":
        message = call.excinfo.exconly().splitlines()[0] if call.excinfo else "failed"
        session.record_skip(case, "error", message)
    return report


def pytest_benchmark_update_machine_info(config: pytest.Config, machine_info: dict[str, Any]) -> None:
    """Add backends, devices, CPU and container facts to pytest-benchmark's machine_info."""
    session = _session(config)
    if session is not None:
        machine_info["devicebench"] = session.machine_info()


def pytest_benchmark_update_json(config: pytest.Config, benchmarks: Any, output_json: dict[str, Any]) -> None:
    """Add the `devicebench` object (profile, notes, skipped cases) to benchmarks.json."""
    session = _session(config)
    if session is not None:
        output_json["devicebench"] = session.json_block()


def pytest_unconfigure(config: pytest.Config) -> None:
    """After pytest-benchmark has written its JSON: make sure one exists, point latest, keep a baseline."""
    session = _session(config)
    if session is None or session.run_dir is None:
        return
    path = session.run_dir / "benchmarks.json"
    if not path.exists() or path.stat().st_size == 0:
        # pytest-benchmark writes nothing when no case produced a number; the skips are still worth keeping.
        path.write_text(json.dumps(empty_results(config), indent=4))
    session.finish()


def empty_results(config: pytest.Config) -> dict[str, Any]:
    """A pytest-benchmark-shaped results document with no benchmarks, for runs where every case was skipped."""
    from pytest_benchmark import __version__ as pb_version

    hook = config.hook
    machine_info = hook.pytest_benchmark_generate_machine_info(config=config)
    hook.pytest_benchmark_update_machine_info(config=config, machine_info=machine_info)
    commit_info = hook.pytest_benchmark_generate_commit_info(config=config)
    hook.pytest_benchmark_update_commit_info(config=config, commit_info=commit_info)
    output: dict[str, Any] = {
        "machine_info": machine_info,
        "commit_info": commit_info,
        "benchmarks": [],
        "datetime": datetime.now(UTC).isoformat(),
        "version": pb_version,
    }
    pytest_benchmark_update_json(config, [], output)
    return output


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """Say what was skipped and why, and where the results are."""
    session = _session(config)
    if session is None:
        return
    tr = terminalreporter
    if session.skipped:
        tr.section("devicebench: cases without a number")
        for s in session.skipped:
            tr.write_line(f"{s['kind']:>7}  {s['name']}: {s['reason']}")
    if session.run_dir is not None:
        tr.write_line(f"devicebench results: {session.run_dir}")
