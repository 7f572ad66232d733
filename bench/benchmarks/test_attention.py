"""Causal scaled-dot-product attention on every device: forward and forward+backward, GPT-2 and LLaMA heads."""

import pytest


@pytest.mark.workload("attention")
def test_attention(devicebench_run):
    """torch SDPA (is_causal=True) or TF ops under XLA; TFLOP/s by the FlashAttention count over the median."""
    devicebench_run()  # the plugin validates and saves the case; an output off the float64 reference fails it
