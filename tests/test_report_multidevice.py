"""The scaling and all-reduce tables, findings and plots from literal frames, then from the golden runs (reports never
imports TF/torch)."""

import math
from pathlib import Path

import pandas as pd
import pytest

import results_format
from reports import multidevice as md
from reports import page, plots, sections
from reports.fmt import fmt_bytes, fmt_latency, fmt_number, fmt_ratio
from reports.load import read_run, tidy


def scaling_row(backend, replicas, throughput, kind="cpu-logical-devices", devices=None, host="ci", model="mnist"):
    names = devices or ",".join(f"CPU:{i}" for i in range(replicas))
    return {
        "host": host, "run": "r1", "backend": backend, "device": names.split(",")[0], "device_kind": "cpu",
        "workload": "scaling", "throughput": throughput, "throughput_unit": "samples/s", "model": model,
        "image_size": 28, "replicas": replicas, "global_batch": 128, "per_replica_batch": 128 // replicas,
        "device_set_kind": kind, "replica_devices": names, "iqr_rel": 0.01, "median_s": 1.0, "measure": "throughput",
    }  # fmt: skip


def allreduce_row(backend, size, seconds, replicas=2, kind="cpu-processes", devices="CPU:0,CPU:0", via=None):
    algbw = size / seconds / 1e9
    return {
        "host": "ci", "run": "r1", "backend": backend, "device": devices.split(",")[0], "device_kind": "cpu",
        "workload": "allreduce", "throughput": algbw, "throughput_unit": "GB/s", "bytes": size, "replicas": replicas,
        "collectives_per_call": 20, "time_per_allreduce_s": seconds, "algbw_gbps": algbw,
        "busbw_gbps": algbw * 2 * (replicas - 1) / replicas, "correct": True, "device_set_kind": kind,
        "replica_devices": devices, "process_group": via or "gloo", "cross_device_ops": None, "iqr_rel": 0.01,
        "median_s": seconds * 20, "measure": "throughput",
    }  # fmt: skip


FRAME = pd.DataFrame(
    [
        scaling_row("tensorflow", 1, 2000.0),
        scaling_row("tensorflow", 2, 3000.0),
        scaling_row("torch", 1, 1600.0, kind="cpu-processes", devices="CPU:0"),
        scaling_row("torch", 2, 960.0, kind="cpu-processes", devices="CPU:0,CPU:0"),
        scaling_row("torch", 1, 10000.0, kind="gpus", devices="GPU:0"),
        scaling_row("torch", 2, 19000.0, kind="gpus", devices="GPU:0,GPU:1"),
        scaling_row("torch", 4, 30000.0, kind="gpus", devices="GPU:0,GPU:1,GPU:2,GPU:3"),
        allreduce_row("torch", 8, 500e-6),
        allreduce_row("torch", 2**20, 1e-3),
        allreduce_row("torch", 2**30, 0.01, replicas=4, kind="gpus", devices="GPU:0,GPU:1,GPU:2,GPU:3", via="nccl"),
        allreduce_row("torch", 8, 20e-6, replicas=4, kind="gpus", devices="GPU:0,GPU:1,GPU:2,GPU:3", via="nccl"),
    ]
)


def test_efficiency_is_throughput_over_n_times_one_replicas():
    assert md.efficiency(3000.0, 2, 2000.0) == 0.75
    table = md.scaling_table(FRAME)
    gpus = table[table["devices"] == "GPUs"]
    assert gpus["replicas"].tolist() == [1, 2, 4]
    assert gpus["efficiency"].tolist() == pytest.approx([1.0, 0.95, 0.75])
    assert gpus["speedup"].tolist() == pytest.approx([1.0, 1.9, 3.0])
    assert gpus["on"].tolist() == ["GPU:0", "GPU:0,GPU:1", "GPU:0,GPU:1,GPU:2,GPU:3"]
    cpu = table[table["devices"] == "CPU processes"]
    assert cpu["on"].tolist() == ["1 process on CPU:0", "2 processes on CPU:0"]
    assert cpu["efficiency"].tolist() == pytest.approx([1.0, 0.3])
    assert table[["global batch", "per replica"]].iloc[1].tolist() == [128, 64]


def test_a_scaling_case_without_its_one_replica_base_has_no_efficiency():
    alone = pd.DataFrame([scaling_row("torch", 2, 960.0, kind="cpu-processes", devices="CPU:0,CPU:0")])
    (efficiency,) = md.scaling_table(alone)["efficiency"]
    assert math.isnan(efficiency)
    assert md.scaling_lines(alone) == []


