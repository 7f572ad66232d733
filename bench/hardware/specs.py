"""The GPU spec table (gpu_specs.toml) as pydantic models, and the peak a case is judged against.

    spec = spec_by_id("h100-sxm")
    peak = peak_tflops(spec, "float32", tf32=True)
    peak.tflops, peak.key, peak.note    # 494.5, "tf32", "float32 with TF32 on: judged against the TF32 ..."

A row is a `GpuSpec`: the figures a run records (results_format's GpuSpecRecord, which also owns the rule that
picks a case's peak) plus how SKU detection recognises the board (`match`) and where the figures were checked.
Validation is pydantic's, strict about types (no "700" for 700, no true for 1); any problem becomes one
SpecTableError line naming the SKU and the field. Pure apart from reading the package's own data file once.
"""

from __future__ import annotations

import functools
import re
import tomllib
from collections.abc import Mapping, Sequence
from importlib import resources
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from results_format.hardware import PEAK_KEYS, GpuSpecRecord, HostLinkSpec, Peak, peak_key

__all__ = [
    "LINK_KINDS",
    "PEAK_KEYS",
    "SCHEMA_VERSION",
    "GpuSpec",
    "HostLink",
    "MatchRule",
    "Peak",
    "SpecTableError",
    "load_specs",
    "normalise_name",
    "parse_spec_table",
    "peak_key",
    "peak_tflops",
    "percent_of_peak",
    "spec_by_id",
]

SPEC_FILE = "gpu_specs.toml"
SCHEMA_VERSION = 1
LINK_KINDS = ("pcie", "nvlink-c2c")
HostLink = HostLinkSpec  # the name the rest of bench.hardware uses

Text = Annotated[str, Field(min_length=1)]
Range = Annotated[list[float], Field(min_length=2, max_length=2)]


class SpecTableError(ValueError):
    """The spec table is malformed; the message names the SKU and the field."""


class MatchRule(BaseModel):
    """What NVML identities are this SKU (see the header of gpu_specs.toml)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    nvml_names: Annotated[list[Text], Field(min_length=1)]
    family: str | None = None  # a regular expression searched in the normalised NVML name
    pci_device_ids: list[Annotated[int, Field(ge=0, le=0xFFFF)]]
    memory_mib: Range
    default_power_w: Range

    @field_validator("family")
    @classmethod
    def _compiles(cls, family: str | None) -> str | None:
        if family is not None:
            try:
                re.compile(family)
            except re.error as err:
                raise ValueError(f"'family' is not a valid regular expression: {err}") from None
        return family

    @field_validator("memory_mib", "default_power_w")
    @classmethod
    def _ordered(cls, pair: list[float]) -> list[float]:
        if pair[0] > pair[1]:
            raise ValueError(f"low {pair[0]:g} is above high {pair[1]:g}")
        return pair


class GpuSpec(GpuSpecRecord):
    """One SKU of the spec table; `tflops` holds dense peaks only. `record()` is what a run stores."""

    model_config = ConfigDict(strict=True)

    match: MatchRule
    checked_against: list[Text] = Field(default_factory=list)

    def record(self) -> GpuSpecRecord:
        """The figures a results file records for a GPU of this SKU (without the detection rules)."""
        return GpuSpecRecord.model_validate(self.model_dump(exclude={"match", "checked_against"}))


class SpecTable(BaseModel):
    """The whole gpu_specs.toml document."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: Literal[1]
    gpu: Annotated[list[GpuSpec], Field(min_length=1)]

    @model_validator(mode="after")
    def _unique(self) -> SpecTable:
        seen_ids: set[str] = set()
        seen_names: dict[str, str] = {}
        for spec in self.gpu:
            if spec.id in seen_ids:
                raise ValueError(f"gpu {spec.id}: duplicate id")
            seen_ids.add(spec.id)
            for name in spec.match.nvml_names:
                key = normalise_name(name)
                if key in seen_names:
                    raise ValueError(f"gpu {spec.id}: NVML name {name!r} is also listed for {seen_names[key]}")
                seen_names[key] = spec.id
        return self


