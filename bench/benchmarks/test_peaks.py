"""Opt-in (--profile peaks): a MAMF-style search over (M, N, K) shapes per dtype, then its best shape timed."""

import pytest


@pytest.mark.workload("peaks")
def test_peaks(devicebench_run):
    """The best matmul throughput a device reaches over searched shapes, within --peaks-seconds per dtype."""
    devicebench_run()  # the plugin validates and saves the case
