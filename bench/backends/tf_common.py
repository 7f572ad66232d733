"""What every TensorFlow builder shares: dtypes and the `tf.device` string of a suite device."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TF's C++ start-up chatter out of the bench output

import tensorflow as tf

from bench.devices import Device

DTYPES = {"float32": tf.float32, "float16": tf.float16, "bfloat16": tf.bfloat16}


def tf_device(device: Device) -> str:
    """The `tf.device` string for a suite device."""
    return f"/device:{device.name}"
