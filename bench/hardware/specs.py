"""The GPU spec table (gpu_specs.toml) as typed records, and the peak a case is judged against.

    spec = spec_by_id("h100-sxm")
    peak = peak_tflops(spec, "float32", tf32=True)
    peak.tflops, peak.key, peak.note    # 494.5, "tf32", "float32 with TF32 on: judged against the TF32 ..."

Pure apart from reading the package's own data file once (cached).
"""

from __future__ import annotations

import functools
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

SPEC_FILE = "gpu_specs.toml"
SCHEMA_VERSION = 1

# The peaks a SKU may list, in the order reports show them.
PEAK_KEYS = ("fp64", "fp64_tensor", "fp32", "tf32", "bf16", "fp16", "fp8")
LINK_KINDS = ("pcie", "nvlink-c2c")

# Framework dtype spellings -> the table's peak key (float32 is resolved with the TF32 policy).
_DTYPE_ALIASES = {
    "float64": "fp64",
    "fp64": "fp64",
    "double": "fp64",
    "float32": "fp32",
    "fp32": "fp32",
    "float": "fp32",
    "tf32": "tf32",
    "tensorfloat32": "tf32",
    "bfloat16": "bf16",
    "bf16": "bf16",
    "float16": "fp16",
    "fp16": "fp16",
    "half": "fp16",
    "float8": "fp8",
    "fp8": "fp8",
}
_FP8_SPELLING = re.compile(r"^(float8|fp8)(_e\dm\d\w*)?$")


class SpecTableError(ValueError):
    """The spec table is malformed; the message names the SKU and the field."""


@dataclass(frozen=True)
class HostLink:
    """How the GPU talks to the host: PCIe (generation x lanes) or NVLink-C2C, and its per-direction GB/s."""

    kind: str
    gbs_per_direction: float
    pcie_gen: int | None = None
    pcie_lanes: int | None = None

    def describe(self) -> str:
        """Like "PCIe gen5 x16, 63.0 GB/s per direction" or "NVLink-C2C, 450 GB/s per direction"."""
        if self.kind == "pcie":
            return f"PCIe gen{self.pcie_gen} x{self.pcie_lanes}, {self.gbs_per_direction:g} GB/s per direction"
        return f"NVLink-C2C, {self.gbs_per_direction:g} GB/s per direction"


@dataclass(frozen=True)
class MatchRule:
    """What NVML identities are this SKU (see the header of gpu_specs.toml)."""

    nvml_names: tuple[str, ...]
    family: str | None
    pci_device_ids: tuple[int, ...]
    memory_mib: tuple[int, int]
    default_power_w: tuple[float, float]


@dataclass(frozen=True)
class GpuSpec:
    """One SKU of the spec table; `tflops` holds dense peaks only."""

    id: str
    name: str
    architecture: str
    form_factor: str
    memory_gib: float
    memory_bandwidth_gbs: float
    tdp_w: float
    host_link: HostLink
    tflops: Mapping[str, float]
    sources: tuple[str, ...]
    match: MatchRule
    checked_against: tuple[str, ...] = ()
    derived: Mapping[str, str] = field(default_factory=dict)
    unverified: tuple[str, ...] = ()
    notes: str = ""


@dataclass(frozen=True)
class Peak:
    """The peak a case is judged against: `tflops` None (with `note` saying why) when there is none."""

    tflops: float | None
    key: str | None
    dtype: str
    note: str


def _field(raw: Mapping[str, Any], name: str, kind: type | tuple[type, ...], where: str) -> Any:
    """raw[name], checked to be of `kind` (bool is never a number here)."""
    if name not in raw:
        raise SpecTableError(f"{where}: missing {name!r}")
    value = raw[name]
    if isinstance(value, bool) or not isinstance(value, kind):
        raise SpecTableError(f"{where}: {name!r} must be {_kind_name(kind)}, got {value!r}")
    return value


def _kind_name(kind: type | tuple[type, ...]) -> str:
    """A readable name for a type or tuple of types."""
    kinds = kind if isinstance(kind, tuple) else (kind,)
    names = ["a number" if k in (int, float) else f"a {k.__name__}" for k in kinds]
    return " or ".join(dict.fromkeys(names))


def _range(raw: Mapping[str, Any], name: str, where: str) -> tuple[float, float]:
    """A [low, high] pair with low <= high."""
    pair = _field(raw, name, list, where)
    if len(pair) != 2 or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in pair):
        raise SpecTableError(f"{where}: {name!r} must be [low, high], got {pair!r}")
    low, high = pair
    if low > high:
        raise SpecTableError(f"{where}: {name!r} low {low} is above high {high}")
    return low, high


