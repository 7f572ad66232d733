"""Text shared by the writer and the reader: how a byte count is shown in case labels and tables."""

from __future__ import annotations


def fmt_bytes(size: float) -> str:
    """A byte count in binary units: 1 KiB, 256 MiB."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(size) < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if float(size).is_integer() else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size} B"
