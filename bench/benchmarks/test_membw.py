"""Memory bandwidth on every device: STREAM's copy and triad over arrays larger than the caches."""

import pytest


@pytest.mark.workload("membw")
def test_membw(devicebench_run):
    """copy (b = a) and triad (a = b + s*c); GB/s = bytes read + written / median."""
    devicebench_run()  # the plugin validates and saves the case; a wrong result fails it
