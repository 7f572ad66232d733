"""Run the real devicebench plugin on a scripted host: `python -m pytest bench -p tests.golden_plugin ...`.

    DEVICEBENCH_FAKE_HOST=gpubox DEVICEBENCH_FAKE_START=2026-11-21T12:00:00+00:00 \\
        python -m pytest bench -p tests.golden_plugin --backend tensorflow --profile full --results-dir out

Before the plugin builds its session, this plugin
- registers the scripted backends (tests/fake_backend.py) as `tensorflow`, `torch` and `fake`; a framework the
  host lacks fails to import as a missing package does;
- times everything on the virtual clock (it sets `--benchmark-timer tests.fake_backend.now`), the wall clock too:
  the run starts at $DEVICEBENCH_FAKE_START and its datetimes move with the virtual clock;
- records the scripted host's machine facts (pytest-benchmark's and devicebench's, the CPU's estimated peak from
  its scripted ISA, cores and clock) and a scripted commit; the mixed-precision cases a CPU gets follow its
  scripted ISA flags too (bfloat16 only with AVX-512 BF16 or AMX), not this machine's;
- on a GPU host installs the scripted NVML (tools/fake_nvml.py) with each board's NVML identity, so the suite
  detects its SKU and spec as on the real board (tests/fake_gpus.py); its GPUs follow what the cases do (power,
  energy counter, clocks, throttle reasons, temperature), their idle power is measured on the virtual clock before
  the first case, and they are sampled on it (on entering and leaving each case, and after a call once an interval
  has passed), so nvml.csv and the per-case energy and throttle records are the same on every run; a CPU host has
  no NVIDIA driver.
Everything it changes is put back when pytest ends, so it also runs in-process (pytester).
"""

from __future__ import annotations

import hashlib
import importlib.abc
import os
import random
import sys
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pynvml
import pytest

import bench.concurrent
import bench.nvml
import bench.run_folder
import bench.session
import bench.workloads.mnist_amp
import bench.workloads.resnet50_train
from bench.backends import BACKEND_MODULES
from bench.hardware.cpu_peak import CpuFacts, CpuPeak, estimate_cpu_peak
from bench.hostinfo import host_name
from bench.nvml import Recording, Telemetry, nvml_available
from tests.fake_clock import CLOCK
from tests.fake_gpus import GPUS
from tests.fake_hosts import Host, Script, ScriptError
from tests.fake_nvml import FakeNvml

START_ENV = "DEVICEBENCH_FAKE_START"
DEFAULT_START = "2026-11-20T09:00:00+00:00"
TIMER = "tests.fake_backend.now"
SCRIPTED = {"tensorflow": "FakeTensorFlowBackend", "torch": "FakeTorchBackend", "fake": "ScriptedBackend"}

PATCHES = pytest.StashKey[pytest.MonkeyPatch]()
SCRIPT = pytest.StashKey[Script]()
STARTED = pytest.StashKey[datetime]()


class NotInstalled(importlib.abc.MetaPathFinder):
    """Makes a backend module fail to import as it does where its framework is not installed."""

    def __init__(self, modules: dict[str, str]) -> None:
        self.modules = modules  # backend module -> the framework package it imports

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> None:
        """Refuse the backend modules of missing frameworks; leave every other import alone."""
        package = self.modules.get(fullname)
        if package is not None:
            raise ModuleNotFoundError(f"No module named '{package}'", name=package)


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """Script the host before devicebench's own pytest_configure builds its session."""
    if config.option.help or getattr(config.option, "version", False):
        return
    try:
        script = Script.from_env()
        started = datetime.fromisoformat(os.environ.get(START_ENV, DEFAULT_START))
    except (ScriptError, ValueError) as exc:
        raise pytest.UsageError(f"tests.golden_plugin: {exc}") from None
    host = script.host
    patch = pytest.MonkeyPatch()
    config.stash[PATCHES], config.stash[SCRIPT], config.stash[STARTED] = patch, script, started
    patch.setenv("DEVICEBENCH_HOST", os.environ.get("DEVICEBENCH_HOST") or host.name)
    config.option.benchmark_timer = TIMER
    CLOCK.t = 0.0
    register_backends(patch, host)
    script_wall_clock(patch, started)
    patch.setattr(bench.session, "cpu_facts", lambda: cpu_facts(host))
    patch.setattr(bench.session, "host_cpu_peak", lambda: cpu_peak(host))
    patch.setattr(bench.session, "container_image", lambda: host.container_image)
    patch.setattr(bench.session, "thread_env", lambda: {})
    patch.setattr(bench.session, "time_reference", scripted_reference(script))
    for module in (bench.workloads.mnist_amp, bench.workloads.resnet50_train):  # mixed precision by the CPU's ISA
        patch.setattr(module, "cpu_flags", lambda: frozenset(host.cpu.flags))
    patch.setattr(bench.concurrent, "worker_command", fake_worker_command)
    patch.setattr(bench.concurrent, "START_MARGIN_S", 0.0)
    nvml_available.cache_clear()
    if host.gpus:
        script_nvml(patch, config, script)
    else:
        FakeNvml([], init_error=pynvml.NVMLError_LibraryNotFound()).install(patch.setattr)


