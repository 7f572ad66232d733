"""Mixed-precision training modes, and where each one is worth timing (pure, apart from reading the CPU's flags).

The names are Keras' dtype policies; torch runs the same modes as `torch.autocast` (with a GradScaler for
float16). Loss-scaled float16 is a GPU mode. bfloat16 runs on GPUs from compute capability 8.0 (Ampere) and
on CPUs whose instruction set has it (AVX-512 BF16 or AMX); elsewhere it would be emulated, so the case is a
recorded skip with that reason rather than a misleading number.
"""

from __future__ import annotations

import functools

from bench.devices import Device

FLOAT32 = "float32"
MIXED_FLOAT16 = "mixed_float16"
MIXED_BFLOAT16 = "mixed_bfloat16"
PRECISIONS = (FLOAT32, MIXED_FLOAT16, MIXED_BFLOAT16)
MIXED = (MIXED_FLOAT16, MIXED_BFLOAT16)

#: py-cpuinfo flags of CPUs with native bfloat16 arithmetic
CPU_BF16_FLAGS = ("avx512_bf16", "amx_bf16")
#: the first GPU generation with bfloat16 tensor cores (Ampere)
GPU_BF16_MIN_CC = (8, 0)


@functools.cache
def cpu_flags() -> frozenset[str]:
    """This CPU's instruction-set flags as py-cpuinfo reports them (empty when it cannot tell)."""
    try:
        import cpuinfo

        return frozenset(str(flag) for flag in cpuinfo.get_cpu_info().get("flags", ()))
    except Exception:  # py-cpuinfo can fail on exotic platforms: then no flag is known
        return frozenset()


def compute_capability(text: str | None) -> tuple[int, int] | None:
    """'8.0' -> (8, 0); None or an unreadable value -> None."""
    try:
        major, minor = str(text).split(".", 1)
        return int(major), int(minor)
    except ValueError:
        return None


def precision_skip_reason(device: Device, precision: str, flags: frozenset[str]) -> str | None:
    """Why `precision` is not timed on `device` (None: it runs); `flags` are the CPU's py-cpuinfo flags."""
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; precisions: {', '.join(PRECISIONS)}")
    if precision == FLOAT32:
        return None
    if device.kind == "cpu":
        if precision == MIXED_FLOAT16:
            return "mixed_float16 (loss-scaled float16) is a GPU mode; CPUs train mixed precision in bfloat16"
        if not any(flag in flags for flag in CPU_BF16_FLAGS):
            return (
                "this CPU has neither AVX-512 BF16 nor AMX (py-cpuinfo flags avx512_bf16/amx_bf16): "
                "bfloat16 would be emulated, not a mixed-precision speed"
            )
        return None
    if precision == MIXED_BFLOAT16:
        cc = compute_capability(device.compute_capability)
        if cc is not None and cc < GPU_BF16_MIN_CC:
            return (
                f"{device.name} ({device.model}) has compute capability {device.compute_capability}: "
                "bfloat16 needs 8.0 (Ampere) or newer"
            )
    return None


def precisions_for(device: Device, flags: frozenset[str], cpu_mixed: bool = True) -> list[tuple[str, str | None]]:
    """Every precision with its skip reason on `device`; `cpu_mixed=False` (a profile) leaves CPUs at float32."""
    out: list[tuple[str, str | None]] = []
    for precision in PRECISIONS:
        reason = precision_skip_reason(device, precision, flags)
        if reason is None and device.kind == "cpu" and precision != FLOAT32 and not cpu_mixed:
            reason = f"{precision} on CPUs runs in the standard and full profiles, not in this one"
        out.append((precision, reason))
    return out
