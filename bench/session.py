"""One devicebench run: its options, backends, devices, cases, recorded skips and measured cases.

The session owns the run's record: every finished case is validated against the results format and
saved at once through its RunFolder, so an interrupted or killed run keeps what it measured.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from bench import __version__
from bench.backends import (
    Backend,
    BackendSelectionError,
    BackendUnavailable,
    load_backend,
    parse_backends,
)
from bench.case_limits import GpuContext
from bench.cases import Case, SizesError, make_cases
from bench.concurrent import ConcurrentError, run_concurrent, straggler_lines
from bench.devices import Device, DeviceSelectionError, select_devices
from bench.drift import REFERENCE, time_reference
from bench.hardware.cpu_peak import host_cpu_peak
from bench.hardware.links import pcie_gbs_per_direction
from bench.health import HealthCheck
from bench.health_tools import dcgm_diag, nvbandwidth
from bench.hostinfo import container_image, cpu_facts, host_name, thread_env
from bench.nvml import Telemetry, map_tf_gpus
from bench.profiles import PROFILES, ProfileError, get_profile, with_peaks_seconds
from bench.progress import time_left
from bench.run_folder import RunFolder, RunFolderError
from bench.runner import validation_line
from bench.workloads import WORKLOADS
from bench.workloads.mnist_data import MnistDataError, find_mnist, read_mnist
from results_format import (
    NVML_FILE,
    SCHEMA_VERSION,
    Benchmark,
    RunFile,
    SkipRecord,
    WorkloadSpec,
)

NOT_STARTED = "not started (--list and --collect-only measure nothing)"


class UsageError(ValueError):
    """A bad option value; pytest shows its one-line message and exits with a usage error."""


def _link_speed(link: tuple[int, int]) -> float:
    """A PCIe (generation, width)'s GB/s per direction, for picking the fastest state seen."""
    return pcie_gbs_per_direction(*link) or 0.0


class NeedsGpu(UsageError):
    """An option that needs GPUs on a host without one (exit status 2, one line)."""


class CaseRecordError(ValueError):
    """A finished case whose record does not fit the results format (a bug, reported as the case's error)."""