def fake_worker_command(backend: str, workload: str, index: int, seconds: float, start_at: float) -> list[str]:
    """--concurrent's worker on the scripted host: tests.fake_concurrent instead of bench.concurrent_worker."""
    arguments = ["--backend", backend, "--workload", workload, "--gpu", str(index), "--seconds", f"{seconds:g}"]
    return [sys.executable, "-m", "tests.fake_concurrent", *arguments, "--start-at", f"{start_at:.3f}"]


def scripted_reference(script: Script) -> Callable[..., list[float]]:
    """The drift reference (bench.drift.time_reference): 50 noisy rounds near 0.8 ms, x the drift at the end."""
    calls = []

    def time_reference(*args: Any, **kwargs: Any) -> list[float]:
        rng = random.Random(script.seed_for(script.host.name, f"drift-reference-{len(calls)}"))
        factor = script.drift if calls else 1.0
        calls.append(factor)
        return [0.0008 * factor * rng.lognormvariate(0.0, 0.03) for _ in range(50)]

    return time_reference


def register_backends(patch: pytest.MonkeyPatch, host: Host) -> None:
    """The scripted backends under the real names; a framework the host lacks cannot be imported."""
    missing: dict[str, str] = {}
    for name, class_name in SCRIPTED.items():
        if name in host.not_installed and name in BACKEND_MODULES:
            module, _, package = BACKEND_MODULES[name]
            missing[module] = package
            patch.delitem(sys.modules, module, raising=False)
        else:
            patch.setitem(BACKEND_MODULES, name, ("tests.fake_backend", class_name, name))
    if missing:
        patch.setattr(sys, "meta_path", [NotInstalled(missing), *sys.meta_path])


