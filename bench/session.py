"""One devicebench run: its options, backends, devices, cases, run folder and recorded skips."""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import __version__
from bench.backends import (
    Backend,
    BackendSelectionError,
    BackendUnavailable,
    load_backend,
    parse_backends,
)
from bench.cases import Case, make_cases
from bench.devices import Device, DeviceSelectionError, select_devices
from bench.hostinfo import container_image, cpu_facts, host_name
from bench.nvml import Telemetry, map_tf_gpus
from bench.profiles import ProfileError, get_profile
from bench.workloads import WORKLOADS
from bench.workloads.mnist_data import MnistDataError, find_mnist, read_mnist


class UsageError(ValueError):
    """A bad option value; pytest shows its one-line message and exits with a usage error."""


def run_folder_name(now: datetime, host: str) -> str:
    """`<UTC yyyymmdd-HHMMSS>-<host>`, the name of one run's folder."""
    return f"{now.astimezone(UTC):%Y%m%d-%H%M%S}-{host}"


def make_run_dir(results_dir: Path, now: datetime, host: str) -> Path:
    """Create a new, unique run folder under `results_dir`."""
    base = results_dir / run_folder_name(now, host)
    path, n = base, 1
    while path.exists():
        n += 1
        path = base.with_name(f"{base.name}-{n}")
    path.mkdir(parents=True)
    return path


def point_latest(results_dir: Path, run_dir: Path) -> None:
    """Make `results_dir/latest` a relative symlink to `run_dir`, replacing the old one atomically."""
    tmp = results_dir / f".latest-{os.getpid()}"
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(run_dir.name)
    os.replace(tmp, results_dir / "latest")


def save_baseline(results_dir: Path, run_dir: Path, name: str) -> Path:
    """Copy a finished run to `results_dir/baselines/<name>/`, replacing a baseline of that name."""
    if not name or "/" in name or name.startswith("."):
        raise UsageError(f"--save-baseline: {name!r} is not a usable baseline name")
    target = results_dir / "baselines" / name
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(run_dir, target)
    return target