class DevicebenchSession:
    """Everything one pytest run of the suite knows; the plugin's hooks only call into it."""

    def __init__(self, options: Any) -> None:
        try:
            self.profile = get_profile(options.devicebench_profile)
            backend_names = parse_backends(options.devicebench_backend)
        except (ProfileError, BackendSelectionError) as exc:
            raise UsageError(str(exc)) from None
        minutes = getattr(options, "devicebench_sustained_minutes", None)
        if minutes is not None:
            if not minutes > 0:
                raise UsageError(f"--sustained-minutes must be above 0, got {minutes:g}")
            if not self.profile.runs("sustained", opt_in=True):
                raise UsageError(
                    f"--sustained-minutes needs --profile sustained (profile {self.profile.name} runs none)"
                )
            self.profile = dataclasses.replace(self.profile, sustained_s=round(minutes * 60.0, 3))
        try:
            self.profile = with_peaks_seconds(self.profile, getattr(options, "devicebench_peaks_seconds", None))
        except ProfileError as exc:
            raise UsageError(str(exc)) from None
        self.host = host_name()
        self.started = datetime.now(UTC)  # one reading: the run folder's name and the file's datetime agree
        self.folder: RunFolder | None = None
        if options.devicebench_save_baseline and not options.devicebench_results_dir:
            raise UsageError("--save-baseline needs --results-dir")
        if options.devicebench_run_path_file and not options.devicebench_results_dir:
            raise UsageError("--run-path-file needs --results-dir")
        if options.devicebench_results_dir:
            try:  # before anything runs: a run must never find out at its end that it cannot be kept
                self.folder = RunFolder.prepare(
                    Path(options.devicebench_results_dir),
                    self.host,
                    self.started,
                    baseline=options.devicebench_save_baseline,
                    path_file=Path(options.devicebench_run_path_file) if options.devicebench_run_path_file else None,
                    baseline_keep=options.devicebench_baseline_window,
                )
            except RunFolderError as exc:
                raise UsageError(str(exc)) from None
        self.precision: float | None = options.devicebench_precision
        if self.precision is not None and not 0 < self.precision < 1:
            raise UsageError(f"--precision must be a fraction between 0 and 1 (e.g. 0.02), got {self.precision:g}")
        self.options = {"tf32": options.devicebench_tf32, "precision": self.precision}
        self.backends: dict[str, Backend] = {}
        self.backend_status: dict[str, dict[str, Any]] = {}
        self.notes: list[str] = []
        for name in backend_names:
            try:
                backend = load_backend(name)
            except BackendUnavailable as exc:
                self.backend_status[name] = {"available": False, "version": None, "reason": str(exc)}
                self.notes.append(f"backend {name} unavailable: {exc}")
                continue
            backend.settings = {
                "mnist": options.devicebench_mnist,
                "results_dir": str(self.folder.results_dir) if self.folder is not None else None,
            }
            if options.devicebench_tf32 != "default":
                backend.set_tf32(options.devicebench_tf32 == "on")
            self.backends[name] = backend
            self.backend_status[name] = {"available": True, "version": backend.version(), "reason": ""}
        for name, backend in self.backends.items():
            reason = backend.gpu_absence_reason()
            if reason:
                self.notes.append(f"{name}: {reason}: GPU cases not generated")
        every_device = [d for b in self.backends.values() for d in b.devices()]
        self.all_gpus = [d for d in every_device if d.kind == "gpu"]  # --concurrent runs every one, selected or not
        try:
            self.devices: list[Device] = (
                select_devices(options.devicebench_devices, every_device) if every_device else []
            )
        except DeviceSelectionError as exc:
            why = "; ".join(f"{n}: {r}" for n, b in self.backends.items() if (r := b.gpu_absence_reason()))
            raise UsageError(f"{exc} ({why})" if why else str(exc)) from None
        try:
            mnist_path = find_mnist(options.devicebench_mnist)
            if mnist_path is not None:
                read_mnist(mnist_path)  # a corrupt file is a usage error now, not a failure per case later
        except MnistDataError as exc:
            raise UsageError(f"--mnist: {exc}") from None
        self.mnist_line = (
            f"MNIST: real data from {mnist_path}"
            if mnist_path
            else "MNIST: synthetic data of MNIST's shape (no mnist.npz found; see docs/workloads.md to pre-fetch it)"
        )
        if options.devicebench_nvml_interval_ms <= 0:
            raise UsageError(f"--nvml-interval-ms must be above 0, got {options.devicebench_nvml_interval_ms:g}")
        self.interval_s = options.devicebench_nvml_interval_ms / 1000
        self.nvml_off = bool(options.devicebench_no_nvml)
        # What measuring needs (NVML, the GPUs' idle power, the drift reference) waits for start():
        # --list and --collect-only only discover devices, and never start it.
        self.telemetry = Telemetry.disabled(
            "turned off by --no-nvml" if self.nvml_off else NOT_STARTED, self.interval_s
        )
        self.health_off = bool(getattr(options, "devicebench_no_health", False))
        self.concurrent = bool(getattr(options, "devicebench_concurrent", False))
        self.dcgm_level: int | None = getattr(options, "devicebench_dcgm_diag", None)
        self.nvbandwidth = bool(getattr(options, "devicebench_nvbandwidth", False))
        if self.concurrent and not self.all_gpus:
            why = "; ".join(self.notes) or "no GPU on this host"
            raise NeedsGpu(f"--concurrent runs every GPU at once and needs GPUs: {why}")
        self.health = HealthCheck.off("turned off by --no-health" if self.health_off else NOT_STARTED)
        self.nvml_index: dict[str, int] = {}
        self.gpu_idle: dict[str, Any] = {}
        self.drift_start: list[float] | None = None
        self.started_measuring = False
        self.skipped: list[SkipRecord] = []
        self.benchmarks: list[Benchmark] = []
        self.saved = 0  # cases in the benchmarks.json on disk
        self.cases: dict[str, Case] = {}
        self.drift_end: list[float] | None = None
        self.stop_reason: str | None = None  # set when a signal asks the run to stop
        self.last_state, self.last_reason = "running", ""
        self.pending: list[str] = []  # node ids of the cases still to run, in order
        self.workload_of: dict[str, str] = {}
        self.what_width = 32  # the live lines' first column, set to the longest case once collected
        self.placeholders: set[str] = set()  # node ids of workloads' "no case here" items
        self.durations: dict[str, list[float]] = {}  # seconds each finished case took, per workload
        self._machine_info: dict[str, Any] | None = None
        self._commit_info: dict[str, Any] | None = None
        if not (options.devicebench_list or getattr(options, "collectonly", False)):
            self.start()

    def start(self) -> None:
        """Start what measuring needs, once: NVML, each selected GPU's idle power and the drift reference."""
        if self.started_measuring:
            return
        self.started_measuring = True
        if not self.nvml_off:  # else it stays the disabled one made with the session, saying so
            self.telemetry = Telemetry.start(self.interval_s)
        if not self.health_off:  # every GPU's error counters before the first case, and critical XIDs from now on
            self.health = HealthCheck.begin(self.telemetry)
        self.run_health_tools()
        # backend GPU name -> NVML index, by PCI bus id (never by index: CUDA and NVML order GPUs differently)
        self.nvml_index = map_tf_gpus(
            [{"device": d.name, "pci_bus_id": d.pci_bus_id} for d in self.devices if d.kind == "gpu"],
            self.telemetry.gpus,
        )
        # each selected GPU's power with no work, before the first case (its cases' energy is net of it)
        gpus = sorted({self.nvml_index[d.name] for d in self.devices if d.name in self.nvml_index})
        self.gpu_idle = {k: v for k, v in self.telemetry.measure_idle().items() if int(k) in gpus} if gpus else {}
        # the machine's pace at the start; timed again at the end of a complete run (see bench.drift)
        self.drift_start = time_reference() if self.folder is not None else None

    def run_health_tools(self) -> None:
        """The asked-for checks before the first case: every GPU at once, dcgmi diag, nvbandwidth (recorded)."""
        if self.concurrent:
            backend = self.all_gpus[0].backend
            try:
                checks = run_concurrent(backend, [d.name for d in self.all_gpus if d.backend == backend])
            except (OSError, ConcurrentError) as exc:
                self.notes.append(f"--concurrent did not run: {exc}")
            else:
                self.health.extra["concurrent"] = checks
        tools, facts = [], []
        if self.dcgm_level is not None:
            record, found = dcgm_diag(self.dcgm_level)
            tools.append(record)
            facts += found
        if self.nvbandwidth:
            tools.append(nvbandwidth())
        if tools:
            self.health.extra["tools"] = tools
        if facts:
            self.health.extra["facts"] = facts

    @property
    def run_dir(self) -> Path | None:
        """This run's folder, once its first case has been saved."""
        return self.folder.run_dir if self.folder is not None else None

    def cases_for(self, workload_name: str) -> list[Case]:
        """The cases of one workload on the selected devices, remembered by id."""
        workload = WORKLOADS.get(workload_name)
        if workload is None:
            raise UsageError(f"unknown workload {workload_name!r}; workloads: {', '.join(WORKLOADS)}")
        try:
            cases = make_cases(workload, self.profile, self.devices)
        except SizesError as exc:  # a profile added without this workload's sizes: one line, not a traceback
            raise UsageError(str(exc)) from None
        for case in cases:
            self.cases[case.id] = case
        return cases

    def no_case_reason(self, workload_name: str) -> str:
        """Why a workload has no case at all in this run."""
        workload = WORKLOADS[workload_name]
        if not self.profile.runs(workload_name, workload.opt_in):
            if workload.opt_in:
                named = [p.name for p in PROFILES.values() if p.workloads and workload_name in p.workloads]
                return f"{workload_name} is opt-in: run it with --profile {' or '.join(named) or workload_name}"
            return f"profile {self.profile.name} runs only {', '.join(self.profile.workloads or ())}"
        if not self.backends:
            return "no requested backend is available: " + "; ".join(self.notes)
        if not any(b in workload.backends for b in self.backends):
            return workload.absent_reason or f"{workload_name} has no case for {', '.join(self.backends)}"
        return f"{workload_name}: no selected device runs it"

    def record_skip(self, case: Case, kind: str, reason: str) -> None:
        """Remember a case that produced no number, and why, for benchmarks.json."""
        self.skipped.append(
            SkipRecord(
                name=f"test_{case.workload.name}[{case.id}]",
                workload=case.workload.name,
                backend=case.backend,
                device=case.device.name,
                device_kind=case.device.kind,  # type: ignore[arg-type]
                params=dict(case.params),
                kind=kind,
                reason=reason,
            )
        )

    @property
    def has_run_facts(self) -> bool:
        """Whether pytest-benchmark's machine and commit facts are known (they are taken with the first case)."""
        return self._machine_info is not None

    def add_case(
        self,
        entry: Mapping[str, Any],
        machine_info: Mapping[str, Any] | None,
        commit_info: Mapping[str, Any] | None,
    ) -> Path | None:
        """Validate a finished case (pytest-benchmark's entry) and save the run with it; the run folder or None.

        `machine_info` and `commit_info` are needed with the first case only (see has_run_facts).
        """
        try:
            benchmark = Benchmark.model_validate(entry)
        except ValidationError as exc:
            raise CaseRecordError(
                f"the case's record does not fit the results format: {validation_line(exc)}"
            ) from None
        if self._machine_info is None and machine_info is not None:  # as JSON: the machine facts hold tuples
            self._machine_info = json.loads(json.dumps(machine_info, default=str))
            self._commit_info = json.loads(json.dumps(commit_info, default=str))
        self.benchmarks.append(benchmark)
        if self.folder is None:
            return None
        path = self.folder.save(self.document("running", "the run was still going when this was written"))
        self.saved = len(self.benchmarks)
        self.telemetry.append_csv(path / NVML_FILE)
        return path

    def finish(self, state: str, reason: str) -> Path | None:
        """Write the run's final state (when it measured anything) and keep a baseline if asked; the folder."""
        self.health.end()  # before NVML shuts down: the counters after the last case
        self.telemetry.close()
        self.last_state, self.last_reason = state, reason
        if self.folder is None or not self.benchmarks:
            return None
        if state == "complete" and self.drift_start is not None:
            self.drift_end = time_reference()
        path = self.folder.save(self.document(state, reason))
        self.saved = len(self.benchmarks)
        self.telemetry.append_csv(path / NVML_FILE)
        if state == "complete":
            self.folder.save_baseline()
        return path

    def document(self, state: str, reason: str) -> RunFile:
        """The whole results file as it stands: the cases so far, the skips, and the run's state."""
        from pytest_benchmark import __version__ as pb_version

        ended = None if state == "running" else datetime.now(UTC).isoformat()
        return RunFile.model_validate(
            {
                "machine_info": self._machine_info or {"devicebench": self.machine_info()},
                "commit_info": self._commit_info or {},
                "benchmarks": self.benchmarks,
                "datetime": self.started.isoformat(),
                "version": pb_version,
                "devicebench": {
                    "schema_version": SCHEMA_VERSION,
                    "suite_version": __version__,
                    "run": {
                        "state": state,
                        "complete": state == "complete",
                        "reason": reason,
                        "started": self.started.isoformat(),
                        "ended": ended,
                        "measured": len(self.benchmarks),
                    },
                    "profile": self.profile.name,
                    "options": self.options,
                    "workloads": self.workload_specs(),
                    "backends": self.backend_status,
                    "devices": [self.device_dict(d) for d in self.devices],
                    "notes": self.notes,
                    "skipped": self.skipped,
                    "drift": {"reference": REFERENCE, "start_s": self.drift_start, "end_s": self.drift_end}
                    if self.drift_start
                    else None,
                    "health": self.health.record(self.links_seen()),
                    "nvml": {
                        "enabled": self.telemetry.enabled,
                        "reason": self.telemetry.reason,
                        "error": self.telemetry.error,
                        "csv": NVML_FILE if self.telemetry.enabled and self.folder is not None else None,
                    },
                },
            }
        )

    def workload_specs(self) -> dict[str, WorkloadSpec]:
        """The spec of every workload this run measured or skipped, as the results file describes them."""
        known = {case.workload.name: case.workload for case in self.cases.values()}
        names = [b.extra_info.workload for b in self.benchmarks] + [s.workload for s in self.skipped]
        return {name: (known.get(name) or WORKLOADS[name]).spec for name in dict.fromkeys(names)}

    def links_seen(self) -> dict[int, tuple[int, int]]:
        """The fastest PCIe link state each NVML GPU showed while cases ran (GPUs lower it when idle)."""
        best: dict[int, tuple[int, int]] = {}
        for bench in self.benchmarks:
            for key, summary in (bench.extra_info.nvml or {}).items():
                gen, width = getattr(summary, "pcie_link_gen", None), getattr(summary, "pcie_link_width", None)
                if isinstance(gen, int) and isinstance(width, int) and key.isdigit():
                    best[int(key)] = max(best.get(int(key), (1, 1)), (gen, width), key=_link_speed)
        return best

    def header_lines(self) -> list[str]:
        """The run header: profile, backends, devices and why anything is missing."""
        lines = [f"devicebench {__version__}: profile {self.profile.name} ({self.profile.description})"]
        if self.precision is not None:
            lines.append(
                f"  rounds: until each median is known within +-{self.precision:.1%} (95 %), "
                f"at most {self.profile.precision_budget_s:g} s of timing per case"
            )
        for name, status in self.backend_status.items():
            lines.append(f"  backend {name}: " + (status["version"] if status["available"] else "unavailable"))
        for d in self.devices:
            mem = f", {d.memory_bytes / 2**30:.1f} GiB" if d.memory_bytes else ""
            cc = f", compute capability {d.compute_capability}" if d.compute_capability else ""
            lines.append(f"  device {d.backend}/{d.name}: {d.model}{mem}{cc}")
        lines.append(f"  {self.telemetry.header_line()}")
        lines.append(f"  health: {self.health.header_line()}")
        lines += [f"  health: {line}" for line in straggler_lines(self.health.extra.get("concurrent", []))]
        lines += [f"  note: {n}" for n in self.notes]
        lines.append(f"  {self.mnist_line}")
        if self.folder is not None:
            lines.append(
                f"  results: a new run folder in {self.folder.results_dir}/ once the first case finishes "
                f"(host {self.host})"
            )
        return lines

    def machine_info(self) -> dict[str, Any]:
        """devicebench's additions to pytest-benchmark's machine_info."""
        return {
            "version": __version__,
            "host": self.host,
            "backends": {
                name: {**status, **(self.backends[name].machine_info() if name in self.backends else {})}
                for name, status in self.backend_status.items()
            },
            "devices": [self.device_dict(d) for d in self.devices],
            **cpu_facts(),
            "thread_env": thread_env(),
            "container_image": container_image(),
            "nvidia_driver": self.telemetry.driver_version,
            "nvml": self.telemetry.machine_info(),
            "cpu_peak": host_cpu_peak().as_dict(),
            "gpu_idle": self.gpu_idle,
        }

    def device_dict(self, device: Device) -> dict[str, Any]:
        """A device as recorded, with its NVML index, detected SKU, spec and host link where NVML matched it."""
        index = self.nvml_index.get(device.name)
        return {**device.as_dict(), "nvml_index": index, **self.telemetry.gpu_hardware(index)}

    def gpu_context(self, case: Case) -> GpuContext | None:
        """The NVML GPU a case runs on and its idle power, for its energy and throttle records."""
        index = self.nvml_index.get(case.device.name) if case.device.kind == "gpu" else None
        if index is None or not self.telemetry.enabled:
            return None
        idle = self.gpu_idle.get(str(index), {}).get("power_w")
        return GpuContext(nvml_index=index, idle_power_w=idle)

    def finished(self, nodeid: str, seconds: float) -> tuple[int, int, float]:
        """Note a finished case; (its position, the number of cases, estimated seconds left)."""
        total = len(self.workload_of)
        if nodeid in self.pending:
            self.pending.remove(nodeid)
            self.durations.setdefault(self.workload_of[nodeid], []).append(seconds)
        left = time_left(self.durations, [self.workload_of[n] for n in self.pending])
        return total - len(self.pending), total, left

    def nothing_measured_reason(self, deselected: int, collect_only: bool) -> str:
        """Why a run measured no case, in one line."""
        if collect_only:
            return "--collect-only lists the cases without running them"
        if not self.backends:
            return "no requested backend is available: " + "; ".join(self.notes)
        if self.last_state == "interrupted":  # stopped before its first case finished
            return f"the run was {self.last_reason or 'interrupted'} before its first case finished"
        if self.skipped:
            kinds: dict[str, int] = {}
            for s in self.skipped:
                kinds[s.kind] = kinds.get(s.kind, 0) + 1
            parts = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
            return f"every case that ran was skipped or failed ({parts}; see above)"
        # cases are made at collection, before -k/-m deselects them: a deselected run still has self.cases
        if deselected and not self.workload_of:
            return f"no case was selected (-k/-m deselected all {deselected})"
        return "no case was selected" if not self.cases else "no selected case ran"