def script_wall_clock(patch: pytest.MonkeyPatch, started: datetime) -> None:
    """The run's datetimes (folder name, start, end) follow the virtual clock from `started`."""

    class ScriptedDatetime(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> datetime:  # type: ignore[override]
            moment = started + timedelta(seconds=CLOCK.peek())
            return moment.astimezone(tz) if tz is not None else moment.replace(tzinfo=None)

    patch.setattr(bench.session, "datetime", ScriptedDatetime)
    patch.setattr(bench.run_folder, "datetime", ScriptedDatetime)


def script_nvml(patch: pytest.MonkeyPatch, config: pytest.Config, script: Script) -> None:
    """The host's GPUs behind a scripted NVML, sampled on the virtual clock (no sampler thread)."""
    GPUS.attach(script, host_name()).install(patch.setattr)
    patch.setattr(bench.nvml, "time", SimpleNamespace(perf_counter=CLOCK.peek, thread_time=time.thread_time))
    measure_idle = Telemetry.measure_idle

    def idle_wait(seconds: float) -> None:
        GPUS.idle(seconds)
        CLOCK.advance(seconds)

    def measure_idle_virtually(self: Telemetry, seconds: float = bench.nvml.IDLE_SECONDS, *args: Any) -> dict:
        return measure_idle(self, seconds, idle_wait)  # the idle readings' waits pass on the virtual clock

    patch.setattr(Telemetry, "measure_idle", measure_idle_virtually)

    def sample(self: Telemetry, case: str, background: bool = True) -> Recording:
        return Recording(self, case, background=False)

    patch.setattr(Telemetry, "sample", sample)
    from bench.plugin import SESSION_KEY  # here: pytest must import the plugin module itself (assert rewriting)

    def poll(t: float) -> None:
        # The telemetry's clock starts with the virtual one (at 0), so sample times and `t` compare directly.
        session = config.stash.get(SESSION_KEY, None)
        if session is None:
            return
        telemetry = session.telemetry
        last = telemetry.samples[-1].t_s if telemetry.samples else float("-inf")
        if t - last >= telemetry.interval_s:
            telemetry.poll_once()

    patch.setattr(CLOCK, "listeners", [poll])


def cpu_facts(host: Host) -> dict[str, Any]:
    """devicebench's CPU facts of the scripted host."""
    return {"cpu_model": host.cpu.name, "cpu_cores": host.cpu.cores, "cpu_usable_cores": host.cpu.cores}


def cpu_peak(host: Host) -> CpuPeak:
    """The suite's estimated CPU peak for the scripted CPU (its vendor, family, flags, clock and cores)."""
    cpu = host.cpu
    facts = CpuFacts(
        vendor=cpu.vendor,
        brand=cpu.name,
        arch="X86_64",
        family=cpu.family,
        flags=frozenset(cpu.flags),
        base_clock_ghz=cpu.ghz,
        usable_logical_cpus=cpu.cores,
        usable_physical_cores=cpu.cores,
    )
    return estimate_cpu_peak(facts)


def pytest_report_header(config: pytest.Config) -> list[str]:
    """Say that the host is scripted."""
    script = config.stash.get(SCRIPT, None)
    if script is None:
        return []
    host = script.host
    gpus = ", ".join(slot.model.name for slot in host.gpus) or "no GPU"
    return [f"scripted host {host.name} (tests.golden_plugin): {host.cpu.name}; {gpus}; seed {script.seed}"]


@pytest.hookimpl(tryfirst=True)
def pytest_benchmark_generate_machine_info(config: pytest.Config) -> dict[str, Any] | None:
    """pytest-benchmark's machine_info of the scripted host."""
    script = config.stash.get(SCRIPT, None)
    if script is None:
        return None
    cpu = script.host.cpu
    hz = int(cpu.ghz * 1e9)
    return {
        "node": host_name(),
        "processor": "x86_64",
        "machine": "x86_64",
        "python_compiler": "GCC 12.2.0",
        "python_implementation": "CPython",
        "python_implementation_version": "3.11.11",
        "python_version": "3.11.11",
        "python_build": ["main", "Dec  4 2024 08:55:07"],
        "release": script.host.kernel,
        "system": "Linux",
        "cpu": {
            "python_version": "3.11.11.final.0 (64 bit)",
            "cpuinfo_version": [9, 0, 0],
            "cpuinfo_version_string": "9.0.0",
            "arch": "X86_64",
            "bits": 64,
            "count": cpu.cores,
            "arch_string_raw": "x86_64",
            "vendor_id_raw": cpu.vendor,
            "brand_raw": cpu.name,
            "hz_advertised_friendly": f"{cpu.ghz:.4f} GHz",
            "hz_actual_friendly": f"{cpu.ghz:.4f} GHz",
            "hz_advertised": [hz, 0],
            "hz_actual": [hz, 0],
            "family": cpu.family,
            "flags": list(cpu.flags),
        },
    }


@pytest.hookimpl(tryfirst=True)
def pytest_benchmark_generate_commit_info(config: pytest.Config) -> dict[str, Any] | None:
    """A scripted commit per host, run seed and start time."""
    script, started = config.stash.get(SCRIPT, None), config.stash.get(STARTED, None)
    if script is None or started is None:
        return None
    commit = hashlib.sha1(f"{host_name()}:{script.seed}:{started.isoformat()}".encode()).hexdigest()
    return {
        "id": commit,
        "time": started.isoformat(),
        "author_time": started.isoformat(),
        "dirty": False,
        "project": "devicebench",
        "branch": "main",
    }


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    """Put back everything this plugin changed (after devicebench has closed its NVML sampler)."""
    patch = config.stash.get(PATCHES, None)
    if patch is not None:
        patch.undo()
    GPUS.detach()
    nvml_available.cache_clear()
