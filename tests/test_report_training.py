"""The training workloads in the report: saturation, mixed-precision speedups, ResNet-50 and sweep tables (literal
frames and the golden runs, no TensorFlow)."""

from __future__ import annotations

import base64

import pandas as pd
import pytest

from reports import labels, load, page, plots, sections
from reports import training as tr
from tests.golden_runs import GPUBOX, MIXED

SKIPPED_COLUMNS = ["host", "run", "name", "workload", "backend", "device", "device_kind", "params", "kind", "reason"]


def row(workload: str, device: str, throughput: float, backend: str = "tensorflow", **params) -> dict:
    """One tidy-frame row of a training case."""
    unit = "images/s" if workload == "resnet50_train" else "samples/s"
    return {
        "host": "box",
        "run": "r1",
        "backend": backend,
        "device": device,
        "device_kind": "gpu" if device.startswith("GPU") else "cpu",
        "device_name": "NVIDIA H100 80GB HBM3" if device.startswith("GPU") else "Some CPU",
        "workload": workload,
        "throughput": throughput,
        "throughput_unit": unit,
        "median_s": 1.0,
        "iqr_rel": 0.01,
        **params,
    }


def resnet(device: str, precision: str, batch: int, throughput: float, **extra) -> dict:
    return row("resnet50_train", device, throughput, precision=precision, image_size=224, batch_size=batch, **extra)


def amp(device: str, mode: str, precision: str, batch: int, throughput: float, backend: str = "tensorflow") -> dict:
    return row("mnist_amp", device, throughput, backend, mode=mode, precision=precision, batch_size=batch)


def sweep(device: str, batch: int, throughput: float) -> dict:
    return row("mnist_batch", device, throughput, mode="function", batch_size=batch)


def skip(workload: str, params: str, kind: str = "oom", device: str = "GPU:0") -> dict:
    return {
        "host": "box",
        "run": "r1",
        "name": f"test_{workload}[x]",
        "workload": workload,
        "backend": "tensorflow",
        "device": device,
        "device_kind": "gpu",
        "params": params,
        "kind": kind,
        "reason": "out of memory on GPU:0: ResourceExhaustedError: OOM when allocating tensor",
    }


@pytest.fixture
def frame() -> pd.DataFrame:
    """A GPU and a CPU with ResNet-50 in two precisions, MNIST mixed precision and an MNIST sweep."""
    rows = [
        resnet("GPU:0", "float32", 64, 900.0, ms_per_step=71.1, initial_loss=7.1, final_loss=6.0),
        resnet("GPU:0", "float32", 128, 1000.0),
        resnet("GPU:0", "float32", 256, 1050.0),
        resnet("GPU:0", "mixed_float16", 64, 1800.0),
        resnet("GPU:0", "mixed_float16", 128, 2600.0),
        resnet("GPU:0", "mixed_float16", 256, 3000.0),
        amp("GPU:0", "xla", "float32", 64, 50_000.0),
        amp("GPU:0", "xla", "mixed_float16", 64, 55_000.0),
        amp("GPU:0", "xla", "float32", 1024, 400_000.0),
        amp("GPU:0", "xla", "mixed_float16", 1024, 900_000.0),
        amp("GPU:0", "function", "mixed_bfloat16", 1024, 800_000.0),  # no float32 twin: not paired
        amp("CPU:0", "function", "float32", 64, 10_000.0),
        amp("CPU:0", "function", "mixed_bfloat16", 64, 12_500.0),
        *(sweep("GPU:0", b, t) for b, t in ((64, 1e4), (1024, 1.5e5), (16384, 4e5), (32768, 4.2e5))),
        *(sweep("CPU:0", b, t) for b, t in ((32, 5e3), (256, 2e4), (2048, 2.1e4))),
    ]
    return pd.DataFrame(rows)


@pytest.fixture
def skipped() -> pd.DataFrame:
    rows = [
        skip("resnet50_train", "precision=float32, image_size=224, batch_size=512, steps_per_call=10, calls=7"),
        skip("resnet50_train", "precision=float32, image_size=224, batch_size=1024, steps_per_call=10, calls=7"),
        skip("resnet50_train", "precision=mixed_bfloat16, image_size=224, batch_size=64", kind="profile"),
    ]
    return pd.DataFrame(rows, columns=SKIPPED_COLUMNS)