def _problem(exc: ValidationError, data: Mapping[str, Any]) -> str:
    """The first validation error as one line: "gpu <id>[.table]: what is wrong"."""
    error = exc.errors(include_url=False)[0]
    loc, kind = list(error["loc"]), error["type"]
    message = str(error["msg"]).removeprefix("Value error, ")
    if not loc:
        return message
    if loc[0] == "schema_version":
        return f"schema_version must be {SCHEMA_VERSION}, got {data.get('schema_version')!r}"
    if loc[0] != "gpu":
        return f"{'.'.join(map(str, loc))}: {message}"
    if len(loc) == 1:
        return "no [[gpu]] tables" if kind in ("too_short", "missing") else f"gpu: {message}"
    rows = data.get("gpu") or []
    row = rows[loc[1]] if isinstance(loc[1], int) and loc[1] < len(rows) else {}
    where = f"gpu {row.get('id') if isinstance(row, Mapping) and isinstance(row.get('id'), str) else f'#{loc[1]}'}"
    rest = [str(part) for part in loc[2:] if part != "[key]"]
    if not rest:
        return f"{where}: {message}"
    field, inner = rest[0], rest[1:]
    if kind == "missing":
        if field == "match" and not inner:
            return f"{where}: missing [gpu.match] table"
        table = f".{field}" if inner else ""
        return f"{where}{table}: missing {(inner or [field])[-1]!r}"
    if field == "tflops" and inner and error["loc"][-1] == "[key]":
        return f"{where}: unknown peak(s) {inner[0]} (known: {', '.join(PEAK_KEYS)})"
    if field == "tflops" and inner and kind == "greater_than":
        return f"{where}.tflops: {inner[0]} must be above 0, got {error['input']!r}"
    if kind in ("float_type", "int_type", "string_type", "list_type", "dict_type", "model_type"):
        return f"{where}: {'.'.join(rest)!r} must be {_kind(kind)}, got {error['input']!r}"
    if field in ("match", "host_link", "tflops") and inner:
        return f"{where}.{field}: {'.'.join(inner)!r} {message}"
    return f"{where}: {'.'.join(rest)!r}: {message}" if inner or kind != "value_error" else f"{where}: {message}"


def _kind(error_type: str) -> str:
    """'a number', 'a string', ... for a pydantic type error."""
    return {
        "float_type": "a number",
        "int_type": "an integer",
        "string_type": "a string",
        "list_type": "a list",
        "dict_type": "a table",
        "model_type": "a table",
    }[error_type]


def parse_spec_table(data: Mapping[str, Any]) -> tuple[GpuSpec, ...]:
    """The SKUs of a parsed gpu_specs.toml document, validated (SpecTableError names what is wrong)."""
    try:
        table = SpecTable.model_validate(data)
    except ValidationError as exc:
        raise SpecTableError(_problem(exc, data)) from None
    for spec in table.gpu:
        if spec.host_link.kind not in LINK_KINDS:  # pragma: no cover - the Literal already refuses others
            raise SpecTableError(f"gpu {spec.id}.host_link: kind must be one of {', '.join(LINK_KINDS)}")
    return tuple(table.gpu)


@functools.cache
def load_specs() -> tuple[GpuSpec, ...]:
    """The shipped spec table (read once per process)."""
    text = resources.files("bench.hardware").joinpath(SPEC_FILE).read_text(encoding="utf-8")
    return parse_spec_table(tomllib.loads(text))


def spec_by_id(sku_id: str, specs: Sequence[GpuSpec] | None = None) -> GpuSpec:
    """The SKU with this id (KeyError naming the known ids otherwise)."""
    table = load_specs() if specs is None else specs
    for spec in table:
        if spec.id == sku_id:
            return spec
    raise KeyError(f"no SKU {sku_id!r} in the spec table (known: {', '.join(s.id for s in table)})")


def normalise_name(name: str) -> str:
    """An NVML name for comparison: lower case, single spaces, without a leading "nvidia "."""
    text = " ".join(name.split()).lower()
    return text.removeprefix("nvidia ")


def peak_tflops(spec: GpuSpecRecord, dtype: str, tf32: bool = False) -> Peak:
    """The dense peak for `dtype` on `spec` with the TF32 policy in effect (GpuSpecRecord.peak)."""
    return spec.peak(dtype, tf32)


def percent_of_peak(achieved_tflops: float | None, peak: Peak) -> float | None:
    """achieved / peak in percent, or None when either is missing (never a made-up figure)."""
    if achieved_tflops is None or peak.tflops is None or peak.tflops <= 0:
        return None
    return 100.0 * achieved_tflops / peak.tflops
