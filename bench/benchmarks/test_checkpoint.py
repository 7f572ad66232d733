"""Checkpoint save and restore (tf.train.Checkpoint, .keras, torch state_dict) in MB/s to the results' disk."""

import pytest


@pytest.mark.workload("checkpoint")
def test_checkpoint(devicebench_run):
    """A save ends with fsync; a restore reads files dropped from the page cache; the weights must round-trip."""
    devicebench_run()  # the plugin validates and saves the case; a failed check fails it
