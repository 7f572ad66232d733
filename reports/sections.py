"""The report's sections in one ordered registry: the findings, the HTML page and the terminal summary iterate it.

A bespoke section (MNIST, training, serving, ...) is registered here by key with the workloads it covers and its
findings; the page and the terminal summary attach their tables to the same keys. A workload that no bespoke
section covers and whose spec (as its results file describes it) declares a `section` gets the generic one: a
table of its keys, throughput and declared facts, its headline facts as findings, and its plot, all from the spec,
so a new workload needs no edit here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pandas as pd

from reports import envelope, limits, multidevice, peaks, specs, summary
from reports.fmt import fact_heading, fmt_fact, fmt_number
from reports.labels import case_text, device_labels
from reports.serving import serving_lines
from reports.training import training_lines
from results_format import Fact, WorkloadSpec

Findings = Callable[[pd.DataFrame, "pd.DataFrame | None"], list[str]]


def _none(frame: pd.DataFrame, skipped: pd.DataFrame | None) -> list[str]:
    return []


@dataclass(frozen=True)
class Section:
    """One section of the report: its key, the workloads it covers, and its findings (most important first)."""

    key: str
    covers: tuple[str, ...] = ()
    findings: Findings = _none
    spec: WorkloadSpec | None = None  # a generic section's workload spec (None: bespoke)

    @property
    def generic(self) -> bool:
        """Whether the section is rendered from its workload's spec."""
        return self.spec is not None


#: the bespoke sections, in report order; generic sections follow "serving" (before the run-wide noise and skips)
BESPOKE: tuple[Section, ...] = (
    Section("envelope", findings=lambda f, s: envelope.envelope_lines(f)),
    Section("peaks", ("peaks",), lambda f, s: peaks.peaks_lines(f)),
    Section("matmul", ("matmul",), lambda f, s: summary.matmul_lines(f) + summary.book_lines(f)),
    Section("versus", findings=lambda f, s: summary.backend_lines(f)),
    Section("mnist", ("mnist",), lambda f, s: summary.mnist_lines(f)),
    Section("training", ("mnist_amp", "resnet50_train", "mnist_batch"), training_lines),
    Section("tfdata", ("tfdata",), lambda f, s: summary.tfdata_lines(f)),
    Section("transfer", ("transfer",), lambda f, s: summary.transfer_lines(f)),
    Section("limits", ("membw", "sustained"), lambda f, s: limits.limit_lines(f)),
    Section("multidevice", ("scaling", "allreduce"), lambda f, s: multidevice.lines(f)),
    Section("serving", ("inference", "checkpoint", "dispatch"), lambda f, s: serving_lines(f)),
)
TRAILING: tuple[Section, ...] = (
    Section("noise", findings=lambda f, s: summary.noise_lines(f)),
    Section("skipped", findings=lambda f, s: summary.skipped_lines(s) if s is not None else []),
)
COVERED = frozenset(w for section in BESPOKE for w in section.covers)


def has_generic(workload: str) -> bool:
    """Whether `workload` gets the generic section: its spec declares one and no bespoke section covers it."""
    spec = specs.spec_of(workload)
    return workload not in COVERED and spec is not None and spec.section is not None


def generic_sections(frame: pd.DataFrame) -> list[Section]:
    """A generic section for each workload in `frame` that declares one and no bespoke section covers."""
    found = []
    names = frame["workload"].drop_duplicates() if not frame.empty else []
    for name in names:
        spec = specs.spec_of(str(name))
        if spec is not None and has_generic(str(name)):
            found.append(Section(str(name), (str(name),), lambda f, s, spec=spec: generic_findings(f, spec), spec))
    return found


def ordered(frame: pd.DataFrame) -> list[Section]:
    """Every section of a report on `frame`, in order: the bespoke ones, the generic ones, the run-wide ones."""
    return [*BESPOKE, *generic_sections(frame), *TRAILING]


def headlines(frame: pd.DataFrame, skipped: pd.DataFrame | None = None) -> list[str]:
    """The findings that open the report, most important first: each section's, in the registry's order."""
    if frame.empty:
        return ["The results hold no benchmark cases."]
    return [line for section in ordered(frame) for line in section.findings(frame, skipped)]


# --- the generic section, from a workload's spec -------------------------------------------------------------


def generic_table(frame: pd.DataFrame, spec: WorkloadSpec) -> pd.DataFrame:
    """One row per case of the workload: device, its keys, throughput and the section's facts, as text."""
    rows = frame[frame["workload"] == spec.name]
    if rows.empty or spec.section is None:
        return pd.DataFrame()
    out = pd.DataFrame({"device": device_labels(rows).to_numpy()})
    for key in spec.keys:
        if key in rows.columns:
            out[key] = [spec.label(v) if isinstance(v, str) else fmt_fact(v, spec.fact(key)) for v in rows[key]]
    unit = rows["throughput_unit"].dropna()
    out[unit.iloc[0] if not unit.empty else "throughput"] = [fmt_number(v) for v in rows["throughput"]]
    for name in spec.section.table:
        fact = spec.fact(name) or Fact(name=name, description=name)
        values = rows[name] if name in rows.columns else pd.Series([None] * len(rows))
        out[fact_heading(fact)] = [fmt_fact(v, fact, with_unit=False) for v in values]
    return out


def generic_findings(frame: pd.DataFrame, spec: WorkloadSpec) -> list[str]:
    """Per device, the best value of each headline fact (by its better direction) and the case that reached it."""
    rows = frame[frame["workload"] == spec.name]
    if rows.empty:
        return []
    rows = rows.assign(_device=device_labels(rows).to_numpy())
    title = spec.section.title if spec.section else spec.title
    lines = []
    for fact in spec.facts:
        if not fact.headline or fact.name not in rows.columns:
            continue
        for device, part in rows.groupby("_device", sort=False):
            values = pd.to_numeric(part[fact.name], errors="coerce").dropna()
            if values.empty:
                continue
            best = values.idxmin() if fact.better == "lower" else values.idxmax()
            which = "best" if fact.better else "largest"
            lines.append(
                f"{title} on {device}: {which} {fact.description} {fmt_fact(values[best], fact)} "
                f"({case_text(part.loc[best])})."
            )
    return lines


def section_of(sections: Sequence[Section], key: str) -> Section | None:
    """The section called `key` among `sections`, or None."""
    return next((s for s in sections if s.key == key), None)
