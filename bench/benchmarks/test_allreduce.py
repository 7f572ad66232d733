"""All-reduce across the devices of one host, 8 B .. 1 GiB: algorithm and bus bandwidth, results checked."""

import pytest


@pytest.mark.workload("allreduce")
def test_allreduce(devicebench_run):
    """GB/s of algorithm bandwidth (nccl-tests' algbw); busbw and the correctness check are in the record."""
    devicebench_run()  # the plugin validates and saves the case; a failed check fails it
