"""Published reference figures per GPU SKU ("reference envelopes"), as a run records them and reports judge by.

A SKU's envelope lists the best figures published for that silicon (GEMM per precision, HBM copy and triad,
pinned host copies, ...), each with its source and how it was measured. The measuring side records the envelope
of a detected SKU on its device record, as it does the spec; reports compare the run's own best figure of each
kind with it and say "in line", "low by N %" or "above the best published". The table lives in
bench/hardware/reference.toml; this module owns its records and the reading of that file's text, so reports can
also read a table file given by path for runs recorded before envelopes were (never by importing bench).
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator

Positive = Annotated[float, Field(gt=0, allow_inf_nan=False)]
Text = Annotated[str, StringConstraints(min_length=1)]

FigureKey = Literal[
    "matmul.fp8",
    "matmul.bf16",
    "matmul.fp16",
    "matmul.tf32",
    "matmul.fp32",
    "membw.triad",
    "membw.copy",
    "transfer.h2d_pinned",
    "transfer.d2h_pinned",
    "allreduce.busbw",
    "resnet50_train.amp",
]
#: the figures an envelope may list, in the order reports show them.
FIGURES: tuple[str, ...] = get_args(FigureKey)
#: each figure's unit in the table, and the factor to the suite's throughput unit (TFLOP/s -> GFLOP/s)
UNITS = {"TFLOP/s": 1000.0, "GB/s": 1.0, "samples/s": 1.0}
TABLE_SCHEMA_VERSION = 1


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)


class ReferenceFigure(_Record):
    """One published figure: its value, unit, where it was published and how it was measured."""

    figure: FigureKey
    value: Positive
    unit: Literal["TFLOP/s", "GB/s", "samples/s"]
    source: Text  # where it was published (a URL, or a repository and issue)
    method: Text  # the tool, shape or size, and the hardware it ran on
    if_low: str = ""  # the likely causes when a run falls short of it
    if_high: str = ""  # what to check when a run exceeds it

    @property
    def suite_value(self) -> float:
        """The value in the suite's throughput unit (GFLOP/s for TFLOP/s figures)."""
        return self.value * UNITS[self.unit]


class ReferenceEnvelope(_Record):
    """The published figures for one SKU (by the spec table's id)."""

    sku: Text
    figures: list[ReferenceFigure]
    note: str = ""

    @model_validator(mode="after")
    def _one_per_figure(self) -> ReferenceEnvelope:
        seen: set[str] = set()
        for figure in self.figures:
            if figure.figure in seen:
                raise ValueError(f"{self.sku}: figure {figure.figure} is listed twice")
            seen.add(figure.figure)
        return self

    def get(self, figure: str) -> ReferenceFigure | None:
        """The figure called `figure`, or None when the envelope has none."""
        return next((f for f in self.figures if f.figure == figure), None)


class ReferenceTable(_Record):
    """The whole reference.toml document."""

    schema_version: Literal[1]
    sku: list[ReferenceEnvelope]

    def for_sku(self, sku_id: str | None) -> ReferenceEnvelope | None:
        """The envelope of a SKU id, or None."""
        return next((e for e in self.sku if e.sku == sku_id), None)


class ReferenceTableError(ValueError):
    """A reference table that cannot be read; the message is one line."""


def parse_reference_table(data: Mapping[str, Any]) -> ReferenceTable:
    """A parsed reference.toml document, validated (ReferenceTableError says what is wrong in one line)."""
    try:
        return ReferenceTable.model_validate(data)
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        where = ".".join(str(part) for part in error["loc"])
        raise ReferenceTableError(f"{where}: {error['msg'].removeprefix('Value error, ')}") from None


def read_reference_table(text: str) -> ReferenceTable:
    """A reference table from TOML text."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ReferenceTableError(f"not TOML: {exc}") from None
    return parse_reference_table(data)
