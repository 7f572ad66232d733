"""Data-parallel training of the book's MNIST model (and ResNet-50 on GPUs) on 1, 2, 4 ... N replicas."""

import pytest


@pytest.mark.workload("scaling")
def test_scaling(devicebench_run):
    """Training samples/s across all replicas; the report turns them into scaling efficiency."""
    devicebench_run()  # the plugin validates and saves the case; a failed check fails it
