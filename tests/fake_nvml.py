"""The scripted NVML, for the tests: it lives in tools/fake_nvml.py, since tools/ must not import tests/."""

from tools.fake_nvml import MIB, FakeGpu, FakeNvml

__all__ = ["MIB", "FakeGpu", "FakeNvml"]
