"""MNIST training throughput vs batch size per device (the batch-size sweep)."""

import pytest


@pytest.mark.workload("mnist_batch")
def test_mnist_batch(devicebench_run):
    """Training samples/s at each batch size of the profile; out of memory is a skip and the sweep goes on."""
    devicebench_run()
