"""ResNet-50 training images/s on synthetic ImageNet-shaped data, float32 and mixed precision, per batch size."""

import pytest


@pytest.mark.workload("resnet50_train")
def test_resnet50_train(devicebench_run):
    """Training images/s; the first call (graph tracing, autotuning) is warm-up; out of memory is a skip."""
    devicebench_run()
