"""devicebench's measuring side: devices, workloads, timing and the pytest plugin.

Importing `bench` never imports TensorFlow or torch; a backend is loaded only when asked for.
"""

__version__ = "0.2.0"
