"""The workloads' specs as the results files describe them (schema 3), for every page, table and finding.

Each file read through reports.load adds its workloads' specs here, so a new workload's title, keys, labels,
facts and section come from the files themselves and reports needs no edit per workload. Workloads that no file
described yet (frames built by hand, a v2 name) fall back to the frozen schema-2 specs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from results_format import V2_SPECS, RunFile, WorkloadSpec, v2_case_label

#: the specs the files read so far described, by workload name (the highest version wins)
_FROM_FILES: dict[str, WorkloadSpec] = {}


def remember(run: RunFile) -> None:
    """Add the specs `run` describes (a later version of a workload replaces an earlier one)."""
    for name, spec in run.devicebench.workloads.items():
        known = _FROM_FILES.get(name)
        if known is None or spec.version >= known.version:
            _FROM_FILES[name] = spec


def known() -> dict[str, WorkloadSpec]:
    """Every workload known: schema 2's in their order, then the ones only files described, in reading order."""
    return {**V2_SPECS, **_FROM_FILES}


def spec_of(workload: str) -> WorkloadSpec | None:
    """The spec of `workload` as the files describe it (schema 2's where none did), or None."""
    return _FROM_FILES.get(workload) or V2_SPECS.get(workload)


def title(workload: str) -> str:
    """A workload's title ('MNIST training'); the name for an unknown one."""
    spec = spec_of(workload)
    return spec.title if spec else workload


def titles() -> dict[str, str]:
    """Every known workload's title, in display order."""
    return {name: spec.title for name, spec in known().items()}


def keys(workload: str) -> tuple[str, ...]:
    """The parameters that tell two cases of `workload` apart on one device (none for an unknown workload)."""
    spec = spec_of(workload)
    return spec.keys if spec else ()


def case_keys(workloads: Iterable[str] | None = None) -> dict[str, tuple[str, ...]]:
    """The case keys of every known workload (or of `workloads`), in display order."""
    names = list(known()) if workloads is None else list(workloads)
    return {name: keys(name) for name in names}


def label(workload: str, value: object) -> str:
    """A parameter value of `workload` as shown to people ('h2d' -> 'host to device')."""
    spec = spec_of(workload)
    return spec.label(value) if spec else str(value)


def case_label(workload: str, params: Mapping[str, object]) -> str:
    """A case as people read it, made from its parameters the way schema 2 reports did (for rows with no label)."""
    return v2_case_label(workload, params)
