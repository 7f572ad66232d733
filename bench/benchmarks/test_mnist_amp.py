"""The book's MNIST model trained in float32 and mixed precision (mixed_float16 loss-scaled, mixed_bfloat16)."""

import pytest


@pytest.mark.workload("mnist_amp")
def test_mnist_amp(devicebench_run):
    """Training samples/s per mode and precision; the first call (tracing, compile) is warm-up."""
    devicebench_run()
