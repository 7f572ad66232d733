"""`-p tests.hardware_fake_plugin`: the real devicebench plugin on the scripted H100 host of tests/hardware_fake.py.

Loaded before devicebench's own configure hook, it registers the fake backend as `fake` (for matmul, membw,
transfer and sustained), a small `roof` profile (large enough GPU matmuls to reach the ridge, few rounds), and
installs the fake NVML GPU, so a run gets a detected SKU, idle power, per-case energy and throttling, and an
nvml.csv timeline. DEVICEBENCH_FAKE_CORRUPT_ROUND=N makes the sustained checksum go wrong from round N on.

    python -m pytest bench/benchmarks -p tests.hardware_fake_plugin --backend fake --profile roof --results-dir R
"""

from __future__ import annotations

import dataclasses
import os

from bench.backends import BACKEND_MODULES
from bench.nvml import nvml_available
from bench.nvml_fake import FakeNvml
from bench.profiles import PROFILES
from bench.workloads import WORKLOADS
from bench.workloads.membw import SIZES_MIB
from tests import hardware_fake

FAKE_WORKLOADS = ("matmul", "membw", "transfer", "sustained")

ROOF = dataclasses.replace(
    PROFILES["smoke"],
    name="roof",
    description="tests: GPU matmuls up to n=16384, few rounds",
    matmul_sizes=(256, 1024, 4096, 16384),
    matmul_cpu_max=1024,
    gpu_low_precision=("bfloat16",),
    transfer_sizes_mib=(1, 64),
    warmup_calls=1,
    min_rounds=5,
    max_rounds=12,
    target_seconds=0.06,
)


def install() -> FakeNvml:
    """Register the fake backend, the roof profile and the fake NVML GPU (idempotent within a process)."""
    BACKEND_MODULES["fake"] = ("tests.hardware_fake", "HardwareFakeBackend", "tests")
    for name in FAKE_WORKLOADS:
        WORKLOADS[name] = dataclasses.replace(WORKLOADS[name], backends=("fake",))
    PROFILES["roof"] = ROOF
    SIZES_MIB["roof"] = (256, 1024)
    corrupt = os.environ.get("DEVICEBENCH_FAKE_CORRUPT_ROUND")
    hardware_fake.SCRIPT.corrupt_round = int(corrupt) if corrupt else None
    hardware_fake.SCRIPT.gpu = hardware_fake.h100()
    fake = FakeNvml([hardware_fake.SCRIPT.gpu])
    fake.install(setattr)
    nvml_available.cache_clear()
    return fake


install()
