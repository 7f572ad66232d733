"""Eager per-op dispatch overhead: the book's polynomial fit (50 points, Adam steps), µs per step and per op."""

import pytest


@pytest.mark.workload("dispatch")
def test_dispatch(devicebench_run):
    """One call runs steps_per_call fit steps; the fit must learn."""
    devicebench_run()  # the plugin validates and saves the case; a failed check fails it
