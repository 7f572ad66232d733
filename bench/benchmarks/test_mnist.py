"""The book's MNIST training (Dense 784-1024-1024-10, Adam, batch 64) per device and mode."""

import pytest


@pytest.mark.workload("mnist")
def test_mnist(devicebench_run):
    """Training samples/s; one call trains steps_per_call steps, the first call (tracing, compile) is warm-up."""
    devicebench_run()  # the plugin validates and saves the case; a failed check fails it
