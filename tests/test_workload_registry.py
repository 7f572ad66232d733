"""A workload is declared in one module: bench.workloads finds it, the backends find its builder by convention, its
sizes live in it (not in Profile), and its spec (facts, section) is what the results file carries."""

from __future__ import annotations

import dataclasses
import json
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

import bench.backends
import bench.workloads
from bench.backends.base import find_builder
from bench.cases import SizesError, make_cases
from bench.devices import Device
from bench.profiles import Profile, get_profile
from bench.workloads import WORKLOADS, discover

CPU = Device("tensorflow", "CPU:0", "cpu", "Some CPU")
TORCH_CPU = Device("torch", "CPU:0", "cpu", "Some CPU")

TOY = '''
"""A toy workload, declared as a contributor would: this module and its builders are all it takes."""

from bench.cases import Workload
from results_format import Fact, Plot, Section, WorkloadSpec

SPEC = WorkloadSpec(
    name="toy",
    version=1,
    title="toy multiply",
    params=("n",),
    keys=("n",),
    work_unit="FLOP",
    throughput_unit="GFLOP/s",
    facts=(Fact(name="us_per_call", description="time per call", unit="µs", better="lower", headline=True),),
    section=Section(title="Toy multiply", table=("us_per_call",), plot=Plot(x="n", logx=True)),
)
WORKLOAD = Workload(
    spec=SPEC,
    throughput_scale=1e9,
    backends=("tensorflow", "torch"),
    params_for=lambda profile, device: [({"n": n}, None) for n in WORKLOAD.sizes_for(profile)],
    work_per_call=lambda p: 2.0 * p["n"] ** 3,
    label=lambda p: f"n{p['n']}",
    text=lambda p: f"n={p['n']}",
    sizes={"smoke": (8, 16), "standard": (8, 16, 32), "full": (8, 16, 32, 64)},
)
'''
TF_TOY = '''
from bench.backends.base import Prepared


def build(case, backend):
    """The call to time."""
    return Prepared(lambda: case.params["n"])
'''


@pytest.fixture
def toy(tmp_path: Path) -> Iterator[None]:
    """bench/workloads/toy.py and bench/backends/tf_toy.py, as if a contributor had added them."""
    (tmp_path / "workloads").mkdir()
    (tmp_path / "backends").mkdir()
    (tmp_path / "workloads" / "toy.py").write_text(textwrap.dedent(TOY), encoding="utf-8")
    (tmp_path / "backends" / "tf_toy.py").write_text(textwrap.dedent(TF_TOY), encoding="utf-8")
    bench.workloads.__path__.append(str(tmp_path / "workloads"))
    bench.backends.__path__.append(str(tmp_path / "backends"))
    try:
        yield
    finally:
        bench.workloads.__path__.remove(str(tmp_path / "workloads"))
        bench.backends.__path__.remove(str(tmp_path / "backends"))
        for name in ("bench.workloads.toy", "bench.backends.tf_toy"):
            sys.modules.pop(name, None)


def test_every_workload_module_is_found_without_a_list():
    assert sorted(WORKLOADS) == sorted(
        ["allreduce", "attention", "checkpoint", "dispatch", "inference", "matmul", "membw", "mnist", "mnist_amp",
         "mnist_batch", "peaks", "resnet50_train", "scaling", "sustained", "tfdata", "transfer"]
    )  # fmt: skip
    for name, workload in WORKLOADS.items():
        assert sys.modules[f"bench.workloads.{name}"].WORKLOAD is workload


def test_a_new_workload_module_is_discovered_built_and_sized_by_itself(toy: None):
    found = discover()
    workload = found["toy"]
    assert [case.params["n"] for case in make_cases(workload, get_profile("smoke"), [CPU])] == [8, 16]
    assert [case.params["n"] for case in make_cases(workload, get_profile("full"), [CPU])] == [8, 16, 32, 64]
    build = find_builder(workload, "tensorflow", "tf")
    assert build is not None and build.__module__ == "bench.backends.tf_toy"
    assert find_builder(workload, "torch", "torch") is None  # no torch_toy.py: the backend says it has none
    assert workload.case_text({"n": 8}) == "n=8"
    assert workload.spec.fact("us_per_call").headline
    with pytest.raises(SizesError, match="workload toy has no sizes for profile sustained"):
        workload.sizes_for(get_profile("sustained"))


def test_the_profile_holds_only_cross_workload_knobs_for_the_migrated_workloads():
    fields = {f.name for f in dataclasses.fields(Profile)}
    for migrated in ("matmul", "transfer", "inference", "dispatch"):
        assert not {f for f in fields if f.startswith(migrated)}
        assert set(WORKLOADS[migrated].sizes) >= {"smoke", "standard", "full"}
    assert "gpu_low_precision" not in fields


def test_every_existing_builder_is_found_by_convention_or_its_declared_path():
    for workload in WORKLOADS.values():
        for backend, prefix in (("tensorflow", "tf"), ("torch", "torch")):
            if backend not in workload.backends:
                continue
            module, functions = workload.builder_path(backend, prefix)
            assert Path(bench.backends.__path__[0], module.rsplit(".", 1)[1] + ".py").is_file(), module
            source = Path(bench.backends.__path__[0], module.rsplit(".", 1)[1] + ".py").read_text(encoding="utf-8")
            assert any(f"def {function}(" in source for function in functions), (workload.name, backend)


def test_a_profile_without_a_workloads_sizes_is_one_usage_line_not_a_traceback():
    from bench.session import DevicebenchSession, UsageError

    session = object.__new__(DevicebenchSession)  # only what cases_for reads
    session.profile = dataclasses.replace(get_profile("smoke"), name="tiny")
    session.devices = [CPU]
    session.cases = {}
    with pytest.raises(UsageError, match=r"^workload matmul has no sizes for profile tiny \(it has: smoke, standard"):
        session.cases_for("matmul")


def test_every_declared_fact_is_a_key_the_workloads_cases_record():
    """A spec's facts describe real extra_info keys (read from the golden runs, which the real plugin wrote),
    or the limit columns reports derive for every workload (% of peak and the peak it is judged against)."""
    from reports.limits import LIMIT_COLUMNS

    derived = {*LIMIT_COLUMNS, "peak_basis"}
    recorded: dict[str, set[str]] = {}
    for path in Path(__file__).parent.joinpath("data").glob("*/*/benchmarks.json"):
        for case in json.loads(path.read_text(encoding="utf-8"))["benchmarks"]:
            info = case["extra_info"]
            recorded.setdefault(info["workload"], set()).update(info)
    for name, workload in WORKLOADS.items():
        missing = [f.name for f in workload.spec.facts if f.name not in recorded.get(name, set()) | derived]
        assert not missing, (name, missing)
        assert len({f.name for f in workload.spec.facts}) == len(workload.spec.facts), name
