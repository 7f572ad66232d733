"""The fake NVML identities of real boards, for the tests: they live in tools/gpu_identities.py (tools/ must not
import tests/, and tools/sku_table.py prints them)."""

from tools.gpu_identities import IDENTITIES, ISSUE_SKUS, MIB, NAMED, UNKNOWN, FakeIdentity

__all__ = ["IDENTITIES", "ISSUE_SKUS", "MIB", "NAMED", "UNKNOWN", "FakeIdentity"]
