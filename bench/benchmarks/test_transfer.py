"""Host-device copies across sizes: GB/s per direction (the CPU shows the zero-copy path)."""

import pytest


@pytest.mark.workload("transfer")
def test_transfer(devicebench_run):
    """h2d: a numpy array onto the device; d2h: a device tensor back to numpy."""
    extra = devicebench_run()
    assert extra["throughput"] > 0
