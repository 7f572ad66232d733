"""The scripted backends record what the real ones record: the same keys in the same order, and the same words.

Each single-device workload the scripted system models is built once by the real TensorFlow or torch backend on
this machine's CPU and once by its scripted twin (tests/fake_backend.py); their facts must agree key for key, and
in every value that describes rather than measures. The multi-device workloads are compared in
tests/test_multidevice_tf.py and tests/test_multidevice_torch.py, beside the real runs they need.
"""

from __future__ import annotations

from typing import Any

import pytest

from bench.backends import load_backend
from bench.cases import Case
from bench.workloads import MEMBW, SUSTAINED, TRANSFER
from results_format import CaseInfo
from tests.fake_backend import FakeTensorFlowBackend, FakeTorchBackend

# values that describe how a case ran (not what it measured): the scripted twin must write the same
DESCRIBING = (
    "kernel",
    "how",
    "verified",
    "verify_note",
    "fresh_buffer",
    "pinned",
    "copy",
    "numpy_interop",
    "zero_copy",
)
CASES = [
    (MEMBW, {"kernel": "copy", "bytes": 2**20, "dtype": "float32"}),
    (MEMBW, {"kernel": "triad", "bytes": 2**20, "dtype": "float32"}),
    (TRANSFER, {"direction": "h2d", "bytes": 2**20, "host_memory": "pageable"}),
    (TRANSFER, {"direction": "d2h", "bytes": 2**20, "host_memory": "pageable"}),
    (SUSTAINED, {"n": 64, "dtype": "float32", "seconds": 0.01}),
]
TF_ONLY = [(TRANSFER, {"direction": "d2h-view", "bytes": 2**20, "host_memory": "pageable"})]


def facts_of(backend: Any, workload: Any, params: dict[str, Any]) -> dict[str, Any]:
    """A CPU case's facts after two calls (a sustained case checks both rounds first)."""
    prepared = backend.build(Case(workload, backend.devices()[0], params))
    for index in range(2):
        out = prepared.call()
        if prepared.check_round is not None:
            assert prepared.check_round(out, index, 0.001) is None
    return prepared.facts(0.001)


def assert_same_record(real: dict[str, Any], fake: dict[str, Any]) -> None:
    """The same keys in the same order (as results files list them), the same describing values."""
    assert list(fake) == list(real)
    for key in DESCRIBING:
        if key in real:
            assert fake[key] == real[key], key
    for model_field in set(real) & set(CaseInfo.model_fields):  # a record of its own (`sustained`): its keys
        assert list(fake[model_field]) == list(real[model_field])


@pytest.fixture(scope="module")
def real_tf():
    """The real TensorFlow backend on this CPU."""
    pytest.importorskip("tensorflow")
    return load_backend("tensorflow")


@pytest.fixture(scope="module")
def real_torch():
    """The real torch backend on this CPU."""
    pytest.importorskip("torch")
    return load_backend("torch")


@pytest.fixture
def laptop(monkeypatch):
    """Scripted backends on a CPU-only host."""
    monkeypatch.setenv("DEVICEBENCH_FAKE_HOST", "laptop")


@pytest.mark.parametrize(("workload", "params"), CASES + TF_ONLY, ids=lambda v: getattr(v, "name", None) or str(v))
def test_tensorflow_twin_records_what_tensorflow_records(real_tf, laptop, workload, params):
    assert_same_record(facts_of(real_tf, workload, params), facts_of(FakeTensorFlowBackend(), workload, params))


@pytest.mark.parametrize(("workload", "params"), CASES, ids=lambda v: getattr(v, "name", None) or str(v))
def test_torch_twin_records_what_torch_records(real_torch, laptop, workload, params):
    assert_same_record(facts_of(real_torch, workload, params), facts_of(FakeTorchBackend(), workload, params))
