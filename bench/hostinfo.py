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
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"cpu_model": brand, "cpu_cores": os.cpu_count(), "cpu_usable_cores": usable}


def container_image() -> str | None:
    """The container image tag when running inside one (set by the images), else None."""
    tag = os.environ.get("DEVICEBENCH_IMAGE")
    if tag:
        return tag
    if Path("/.dockerenv").exists() or Path("/run/.containerenv").exists():
        return "unknown (inside a container without DEVICEBENCH_IMAGE)"
    return None


def host_name() -> str:
    """This host's short name, safe for a folder name."""
    name = socket.gethostname().split(".")[0] or "host"
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in name)
