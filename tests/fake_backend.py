"""A scripted backend for plugin tests: numpy work on pretend CPU/GPU devices, with switchable faults."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from bench.backends.base import Backend, Prepared
from bench.cases import Case
from bench.devices import Device

# Set by tests (in-process pytester shares this module): which faults to script.
FAULTS: dict[str, Any] = {"misplace_on": None, "oom_from_n": None, "gpus": 2}


class FakeOutOfMemory(RuntimeError):
    """Stands in for a framework's out-of-memory error."""


class FakeBackend(Backend):
    """CPU:0 plus FAULTS['gpus'] pretend GPUs; matmul runs in numpy."""

    name = "fake"
    sync_method = "fake.sync"

    def version(self) -> str:
        """A fixed version."""
        return "0.0-fake"

    def devices(self) -> list[Device]:
        """CPU:0 and the scripted GPUs."""
        gpus = [
            Device(
                self.name,
                f"GPU:{i}",
                "gpu",
                f"Fake GPU {i}",
                memory_bytes=2**30,
                compute_capability="9.0",
                pci_bus_id=f"0000:{0x3B + i:02X}:00.0",
            )
            for i in range(int(os.environ.get("FAKE_GPUS", FAULTS["gpus"])))
        ]
        return [Device(self.name, "CPU:0", "cpu", "Fake CPU"), *gpus]

    def gpu_absence_reason(self) -> str | None:
        """Why there is no GPU, when none is scripted."""
        return None if len(self.devices()) > 1 else "no fake GPU scripted"

    def sync(self) -> None:
        """Nothing is asynchronous here."""

    def placement(self, value: Any) -> str:
        """The placement the output carries."""
        return value[1]

    def device_name_of(self, placement: str) -> str:
        """Placements are already suite names."""
        return placement

    def build(self, case: Case) -> Prepared:
        """A small numpy matmul that reports the device it was asked for (or a scripted wrong one)."""
        n = int(case.params["n"])
        if FAULTS["oom_from_n"] is not None and n >= FAULTS["oom_from_n"] and case.device.kind == "gpu":
            raise FakeOutOfMemory(f"OOM when allocating tensor with shape[{n},{n}]\nsecond line")
        a = np.ones((8, 8), dtype=np.float32)
        where = "CPU:0" if FAULTS["misplace_on"] == case.device.name else case.device.name
        return Prepared(lambda: (a @ a, where), facts=lambda median: {"fake_fact": 42})

    def is_out_of_memory(self, error: BaseException) -> bool:
        """Only the scripted error."""
        return isinstance(error, FakeOutOfMemory)

    def set_tf32(self, enabled: bool) -> None:
        """Remembered for the tests."""
        FAULTS["tf32"] = enabled

    def machine_info(self) -> dict[str, Any]:
        """Fixed facts."""
        return {"version": "0.0-fake", "built_with_cuda": True}

    def case_facts(self, case: Case) -> dict[str, Any]:
        """Fixed precision and threads."""
        tf32 = bool(FAULTS.get("tf32", False))
        return {"precision": {"dtype": case.params.get("dtype"), "tf32": tf32}, "threads": {"intra_op": 0}}
