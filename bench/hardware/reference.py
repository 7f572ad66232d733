"""The shipped reference envelopes (reference.toml): the best published figures per SKU, recorded with a run.

envelope = reference_for("h200-sxm")    # results_format.ReferenceEnvelope, or None for an unlisted SKU
"""

from __future__ import annotations

import functools
from importlib import resources

from results_format import ReferenceEnvelope, ReferenceTable, read_reference_table

REFERENCE_FILE = "reference.toml"


@functools.cache
def load_reference() -> ReferenceTable:
    """The shipped reference table (read once per process)."""
    return read_reference_table(reference_text())


def reference_text() -> str:
    """The text of the shipped reference.toml."""
    return resources.files("bench.hardware").joinpath(REFERENCE_FILE).read_text(encoding="utf-8")


def reference_for(sku_id: str | None) -> ReferenceEnvelope | None:
    """The envelope of a SKU id of gpu_specs.toml, or None when the table lists none for it."""
    return load_reference().for_sku(sku_id) if sku_id else None
