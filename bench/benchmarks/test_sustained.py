"""Opt-in (--profile sustained): a large matmul for minutes per device, each result checked against the first."""

import pytest


@pytest.mark.workload("sustained")
def test_sustained(devicebench_run):
    """Rounds of one n x n matmul for --sustained-minutes; a checksum that drifts fails the case at that round."""
    devicebench_run()  # the plugin validates and saves the case; a checksum mismatch fails it