def test_scaling_findings_give_each_replica_counts_speedup_and_label_a_shared_cpu():
    lines = md.scaling_lines(FRAME)
    assert lines == [
        "Scaling, mnist training, tensorflow on CPU logical devices CPU:0,CPU:1: from 2,000 samples/s on 1 replica, "
        "2 replicas 1.5x (75% efficient) (one CPU's cores shared: the mechanics and overheads, not a second "
        "device's speed).",
        "Scaling, mnist training, torch on 2 processes on CPU:0: from 1,600 samples/s on 1 replica, 2 replicas 0.6x "
        "(30% efficient) (one CPU's cores shared: the mechanics and overheads, not a second device's speed).",
        "Scaling, mnist training, torch on GPUs GPU:0,GPU:1,GPU:2,GPU:3: from 10,000 samples/s on 1 replica, "
        "2 replicas 1.9x (95% efficient); 4 replicas 3.0x (75% efficient).",
    ]


def test_allreduce_table_shows_time_algbw_busbw_and_the_check_per_device_set():
    table = md.allreduce_table(FRAME)
    assert table["bytes"].tolist() == [8, 2**20, 8, 2**30]  # per set, by size
    gpu = table.iloc[3]
    assert (gpu["devices"], gpu["replicas"], gpu["via"]) == ("GPUs", 4, "nccl")
    assert gpu["µs per all-reduce"] == pytest.approx(10_000.0)
    assert gpu["algbw GB/s"] == pytest.approx(107.3741824)
    assert gpu["busbw GB/s"] == pytest.approx(107.3741824 * 1.5)
    assert table["correct"].tolist() == [True] * 4
    assert md.via_text("CollectiveAllReduce (NCCL)") == "collective nccl"
    assert md.via_text("NcclAllReduce") == "NcclAllReduce"


def test_allreduce_findings_name_the_peak_bus_bandwidth_and_the_smallest_messages_time():
    assert md.allreduce_lines(FRAME) == [
        "All-reduce, torch on 2 processes on CPU:0: bus bandwidth peaks at 1.05 GB/s at 1 MiB; 8 B takes 500 µs per "
        "all-reduce; every result checked and right (one CPU's cores shared: the mechanics and overheads, not a "
        "second device's speed).",
        "All-reduce, torch on GPUs GPU:0,GPU:1,GPU:2,GPU:3: bus bandwidth peaks at 161 GB/s at 1 GiB; 8 B takes "
        "20 µs per all-reduce; every result checked and right.",
    ]


def test_the_findings_tables_and_plots_include_the_multi_device_workloads_only_when_they_ran():
    lines = sections.headlines(FRAME)
    assert any(line.startswith("Scaling, mnist training") for line in lines)
    assert any(line.startswith("All-reduce, torch on GPUs") for line in lines)
    titles = [t.title for t in page.multidevice_tables(FRAME)]
    assert titles == [
        "Scaling: data-parallel training, fixed global batch",
        "All-reduce (float32 sum) per backend and device set",
    ]
    assert [p.key for p in plots.multidevice_plots(FRAME)] == ["scaling", "allreduce"]
    only_scaling = FRAME[FRAME["workload"] == "scaling"]
    assert [p.key for p in plots.multidevice_plots(only_scaling)] == ["scaling"]
    assert md.allreduce_lines(only_scaling) == [] and len(page.multidevice_tables(only_scaling)) == 1
    assert plots.multidevice_plots(FRAME.iloc[0:0]) == [] and md.lines(FRAME.iloc[0:0]) == []


def test_the_plots_draw_both_questions():
    efficiency = plots.scaling_efficiency(FRAME)
    bandwidth = plots.allreduce_bandwidth(FRAME)
    assert efficiency.image.startswith("data:image/svg+xml;base64,") and bandwidth.image.startswith("data:image/svg")
    assert plots.allreduce_bandwidth(FRAME.iloc[0:0]).why_not.endswith(".")


# --- the same from the golden runs: every expected value read from the files -------------------------------------

DATA = Path(__file__).parent / "data"
WORKSTATION = DATA / "runs" / "20261122-080000-workstation"  # two GPUs: both backends' multi-device cases on them
MIXEDBOX = DATA / "backends" / "20261123-100000-mixedbox"  # one GPU: a CPU's logical devices and gloo processes


def measured(folder: Path, workload: str) -> dict[tuple, dict]:
    """A run's measured cases of one workload by (backend, device set kind, model or size, replicas)."""
    found = {}
    for bench in results_format.read(folder).benchmarks:
        info = bench.extra_info
        if info.workload != workload:
            continue
        what = info.params.get("model", info.params.get("bytes"))
        found[(info.backend, info.extras["device_set_kind"], what, info.params["replicas"])] = info
    return found


@pytest.fixture(scope="module")
def golden():
    """The tidy frames of the workstation's and mixedbox's runs."""
    return {folder: tidy([read_run(folder)]) for folder in (WORKSTATION, MIXEDBOX)}