@pytest.mark.parametrize(
    ("batches", "throughputs", "expected"),
    [
        ([16, 32, 64, 128], [100.0, 180.0, 190.0, 200.0], 32),  # 90 % of 200 is 180: reached at 32
        ([16, 32, 64, 128], [100.0, 179.9, 190.0, 200.0], 64),
        ([128, 16, 64, 32], [200.0, 100.0, 190.0, 180.0], 32),  # order does not matter
        ([16, 32, 64], [300.0, 200.0, 100.0], 16),  # the smallest batch is already the best
        ([16, 32, 64], [10.0, 20.0, 40.0], 64),  # still growing: saturates only at the largest measured
        ([8], [5.0], 8),
        ([], [], None),
        ([16, 32], [float("nan"), 3.0], 32),  # a missing throughput is left out
    ],
)
def test_saturation_batch_is_the_smallest_reaching_90_percent_of_the_best(batches, throughputs, expected):
    assert tr.saturation_batch(batches, throughputs) == expected


def test_saturation_fraction_can_be_chosen():
    assert tr.saturation_batch([16, 32, 64], [50.0, 95.0, 100.0], fraction=0.95) == 32
    assert tr.saturation_batch([16, 32, 64], [50.0, 94.0, 100.0], fraction=0.95) == 64


def test_parse_params_reads_the_skipped_frames_text():
    assert tr.parse_params("precision=float32, image_size=224, batch_size=512") == {
        "precision": "float32",
        "image_size": "224",
        "batch_size": "512",
    }
    assert tr.parse_params("") == {} and tr.parse_params(None) == {}


def test_sweep_summary_marks_saturation_largest_batch_and_out_of_memory(frame, skipped):
    view = tr.sweep_summary(frame, skipped).set_index(["device", "workload", "series"])
    fp32 = view.loc[("GPU:0", "resnet50_train", "float32 224px")]
    assert (fp32["best"], fp32["best_batch"], fp32["saturation_batch"]) == (1050.0, 256.0, 128.0)  # 900 < 945
    assert (fp32["largest_batch"], fp32["oom_batch"], fp32["unit"]) == (256.0, 512.0, "images/s")
    fp16 = view.loc[("GPU:0", "resnet50_train", "mixed_float16 224px")]
    assert fp16["saturation_batch"] == 256.0 and pd.isna(fp16["oom_batch"])
    mnist_gpu = view.loc[("GPU:0", "mnist_batch", "function")]
    assert (mnist_gpu["saturation_batch"], mnist_gpu["points"]) == (16384.0, 4)
    assert view.loc[("CPU:0", "mnist_batch", "function")]["saturation_batch"] == 256.0


def test_sweep_lines_say_where_it_saturates_and_what_fitted(frame, skipped):
    lines = tr.sweep_lines(frame, skipped)
    assert (
        "Batch sweep, ResNet-50 float32 224px on GPU:0: 90% of the best 1,050 images/s (batch 256) from batch 128; "
        "the largest batch that fitted is 256 (512 ran out of memory)." in lines
    )
    assert (
        "Batch sweep, ResNet-50 mixed_float16 224px on GPU:0: 90% of the best 3,000 images/s (batch 256) from batch "
        "256, the largest measured: it has not saturated yet." in lines
    )
    cpu = "Batch sweep, MNIST function on CPU:0: 90% of the best 21,000 samples/s (batch 2048) from batch 256."
    assert cpu in lines