def _strings(raw: Mapping[str, Any], name: str, where: str, required: bool = True) -> tuple[str, ...]:
    """A list of strings (empty when optional and absent)."""
    if name not in raw and not required:
        return ()
    values = _field(raw, name, list, where)
    if not all(isinstance(v, str) and v for v in values):
        raise SpecTableError(f"{where}: {name!r} must be a list of non-empty strings")
    return tuple(values)


def _parse_link(raw: Any, where: str) -> HostLink:
    """The host_link inline table."""
    if not isinstance(raw, Mapping):
        raise SpecTableError(f"{where}: 'host_link' must be a table")
    kind = _field(raw, "kind", str, f"{where}.host_link")
    if kind not in LINK_KINDS:
        raise SpecTableError(f"{where}.host_link: kind must be one of {', '.join(LINK_KINDS)}, got {kind!r}")
    gbs = float(_field(raw, "gbs_per_direction", (int, float), f"{where}.host_link"))
    if kind == "pcie":
        gen = _field(raw, "pcie_gen", int, f"{where}.host_link")
        lanes = _field(raw, "pcie_lanes", int, f"{where}.host_link")
        return HostLink(kind=kind, gbs_per_direction=gbs, pcie_gen=gen, pcie_lanes=lanes)
    return HostLink(kind=kind, gbs_per_direction=gbs)


def _parse_match(raw: Any, where: str) -> MatchRule:
    """The [gpu.match] table."""
    if not isinstance(raw, Mapping):
        raise SpecTableError(f"{where}: missing [gpu.match] table")
    at = f"{where}.match"
    family = raw.get("family")
    if family is not None:
        if not isinstance(family, str):
            raise SpecTableError(f"{at}: 'family' must be a string")
        try:
            re.compile(family)
        except re.error as err:
            raise SpecTableError(f"{at}: 'family' is not a valid regular expression: {err}") from None
    ids = _field(raw, "pci_device_ids", list, at)
    if not all(isinstance(i, int) and not isinstance(i, bool) and 0 <= i <= 0xFFFF for i in ids):
        raise SpecTableError(f"{at}: 'pci_device_ids' must be 16-bit integers")
    low_mib, high_mib = _range(raw, "memory_mib", at)
    return MatchRule(
        nvml_names=_strings(raw, "nvml_names", at),
        family=family,
        pci_device_ids=tuple(ids),
        memory_mib=(int(low_mib), int(high_mib)),
        default_power_w=_range(raw, "default_power_w", at),
    )


def _parse_gpu(raw: Mapping[str, Any], index: int) -> GpuSpec:
    """One [[gpu]] table as a GpuSpec."""
    sku_id = raw.get("id") if isinstance(raw.get("id"), str) else f"#{index}"
    where = f"gpu {sku_id}"
    tflops_raw = _field(raw, "tflops", dict, where)
    unknown = sorted(set(tflops_raw) - set(PEAK_KEYS))
    if unknown:
        raise SpecTableError(f"{where}: unknown peak(s) {', '.join(unknown)} (known: {', '.join(PEAK_KEYS)})")
    tflops: dict[str, float] = {}
    for key in PEAK_KEYS:
        if key in tflops_raw:
            value = _field(tflops_raw, key, (int, float), f"{where}.tflops")
            if value <= 0:
                raise SpecTableError(f"{where}.tflops: {key} must be above 0, got {value}")
            tflops[key] = float(value)
    if "fp32" not in tflops:
        raise SpecTableError(f"{where}.tflops: missing 'fp32'")
    derived = raw.get("derived", {})
    if not isinstance(derived, Mapping) or not all(isinstance(v, str) for v in derived.values()):
        raise SpecTableError(f"{where}: 'derived' must map figure names to how they were derived")
    spec = GpuSpec(
        id=_field(raw, "id", str, where),
        name=_field(raw, "name", str, where),
        architecture=_field(raw, "architecture", str, where),
        form_factor=_field(raw, "form_factor", str, where),
        memory_gib=float(_field(raw, "memory_gib", (int, float), where)),
        memory_bandwidth_gbs=float(_field(raw, "memory_bandwidth_gbs", (int, float), where)),
        tdp_w=float(_field(raw, "tdp_w", (int, float), where)),
        host_link=_parse_link(raw.get("host_link"), where),
        tflops=tflops,
        sources=_strings(raw, "sources", where),
        match=_parse_match(raw.get("match"), where),
        checked_against=_strings(raw, "checked_against", where, required=False),
        derived=dict(derived),
        unverified=_strings(raw, "unverified", where, required=False) if raw.get("unverified") else (),
        notes=str(raw.get("notes", "")),
    )
    if not spec.sources:
        raise SpecTableError(f"{where}: 'sources' must name at least one source")
    figures = {f"tflops.{k}" for k in tflops} | {"memory_bandwidth_gbs", "tdp_w", "memory_gib"}
    for name in [*spec.unverified, *spec.derived]:
        if name not in figures:
            raise SpecTableError(f"{where}: {name!r} in unverified/derived is not a figure of this SKU")
    return spec


