"""Print SKU detection for the fake NVML identities of the test suite, or for this machine's GPUs.

python -m tools.sku_table          # fake identity -> detected SKU (tools/gpu_identities.py)
python -m tools.sku_table --nvml   # this machine's GPUs, read through NVML
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from bench.hardware.sku import GpuIdentity, detect_sku
from bench.hardware.specs import peak_tflops


def _row(label: str, identity: GpuIdentity) -> tuple[str, str, str, str]:
    """(board, NVML identity, detected SKU or the unknown reason, dense fp16 tensor peak)."""
    match = detect_sku(identity)
    if match.spec is None:
        return label, identity.describe(), match.reason, "-"
    fp16 = peak_tflops(match.spec, "float16").tflops
    return label, identity.describe(), f"{match.spec.id} ({match.spec.name})", f"{fp16:g}" if fp16 else "-"


def _print(rows: Sequence[tuple[str, ...]]) -> None:
    """A plain-text table."""
    header = ("board", "NVML identity", "detected SKU", "fp16 TFLOP/s")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, tuple("-" * w for w in widths), *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


def _nvml_rows() -> list[tuple[str, ...]]:
    """This machine's GPUs through the sampler's NVML start-up."""
    from bench.nvml import Telemetry

    tel = Telemetry.start()
    if not tel.enabled:
        print(f"NVML off: {tel.reason}", file=sys.stderr)
        return []
    rows = []
    for gpu in tel.machine_info()["gpus"]:
        sku = gpu["sku"]
        shown = f"{sku['id']} ({sku['name']})" if sku["known"] else sku["reason"]
        identity = (
            f"{gpu['name']!r}, {gpu['memory_total_mib']:.0f} MiB, {gpu['power_default_limit_w']} W default limit, "
            f"PCI {gpu['pci_device_id']}"
        )
        rows.append((f"GPU {gpu['index']}", identity, shown, gpu["host_link"]["source"]))
    tel.close()
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    """Print the table; exit 0."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nvml", action="store_true", help="detect this machine's GPUs instead of the fakes")
    args = parser.parse_args(argv)
    if args.nvml:
        _print(_nvml_rows())
        return 0
    from tools.gpu_identities import IDENTITIES

    _print([_row(row.label, row.identity()) for row in IDENTITIES])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
