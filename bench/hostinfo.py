"""Facts about the host that do not depend on a framework: CPU model, cores, container image."""

from __future__ import annotations

import functools
import os
import socket
from pathlib import Path
from typing import Any


@functools.cache
def cpu_facts() -> dict[str, Any]:
    """The CPU's model and core counts (py-cpuinfo; cached, it takes a moment)."""
    try:
        import cpuinfo

        brand = cpuinfo.get_cpu_info().get("brand_raw") or "unknown CPU"
    except Exception as exc:  # py-cpuinfo can fail on exotic platforms; the run goes on
        brand = f"unknown CPU ({exc})"
    return {"cpu_model": brand, "cpu_cores": os.cpu_count(), "cpu_usable_cores": usable_cores()}


#: environment variables that set how many threads the frameworks and their math libraries use
THREAD_ENV_VARS = (
    "TF_NUM_INTRAOP_THREADS",
    "TF_NUM_INTEROP_THREADS",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
)


def thread_env() -> dict[str, str]:
    """The thread-count environment variables that are set, as they are set."""
    return {name: os.environ[name] for name in THREAD_ENV_VARS if name in os.environ}


def usable_cores() -> int | None:
    """How many CPUs this process may run on (its affinity), else the CPU count."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count()


def host_name() -> str:
    """This host's name as recorded: $DEVICEBENCH_HOST where set (fleets), else the short host name; folder-safe."""
    name = os.environ.get("DEVICEBENCH_HOST", "").strip() or socket.gethostname().split(".")[0] or "host"
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in name).strip(".") or "host"


def container_image() -> str | None:
    """The container image tag when running inside one (set by the images), else None."""
    tag = os.environ.get("DEVICEBENCH_IMAGE")
    if tag:
        return tag
    if Path("/.dockerenv").exists() or Path("/run/.containerenv").exists():
        return "unknown (inside a container without DEVICEBENCH_IMAGE)"
    return None
