"""Square matmul across sizes on every device: the book's CPU-vs-GPU demo."""

import pytest


@pytest.mark.workload("matmul")
def test_matmul(devicebench_run):
    """tf.linalg.matmul of two n x n matrices made on the device; GFLOP/s = 2 n^3 / median."""
    devicebench_run()  # the plugin validates and saves the case; a failed check fails it
