"""tf.data input pipelines (TensorFlow only): elements/s per variant, and the input-bound verdict per device."""

import pytest


@pytest.mark.workload("tfdata")
def test_tfdata(devicebench_run):
    """One call iterates the whole pipeline once."""
    extra = devicebench_run()
    assert extra["throughput"] > 0