def test_amp_speedups_pair_mixed_cases_with_their_float32_twins(frame):
    speed = tr.amp_speedups(frame)
    got = {(r.device, r.workload, r.case, r.precision): round(r.speedup, 3) for r in speed.itertuples()}
    assert got == {
        ("GPU:0", "resnet50_train", "224px b64", "mixed_float16"): 2.0,
        ("GPU:0", "resnet50_train", "224px b128", "mixed_float16"): 2.6,
        ("GPU:0", "resnet50_train", "224px b256", "mixed_float16"): round(3000 / 1050, 3),
        ("GPU:0", "mnist_amp", "xla b64", "mixed_float16"): 1.1,
        ("GPU:0", "mnist_amp", "xla b1024", "mixed_float16"): 2.25,
        ("CPU:0", "mnist_amp", "function b64", "mixed_bfloat16"): 1.25,
    }


def test_amp_speedups_stay_within_one_backend():
    rows = [amp("GPU:0", "eager", "float32", 64, 100.0, "torch"), amp("GPU:0", "eager", "mixed_float16", 64, 150.0)]
    assert tr.amp_speedups(pd.DataFrame(rows)).empty


def test_amp_lines_give_the_speedup_per_device(frame):
    lines = tr.amp_lines(frame)
    assert (
        "Mixed precision, MNIST mixed-precision training on CPU:0: mixed_bfloat16 runs at 1.2x float32's samples/s "
        "(function b64)." in lines
    )
    assert (
        "Mixed precision, MNIST mixed-precision training on GPU:0: mixed_float16 runs at 1.1x to 2.2x float32's "
        "samples/s (best xla b1024: 900,000 vs 400,000)." in lines
    )
    resnet = "Mixed precision, ResNet-50 training on GPU:0: mixed_float16 runs at 2.0x to 2.9x"
    assert any(line.startswith(resnet) for line in lines)


def test_resnet_lines_give_the_best_images_per_second_per_precision(frame):
    assert tr.resnet_lines(frame) == [
        "ResNet-50 training on GPU:0 at 224x224: best images/s 1,050 in float32 (batch 256); "
        "3,000 in mixed_float16 (batch 256)."
    ]


def test_training_findings_open_the_report(frame, skipped):
    lines = sections.headlines(frame, skipped)
    assert any(line.startswith("Mixed precision, ResNet-50 training on GPU:0") for line in lines)
    assert any(line.startswith("Batch sweep, MNIST function on GPU:0") for line in lines)


def test_device_labels_carry_the_backend_when_both_ran():
    rows = [
        resnet("GPU:0", "float32", 64, 900.0),
        resnet("GPU:0", "mixed_float16", 64, 1800.0),
        {**resnet("GPU:0", "float32", 64, 1000.0), "backend": "torch"},
        {**resnet("GPU:0", "mixed_float16", 64, 2500.0), "backend": "torch"},
    ]
    speed = tr.amp_speedups(pd.DataFrame(rows))
    assert dict(zip(speed["device_label"], speed["speedup"], strict=True)) == {
        "tensorflow GPU:0": 2.0,
        "torch GPU:0": 2.5,
    }
    assert labels.case_text(pd.Series(rows[0])) == "float32 224px b64"


def test_tables_for_the_page(frame, skipped):
    tables = {t.title: t for t in page.training_tables(frame, skipped)}
    assert list(tables) == [
        "Mixed precision: speedup over float32",
        "ResNet-50 training: images/s",
        "Throughput vs batch size: where it saturates",
    ]
    amp_table = tables["Mixed precision: speedup over float32"]
    assert amp_table.columns == ["device", "workload", "case", "precision", "float32", "mixed", "unit", "speedup"]
    assert ["GPU:0", "ResNet-50 training", "224px b64", "mixed_float16", "900", "1,800", "images/s", "2.0x"] in (
        amp_table.rows
    )
    resnet_table = tables["ResNet-50 training: images/s"]
    assert resnet_table.columns[:5] == ["device", "precision", "image size", "batch_size", "images/s"]
    assert resnet_table.rows[0] == ["GPU:0", "float32", "224", "64", "900", "71.1", "7.1", "6"]
    sweep_table = tables["Throughput vs batch size: where it saturates"]
    assert ["GPU:0", "ResNet-50 training", "float32 224px", "1,050", "images/s", "256", "128", "256", "512"] in (
        sweep_table.rows
    )


