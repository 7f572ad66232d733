"""Schema 2 files still read: every committed v2 file (the real H200 run, two golden runs kept as schema 2) is
migrated on read to schema 3 with the frozen v2 specs and the case labels reports made then."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import results_format
from bench.workloads import WORKLOADS
from results_format import V2_SPECS, ResultsFileError

DATA = Path(__file__).parent / "data"
V2_FILES = sorted([*DATA.glob("real/*/*/benchmarks.json"), *DATA.glob("v2/*/benchmarks.json")])
#: each v2 golden run and the same run regenerated as schema 3 by the current writer
TWINS = {"20261120-090000-laptop": "runs", "20261123-100000-mixedbox": "backends"}


def test_the_v2_files_are_committed_as_schema_2():
    assert len(V2_FILES) >= 5
    for path in V2_FILES:
        assert json.loads(path.read_text(encoding="utf-8"))["devicebench"]["schema_version"] == 2, path


@pytest.mark.parametrize("path", V2_FILES, ids=lambda p: f"{p.parent.parent.name}/{p.parent.name}")
def test_a_v2_file_reads_as_schema_3_with_the_frozen_specs(path: Path):
    run = results_format.read(path)
    raw = json.loads(path.read_text(encoding="utf-8"))
    assert run.devicebench.schema_version == 3
    versions = {name: spec.version for name, spec in run.devicebench.workloads.items()}
    assert raw["devicebench"]["workloads"].items() <= versions.items()  # the versions it recorded are kept
    used = {b.extra_info.workload for b in run.benchmarks} | {s.workload for s in run.devicebench.skipped}
    assert used <= set(run.devicebench.workloads)
    for name, spec in run.devicebench.workloads.items():
        assert spec.model_copy(update={"version": V2_SPECS[name].version}) == V2_SPECS[name]
    assert all(b.extra_info.case_label for b in run.benchmarks if b.extra_info.workload != "peaks")


@pytest.mark.parametrize("name", TWINS)
def test_a_migrated_case_label_is_the_label_the_workload_writes_today(name: str):
    """The frozen v2 labels and the workloads' own `text` agree, so old and new runs read the same in reports."""
    old = results_format.read(DATA / "v2" / name)
    new = results_format.read(DATA / TWINS[name] / name)
    labels = {b.name: b.extra_info.case_label for b in new.benchmarks}
    compared = [b for b in old.benchmarks if b.name in labels and b.extra_info.workload != "peaks"]
    assert len(compared) == len(old.benchmarks)
    assert all(b.extra_info.case_label == labels[b.name] for b in compared)
    workloads = {b.extra_info.workload for b in compared}
    for workload in workloads:  # the spec each workload declares today keeps the v2 spec's place in the format
        today, frozen = WORKLOADS[workload].spec, V2_SPECS[workload]
        assert (today.params, today.keys, today.work_unit, today.title) == (
            frozen.params,
            frozen.keys,
            frozen.work_unit,
            frozen.title,
        )


def test_a_v2_file_with_a_workload_schema_2_never_had_is_refused_in_one_line(tmp_path: Path):
    data = json.loads((DATA / "v2" / "20261120-090000-laptop" / "benchmarks.json").read_text(encoding="utf-8"))
    data["benchmarks"][0]["extra_info"]["workload"] = "attention"
    path = tmp_path / "benchmarks.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ResultsFileError) as info:
        results_format.read(path)
    assert str(info.value) == f"{path}: malformed: unknown workload 'attention' (schema 2 knew: {', '.join(V2_SPECS)})"
