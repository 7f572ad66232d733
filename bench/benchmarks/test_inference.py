"""Inference of the book model and ResNet-50: batch-1 latency percentiles and large-batch throughput per mode."""

import pytest


@pytest.mark.workload("inference")
def test_inference(devicebench_run):
    """Each round is one request (a batch through the model, then a sync); its output must match eager."""
    devicebench_run()  # the plugin validates and saves the case; a failed check fails it