class DevicebenchSession:
    """Everything one pytest run of the suite knows; the plugin's hooks only call into it."""

    def __init__(self, options: Any) -> None:
        try:
            self.profile = get_profile(options.devicebench_profile)
            backend_names = parse_backends(options.devicebench_backend)
        except (ProfileError, BackendSelectionError) as exc:
            raise UsageError(str(exc)) from None
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
            backend.settings = {"mnist": options.devicebench_mnist}
            if options.devicebench_tf32 != "default":
                backend.set_tf32(options.devicebench_tf32 == "on")
            self.backends[name] = backend
            self.backend_status[name] = {"available": True, "version": backend.version(), "reason": ""}
        for name, backend in self.backends.items():
            reason = backend.gpu_absence_reason()
            if reason:
                self.notes.append(f"{name}: {reason}: GPU cases not generated")
        every_device = [d for b in self.backends.values() for d in b.devices()]
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
            else "MNIST: synthetic data of MNIST's shape (no mnist.npz found; see README to pre-fetch it)"
        )
        if options.devicebench_nvml_interval_ms <= 0:
            raise UsageError(f"--nvml-interval-ms must be above 0, got {options.devicebench_nvml_interval_ms:g}")
        interval_s = options.devicebench_nvml_interval_ms / 1000
        self.telemetry = (
            Telemetry.disabled("turned off by --no-nvml", interval_s)
            if options.devicebench_no_nvml
            else Telemetry.start(interval_s)
        )
        # backend GPU name -> NVML index, by PCI bus id (never by index: CUDA and NVML order GPUs differently)
        self.nvml_index = map_tf_gpus(
            [{"device": d.name, "pci_bus_id": d.pci_bus_id} for d in self.devices if d.kind == "gpu"],
            self.telemetry.gpus,
        )
        self.skipped: list[dict[str, Any]] = []
        self.cases: dict[str, Case] = {}
        self.results_dir: Path | None = None
        self.run_dir: Path | None = None
        self.baseline_name: str | None = options.devicebench_save_baseline
        if options.devicebench_results_dir:
            self.results_dir = Path(options.devicebench_results_dir)
            self.run_dir = make_run_dir(self.results_dir, datetime.now(UTC), host_name())

    def cases_for(self, workload_name: str) -> list[Case]:
        """The cases of one workload on the selected devices, remembered by id."""
        workload = WORKLOADS[workload_name]
        cases = make_cases(workload, self.profile, self.devices)
        for case in cases:
            self.cases[case.id] = case
        return cases

    def no_case_reason(self, workload_name: str) -> str:
        """Why a workload has no case at all in this run."""
        workload = WORKLOADS[workload_name]
        if not self.backends:
            return "no requested backend is available: " + "; ".join(self.notes)
        if not any(b in workload.backends for b in self.backends):
            return workload.absent_reason or f"{workload_name} has no case for {', '.join(self.backends)}"
        return f"{workload_name}: no selected device runs it"

    def record_skip(self, case: Case, kind: str, reason: str) -> None:
        """Remember a case that produced no number, and why, for benchmarks.json."""
        self.skipped.append(
            {
                "name": f"test_{case.workload.name}[{case.id}]",
                "workload": case.workload.name,
                "backend": case.backend,
                "device": case.device.name,
                "device_kind": case.device.kind,
                "params": dict(case.params),
                "reason": reason,
                "kind": kind,
            }
        )

    def header_lines(self) -> list[str]:
        """The run header: profile, backends, devices and why anything is missing."""
        lines = [f"devicebench {__version__}: profile {self.profile.name} ({self.profile.description})"]
        for name, status in self.backend_status.items():
            lines.append(f"  backend {name}: " + (status["version"] if status["available"] else "unavailable"))
        for d in self.devices:
            mem = f", {d.memory_bytes / 2**30:.1f} GiB" if d.memory_bytes else ""
            cc = f", compute capability {d.compute_capability}" if d.compute_capability else ""
            lines.append(f"  device {d.backend}/{d.name}: {d.model}{mem}{cc}")
        lines.append(f"  {self.telemetry.header_line()}")
        lines += [f"  note: {n}" for n in self.notes]
        lines.append(f"  {self.mnist_line}")
        if self.run_dir is not None:
            lines.append(f"  results: {self.run_dir}")
        return lines

    def machine_info(self) -> dict[str, Any]:
        """devicebench's additions to pytest-benchmark's machine_info."""
        return {
            "version": __version__,
            "backends": {
                name: {**status, **(self.backends[name].machine_info() if name in self.backends else {})}
                for name, status in self.backend_status.items()
            },
            "devices": [self.device_dict(d) for d in self.devices],
            **cpu_facts(),
            "container_image": container_image(),
            "nvidia_driver": self.telemetry.driver_version,
            "nvml": self.telemetry.machine_info(),
        }

    def device_dict(self, device: Device) -> dict[str, Any]:
        """A device as recorded, with its NVML index where it could be matched."""
        return {**device.as_dict(), "nvml_index": self.nvml_index.get(device.name)}

    def json_block(self) -> dict[str, Any]:
        """The top-level `devicebench` object of benchmarks.json."""
        return {
            "version": __version__,
            "profile": self.profile.name,
            "backends": self.backend_status,
            "devices": [self.device_dict(d) for d in self.devices],
            "notes": self.notes,
            "skipped": self.skipped,
            "nvml": {
                "enabled": self.telemetry.enabled,
                "reason": self.telemetry.reason,
                "error": self.telemetry.error,
                "csv": "nvml.csv" if self.telemetry.enabled and self.run_dir is not None else None,
            },
        }

    def finish(self) -> Path | None:
        """Write the NVML timeline, point `latest` at this run and keep a baseline if asked; returns the run folder."""
        self.telemetry.close()
        if self.run_dir is None or self.results_dir is None:
            return None
        if self.telemetry.enabled:
            self.telemetry.write_csv(self.run_dir / "nvml.csv")
        point_latest(self.results_dir, self.run_dir)
        if self.baseline_name:
            save_baseline(self.results_dir, self.run_dir, self.baseline_name)
        return self.run_dir