def test_golden_scaling_table_is_the_runs_throughput_over_its_one_replica_case(golden):
    cases = measured(WORKSTATION, "scaling")
    table = md.scaling_table(golden[WORKSTATION])
    assert len(table) == len(cases) and set(table["devices"]) == {"GPUs"}
    for row in table.to_dict("records"):
        model = "resnet50" if row["model"] == "resnet50" else "mnist"
        mine = cases[(row["backend"], "gpus", model, row["replicas"])]
        single = cases[(row["backend"], "gpus", model, 1)].throughput
        assert row["samples/s"] == mine.throughput and row["on"] == mine.extras["replica_devices"]
        assert row["speedup"] == pytest.approx(mine.throughput / single)
        assert row["efficiency"] == pytest.approx(mine.throughput / (row["replicas"] * single))
        assert (row["global batch"], row["per replica"]) == (
            mine.params["global_batch"],
            mine.params["per_replica_batch"],
        )
    assert (table[table["replicas"] == 2]["efficiency"] < 1).all()  # scripted below 1: no device set scales perfectly


def test_golden_scaling_findings_quote_the_runs_numbers_and_label_a_shared_cpu(golden):
    lines = md.scaling_lines(golden[WORKSTATION])
    for backend in ("tensorflow", "torch"):
        for model in ("mnist", "resnet50"):
            one = measured(WORKSTATION, "scaling")[(backend, "gpus", model, 1)].throughput
            two = measured(WORKSTATION, "scaling")[(backend, "gpus", model, 2)].throughput
            expected = (
                f"from {fmt_number(one)} samples/s on 1 replica, 2 replicas {fmt_ratio(two / one)} "
                f"({two / (2 * one):.0%} efficient)."
            )
            assert any(line.startswith(f"Scaling, {model} training, {backend} on GPUs GPU:0,GPU:1: ") and
                       line.endswith(expected) for line in lines), expected  # fmt: skip
    shared = md.scaling_lines(golden[MIXEDBOX])
    assert [line.split(":")[0] for line in shared] == [
        "Scaling, mnist training, tensorflow on CPU logical devices CPU",
        "Scaling, mnist training, torch on 2 processes on CPU",
    ]
    assert all(line.endswith(f"({md.SHARED_CPU_NOTE}).") for line in shared)


def test_golden_allreduce_table_shows_the_recorded_time_algbw_busbw_and_check(golden):
    cases = measured(WORKSTATION, "allreduce")
    table = md.allreduce_table(golden[WORKSTATION])
    assert len(table) == len(cases)
    for row in table.to_dict("records"):
        kind = {"GPUs": "gpus", "CPU logical devices": "cpu-logical-devices"}[row["devices"]]
        info = cases[(row["backend"], kind, row["bytes"], row["replicas"])]
        assert row["µs per all-reduce"] == pytest.approx(info.extras["time_per_allreduce_s"] * 1e6)
        assert row["algbw GB/s"] == pytest.approx(info.extras["algbw_gbps"]) == pytest.approx(info.throughput)
        assert row["busbw GB/s"] == pytest.approx(info.extras["busbw_gbps"])
        assert row["correct"] is info.extras["correct"] is True
        via = info.extras.get("cross_device_ops")
        assert row["via"] == (md.via_text(via) if via else info.extras["process_group"])
    assert set(table[table["devices"] == "GPUs"]["via"]) == {"collective nccl", "nccl"}


def test_golden_allreduce_findings_name_the_peak_bus_bandwidth_from_the_run(golden):
    lines = md.allreduce_lines(golden[WORKSTATION])
    for backend in ("tensorflow", "torch"):
        gpus = {size: info for (b, kind, size, _), info in measured(WORKSTATION, "allreduce").items()
                if (b, kind) == (backend, "gpus")}  # fmt: skip
        best = max(gpus, key=lambda size: gpus[size].extras["busbw_gbps"])
        smallest = min(gpus)
        expected = (
            f"All-reduce, {backend} on GPUs GPU:0,GPU:1: bus bandwidth peaks at "
            f"{fmt_number(gpus[best].extras['busbw_gbps'])} GB/s at {fmt_bytes(best)}; {fmt_bytes(smallest)} takes "
            f"{fmt_latency(gpus[smallest].extras['time_per_allreduce_s'])} per all-reduce; "
            "every result checked and right."
        )
        assert expected in lines


def test_golden_runs_page_tables_and_plots_have_the_multi_device_workloads(golden):
    frame = golden[WORKSTATION]
    assert [t.title for t in page.multidevice_tables(frame)] == [
        "Scaling: data-parallel training, fixed global batch",
        "All-reduce (float32 sum) per backend and device set",
    ]
    drawn = plots.multidevice_plots(frame)
    assert [p.key for p in drawn] == ["scaling", "allreduce"]
    assert all(p.image.startswith("data:image/svg+xml;base64,") for p in drawn)


def test_a_one_backend_runs_tables_leave_the_backend_column_out():
    tf_only = FRAME[FRAME["backend"] == "tensorflow"]
    assert "backend" not in md.scaling_table(tf_only).columns
    assert "backend" in md.scaling_table(FRAME).columns and "backend" in md.allreduce_table(FRAME).columns
    torch_only = FRAME[FRAME["backend"] == "torch"]
    assert "backend" not in md.allreduce_table(torch_only).columns
