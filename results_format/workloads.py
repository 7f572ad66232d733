"""What a workload is in the results format: its keys, title, labels, version, facts and report section.

A workload declares its spec once, in its own module (bench/workloads/NAME.py); the writer copies every spec of a
run into the results file (`devicebench.workloads`, schema 3), so the reading side (reports) takes titles, table
keys, labels, the facts' display hints and the report section from the file itself and needs no edit per workload.
A workload's `version` goes up whenever what it measures changes (its code, data or parameters): cases of
different versions are never compared, as asv does.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

#: how a fact's value is shown (nvbench's summary hints): seconds, a per-second rate, bytes, a percentage, a plain
#: count, a dimensionless number or ratio, or text as it is.
Hint = Literal["duration", "rate", "bytes", "percent", "count", "number", "ratio", "text"]
Better = Literal["higher", "lower"]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Fact(_Spec):
    """One fact a workload records per case (a key of its `extra_info`), typed, with how to show it."""

    name: str  # the key in extra_info and the tidy frame's column
    description: str  # one line, for a table's header tip and the docs
    hint: Hint = "number"
    unit: str = ""  # shown after the value ("images/s", "ms"); bytes, durations and percents bring their own
    better: Better | None = None  # the direction that is better, where one is
    format: str = ""  # a Python format spec for `number`/`rate` values, e.g. ".3g"; empty: the hint's default
    headline: bool = False  # a headline finding: the report opens with its best value per device


class Plot(_Spec):
    """A section's plot: `y` against the parameter `x`, one line per `series` (and per device)."""

    x: str
    y: str = "throughput"  # a fact's name, or the case's throughput
    series: str | None = None
    logx: bool = False
    logy: bool = False


class Section(_Spec):
    """The report section a workload gets when reports has no bespoke one for it: a table, a plot, its findings."""

    title: str
    table: tuple[str, ...] = ()  # the facts that form its table's columns, after the keys and the throughput
    plot: Plot | None = None
    note: str = ""  # one line under the table


class WorkloadSpec(_Spec):
    """One workload's place in the results format."""

    name: str
    version: int = Field(ge=1)
    title: str  # for headings: "MNIST training"
    params: tuple[str, ...]  # the parameters every case carries, in display order
    keys: tuple[str, ...]  # the parameters that tell two cases of one device apart in tables and comparisons
    work_unit: str  # FLOP, samples, elements, bytes
    throughput_unit: str  # GFLOP/s, samples/s, elements/s, GB/s
    labels: dict[str, str] = Field(default_factory=dict)  # display names of parameter values
    facts: tuple[Fact, ...] = ()  # the workload's own keys in each case's extra_info, with display hints
    section: Section | None = None  # its generic report section; None: a bespoke section, or the tables only

    def __hash__(self) -> int:
        return hash((self.name, self.version))

    def label(self, value: object) -> str:
        """A parameter value as shown to people: 'h2d' -> 'host to device'; unknown values as they are."""
        return self.labels.get(str(value), str(value))

    def fact(self, name: str) -> Fact | None:
        """The declared fact called `name`, or None."""
        return next((f for f in self.facts if f.name == name), None)
