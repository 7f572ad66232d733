"""tf.data input pipelines (TensorFlow only): elements/s per variant, and the input-bound verdict per device."""

import pytest


@pytest.mark.workload("tfdata")
def test_tfdata(devicebench_run):
    """One call iterates the whole pipeline once."""
    devicebench_run()  # the plugin validates and saves the case; a failed check fails it
