"""Host-device copies across sizes: GB/s per direction (the CPU shows the zero-copy path)."""

import pytest


@pytest.mark.workload("transfer")
def test_transfer(devicebench_run):
    """h2d: a numpy array onto the device; d2h: a device tensor back to numpy."""
    devicebench_run()  # the plugin validates and saves the case; a failed check fails it
