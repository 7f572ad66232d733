"""The workloads, each described once in its own module here and built per backend and device.

A module that exports `WORKLOAD` (a bench.cases.Workload) is a workload: adding one is adding its module; no
list names them. Helper modules (shared data, multi-device plumbing) export none.
"""

from __future__ import annotations

import importlib
import pkgutil

from bench.cases import Workload


def discover() -> dict[str, Workload]:
    """Every workload module's WORKLOAD by name, in module-name order (ValueError on a name declared twice)."""
    found: dict[str, Workload] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        workload = getattr(importlib.import_module(f"{__name__}.{info.name}"), "WORKLOAD", None)
        if not isinstance(workload, Workload):
            continue
        if workload.name in found:
            raise ValueError(f"workload {workload.name!r} is declared twice (bench/workloads/{info.name}.py)")
        found[workload.name] = workload
    return found


WORKLOADS: dict[str, Workload] = discover()