def test_no_training_cases_no_tables_no_lines():
    other = pd.DataFrame([row("matmul", "CPU:0", 10.0, n=128, dtype="float32")])
    empty = pd.DataFrame(columns=SKIPPED_COLUMNS)
    assert page.training_tables(other, empty) == []
    assert tr.training_lines(other, empty) == []
    assert tr.sweep_summary(other).empty and tr.amp_speedups(other).empty


def test_sweep_plot_draws_both_sweeps_and_circles_saturation(frame):
    plot = plots.batch_sweep(frame.assign(device_label=frame["device"]), {"GPU:0": (0, 0, 1), "CPU:0": (1, 0, 0)})
    assert plot.why_not is None and plot.image.startswith("data:image/svg+xml;base64,")
    svg = base64.b64decode(plot.image.split(",", 1)[1]).decode()
    assert "90% of best from b=128" in svg and "90% of best from b=16384" in svg
    assert "ResNet-50 training" in svg and "MNIST training: batch-size sweep" in svg


def test_sweep_plot_without_a_sweep_says_why():
    plot = plots.batch_sweep(pd.DataFrame([row("matmul", "CPU:0", 10.0, n=128)]), {})
    assert plot.image is None
    assert plot.why_not == "No batch-size sweep ran (mnist_batch or resnet50_train), so there is nothing to plot."


def test_the_golden_gpu_sweep_names_the_batch_that_ran_out_of_memory():
    """gpubox's ResNet-50 sweep at 224 px: float32 does not fit at batch 1024 on the H100; half precision does."""
    run = load.read_run(GPUBOX)
    frame, left_out = load.tidy([run]), load.skipped([run])
    oom = [s for s in run.record.devicebench.skipped if s.kind == "oom"]
    assert [(s.workload, s.params["precision"], s.params["batch_size"]) for s in oom] == [
        ("resnet50_train", "float32", 1024)
    ]
    measured = {
        (b.extra_info.params["precision"], b.extra_info.params["batch_size"])
        for b in run.record.benchmarks
        if b.extra_info.workload == "resnet50_train"
    }
    view = tr.sweep_view(frame, left_out).set_index("series")
    for precision in ("float32", "mixed_float16", "mixed_bfloat16"):
        row = view.loc[f"{precision} 224px"]
        largest = max(batch for p, batch in measured if p == precision)
        assert row["largest batch run"] == str(largest)
        assert row["out of memory at"] == ("1024" if precision == "float32" else "")
    assert view.loc["float32 224px", "largest batch run"] == "512"
    lines = tr.sweep_lines(frame, left_out)
    assert any(
        line.startswith("Batch sweep, ResNet-50 float32 224px on GPU:0")
        and line.endswith("the largest batch that fitted is 512 (1024 ran out of memory).")
        for line in lines
    )
    table = next(t for t in page.training_tables(frame, left_out) if t.title.startswith("Throughput vs"))
    assert table.columns[-1] == "out of memory at" and [r[-1] for r in table.rows].count("1024") == 1


def test_the_golden_mixed_precision_speedups_pair_each_case_with_its_float32_twin():
    run = load.read_run(MIXED)
    cases = {
        (b.extra_info.backend, b.extra_info.workload, tuple(sorted(b.extra_info.params.items()))): b.extra_info
        for b in run.record.benchmarks
        if b.extra_info.workload in tr.AMP_WORKLOADS and b.extra_info.device == "GPU:0"
    }
    speed = tr.amp_speedups(load.tidy([run]))
    assert len(speed) == sum(1 for key in cases if dict(key[2])["precision"] != "float32")
    for row in speed.itertuples():
        matching = [
            info
            for (backend, workload, params), info in cases.items()
            if (backend, workload) == (row.backend, row.workload) and dict(params)["precision"] == row.precision
        ]
        twin = [
            info
            for (backend, workload, params), info in cases.items()
            if (backend, workload) == (row.backend, row.workload) and dict(params)["precision"] == "float32"
        ]
        assert any(info.throughput == row.mixed for info in matching)
        assert any(info.throughput == row.float32 for info in twin)
        assert row.speedup == pytest.approx(row.mixed / row.float32)