def parse_spec_table(data: Mapping[str, Any]) -> tuple[GpuSpec, ...]:
    """The SKUs of a parsed gpu_specs.toml document, validated (SpecTableError names what is wrong)."""
    version = data.get("schema_version")
    if version != SCHEMA_VERSION:
        raise SpecTableError(f"schema_version must be {SCHEMA_VERSION}, got {version!r}")
    rows = data.get("gpu")
    if not isinstance(rows, list) or not rows:
        raise SpecTableError("no [[gpu]] tables")
    specs = tuple(_parse_gpu(row, i) for i, row in enumerate(rows))
    seen_ids: set[str] = set()
    seen_names: dict[str, str] = {}
    for spec in specs:
        if spec.id in seen_ids:
            raise SpecTableError(f"gpu {spec.id}: duplicate id")
        seen_ids.add(spec.id)
        for name in spec.match.nvml_names:
            key = normalise_name(name)
            if key in seen_names:
                raise SpecTableError(f"gpu {spec.id}: NVML name {name!r} is also listed for {seen_names[key]}")
            seen_names[key] = spec.id
    return specs


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


def peak_key(dtype: str) -> str | None:
    """The table key for a framework dtype name ("torch.float32", "bfloat16", "float8_e4m3fn"); None if unknown."""
    text = dtype.strip().lower().removeprefix("torch.").removeprefix("tf.")
    if _FP8_SPELLING.match(text):
        return "fp8"
    return _DTYPE_ALIASES.get(text)


def peak_tflops(spec: GpuSpec, dtype: str, tf32: bool = False) -> Peak:
    """The dense peak for `dtype` on `spec`, with the TF32 policy in effect; says which peak it used and why.

    float32 with TF32 on is judged against the TF32 tensor-core peak (falling back to FP32 on chips without
    TF32 units); float64 against the FP64 tensor-core peak where the chip has one (DGEMM runs there).
    """
    key = peak_key(dtype)
    if key is None:
        return Peak(None, None, dtype, f"no peak for dtype {dtype!r}")
    if key == "fp32" and tf32:
        if "tf32" in spec.tflops:
            return Peak(
                spec.tflops["tf32"],
                "tf32",
                dtype,
                f"{dtype} with TF32 on: judged against the TF32 tensor-core peak of {spec.name}",
            )
        return Peak(
            spec.tflops["fp32"],
            "fp32",
            dtype,
            f"{dtype} with TF32 on, but {spec.name} has no TF32 tensor cores: judged against the FP32 peak",
        )
    if key == "fp64" and "fp64_tensor" in spec.tflops:
        return Peak(spec.tflops["fp64_tensor"], "fp64_tensor", dtype, f"{dtype}: the FP64 tensor-core peak")
    if key not in spec.tflops:
        return Peak(None, None, dtype, f"{spec.name} has no {key} peak in the spec table")
    value = spec.tflops[key]
    note = {
        "fp32": f"{dtype} with TF32 off: the FP32 (CUDA-core) peak",
        "tf32": f"{dtype}: the TF32 tensor-core peak",
        "fp64": f"{dtype}: the FP64 (CUDA-core) peak",
    }.get(key, f"{dtype}: the {key.upper()} tensor-core peak (dense)")
    if f"tflops.{key}" in spec.derived:
        note += f" (derived: {spec.derived[f'tflops.{key}']})"
    return Peak(value, key, dtype, note)


def percent_of_peak(achieved_tflops: float | None, peak: Peak) -> float | None:
    """achieved / peak in percent, or None when either is missing (never a made-up figure)."""
    if achieved_tflops is None or peak.tflops is None or peak.tflops <= 0:
        return None
    return 100.0 * achieved_tflops / peak.tflops
