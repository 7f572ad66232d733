"""Loads the devicebench plugin for `pytest bench` (no install or `-p` needed)."""

pytest_plugins = ["bench.plugin"]
