"""Latency percentiles, checkpoint bandwidth and dispatch overhead in the report, from literal tidy frames and the
golden runs."""

import pandas as pd
import pytest

from reports import fmt, page, sections
from reports.load import BASE_COLUMNS, META_COLUMNS, STAT_COLUMNS, read_run, tidy
from reports.serving import (
    checkpoint_lines,
    checkpoint_table,
    dispatch_lines,
    dispatch_table,
    inference_lines,
    latency_table,
    serving_lines,
)
from tests.golden_runs import LAPTOP, MIXED

BASE = {"host": "box", "run": "r1", "backend": "tensorflow", "device_kind": "cpu", "one_time_cost_s": 0.0}


def frame(*rows):
    return pd.DataFrame([{**BASE, **row} for row in rows])


def inference(device, mode, batch, p50, p90, p99, *, model="book", size=28, throughput=None, first=0.0, **more):
    return {
        "workload": "inference",
        "device": device,
        "device_kind": "gpu" if device.startswith("GPU") else "cpu",
        "model": model,
        "image_size": size,
        "mode": mode,
        "batch_size": batch,
        "requests": 100 if batch == 1 else 12,
        "latency_p50_s": p50,
        "latency_p90_s": p90,
        "latency_p99_s": p99,
        "throughput": throughput if throughput is not None else batch / p50,
        "throughput_unit": "samples/s",
        "work_per_call": float(batch),
        "one_time_cost_s": first,
        **more,
    }


INFERENCE = frame(
    inference("CPU:0", "eager", 1, 0.012, 0.016, 0.021),
    inference("CPU:0", "xla", 1, 0.0008, 0.005, 0.009, first=0.2),
    inference("CPU:0", "xla", 256, 0.02, 0.021, 0.025),
    inference("GPU:0", "function", 1, 0.0004, 0.0005, 0.0008, model="resnet50", size=224, first=3.5),
    inference("GPU:0", "function", 128, 0.05, 0.05, 0.06, model="resnet50", size=224, throughput=2560.0),
)


def test_the_latency_table_shows_percentiles_of_batch_one_never_a_mean():
    table = latency_table(INFERENCE)
    assert list(table.columns) == [
        "device", "model", "mode", "requests", "p50 (ms)", "p90 (ms)", "p99 (ms)", "p99/p50",
        "first call's extra cost (s)",
    ]  # fmt: skip
    assert not any("mean" in c for c in table.columns)
    assert table["model"].tolist() == ["book model", "book model", "ResNet-50 (224 px)"]
    assert table["mode"].tolist() == ["eager", "XLA", "tf.function"]
    first = table.iloc[1]
    assert (first["p50 (ms)"], first["p90 (ms)"], first["p99 (ms)"]) == pytest.approx((0.8, 5.0, 9.0))
    assert first["p99/p50"] == pytest.approx(11.25) and first["requests"] == 100
    assert table.iloc[2]["first call's extra cost (s)"] == 3.5


def test_no_inference_no_latency_table():
    assert latency_table(pd.DataFrame()).empty
    assert latency_table(frame({"workload": "matmul", "device": "CPU:0", "throughput": 1.0})).empty


def test_inference_findings_name_the_percentiles_the_winner_and_the_batch_throughput():
    lines = inference_lines(INFERENCE)
    assert lines == [
        "Inference, book model on CPU:0: batch 1: XLA p50 800 µs, p99 9 ms; eager p50 12 ms, p99 21 ms; "
        "XLA cuts the eager p50 15.0x; at batch 256 up to 12,800 samples/s (XLA).",
        "Inference, ResNet-50 (224 px) on GPU:0: batch 1: tf.function p50 400 µs, p99 800 µs; "
        "at batch 128 up to 2,560 samples/s (tf.function).",
    ]


def test_no_inference_no_inference_findings_even_where_other_workloads_have_a_batch_size():
    training = frame(
        {"workload": "mnist_batch", "device": "CPU:0", "mode": "function", "batch_size": 64, "throughput": 1e4}
    )
    assert inference_lines(training) == [] and serving_lines(training) == []


def checkpoint(fmt, direction, model, mbps, *, backend="tensorflow", size=7_456_370, weights=7_454_760.0):
    return {
        "workload": "checkpoint",
        "backend": backend,
        "device": "CPU:0",
        "format": fmt,
        "direction": direction,
        "model": model,
        "throughput": mbps,
        "throughput_unit": "MB/s",
        "work_per_call": weights,
        "file_bytes": size,
        "file_mb_per_s": mbps * size / weights,
        "directory": "/data/results",
        "page_cache": "evicted before each restore (posix_fadvise DONTNEED)",
    }


CHECKPOINTS = frame(
    checkpoint("tf-checkpoint", "save", "book", 177.0),
    checkpoint("tf-checkpoint", "restore", "book", 298.0),
    checkpoint("tf-checkpoint", "save", "resnet50", 410.0, size=102_560_000, weights=102_546_848.0),
    checkpoint("tf-checkpoint", "restore", "resnet50", 900.0, size=102_560_000, weights=102_546_848.0),
    checkpoint("keras", "save", "resnet50", 34.0, size=103_199_303, weights=102_546_848.0),
)


def test_the_checkpoint_table_has_mb_per_s_the_file_size_and_whether_reads_came_from_disk():
    table = checkpoint_table(CHECKPOINTS)
    assert table["format"].tolist()[:2] == ["tf.train.Checkpoint", "tf.train.Checkpoint"]
    assert table["file size"].tolist()[2] == "97.8 MiB"
    assert table["MB/s (weights)"].tolist()[3] == 900.0
    assert table["read from disk"].tolist() == [None, True, None, True, None]
    assert table["MB/s (file)"].iloc[4] == pytest.approx(34.0 * 103_199_303 / 102_546_848)


def test_checkpoint_findings_use_the_largest_model_per_device():
    assert checkpoint_lines(CHECKPOINTS) == [
        "Checkpoints of the ResNet-50 on CPU:0, to the disk of /data/results: Keras .keras save 34 MB/s "
        "(98.4 MiB file); tf.train.Checkpoint save 410 / restore 900 MB/s (97.8 MiB file)."
    ]


def dispatch(mode, per_step, ops, *, backend="tensorflow", device="CPU:0"):
    return {
        "workload": "dispatch",
        "backend": backend,
        "device": device,
        "mode": mode,
        "us_per_step": per_step,
        "ops_per_step": ops,
        "us_per_op": per_step / ops,
        "throughput": 1e6 / per_step,
        "throughput_unit": "steps/s",
        "work_per_call": 20.0,
    }


DISPATCH = frame(
    dispatch("eager", 15400.0, 154),
    dispatch("function", 770.0, 154),
    dispatch("function-loop", 154.0, 154),
    dispatch("eager", 252.0, 63, backend="torch"),
)


def test_the_dispatch_table_puts_each_mode_against_eager_on_its_own_backend():
    table = dispatch_table(DISPATCH)
    assert table["mode"].tolist() == ["eager", "tf.function per step", "a tf.function loop", "eager"]
    assert table["µs per op"].tolist() == pytest.approx([100.0, 5.0, 1.0, 4.0])
    assert table["eager/this (per op)"].tolist() == pytest.approx([1.0, 20.0, 100.0, 1.0])
    assert table["device"].tolist() == ["tensorflow CPU:0"] * 3 + ["torch CPU:0"]


def test_dispatch_findings_give_eager_per_op_and_the_ratio():
    assert dispatch_lines(DISPATCH) == [
        "Eager dispatch on tensorflow CPU:0: 100 µs per op (154 ops, 15.4 ms per Adam step) against 5 µs with "
        "tf.function per step (20.0x less) and 1 µs with a tf.function loop (100.0x less).",
        "Eager dispatch on torch CPU:0: 4 µs per op (63 ops, 252 µs per Adam step).",
    ]
    tf_only = dispatch_lines(DISPATCH[DISPATCH["backend"] == "tensorflow"])
    assert tf_only[0].startswith("Eager dispatch (tensorflow) on CPU:0: 100 µs per op")


def test_headlines_and_the_page_carry_the_new_findings_and_tables():
    everything = pd.concat([INFERENCE, CHECKPOINTS, DISPATCH], ignore_index=True)
    tidy_columns = [c for c in BASE_COLUMNS + STAT_COLUMNS + META_COLUMNS if c not in everything.columns]
    everything = everything.reindex(columns=[*everything.columns, *tidy_columns])  # as reports.load.tidy makes it
    lines = sections.headlines(everything)
    assert set(serving_lines(everything)) <= set(lines)
    titles = [t.title for t in page.serving_tables(everything)]
    assert titles == [
        "Inference latency, batch 1 (percentiles, not a mean)",
        "Checkpoint save and restore",
        "Eager dispatch overhead",
    ]
    generic = [t.title for t in page.throughput_tables(everything)]
    assert generic == ["inference: throughput (samples/s), median of the rounds"]  # the others have their own


def test_runs_without_serving_cases_have_no_serving_findings_and_do_not_fail() -> None:
    # A run of matmul and MNIST alone has a batch_size column but no `model`: the findings once raised KeyError.
    from pathlib import Path

    from reports.load import read_runs, tidy
    from reports.serving import serving_lines

    runs, _ = read_runs([Path(__file__).parent / "data" / "compare" / "baseline"])
    frame = tidy(runs)
    assert "batch_size" in frame.columns and not (frame["workload"] == "inference").any()
    assert serving_lines(frame) == []


def test_the_golden_latency_table_quotes_each_requests_percentiles():
    """mixedbox's batch-1 requests of both backends on its GPU: the table's milliseconds are the files' seconds."""
    run = read_run(MIXED)
    recorded = sorted(
        (info.extras["latency_p50_s"] * 1e3, info.extras["latency_p99_s"] * 1e3, info.extras["requests"])
        for info in (b.extra_info for b in run.record.benchmarks)
        if info.workload == "inference" and info.params["batch_size"] == 1
    )
    table = latency_table(tidy([run]))
    shown = sorted(zip(table["p50 (ms)"], table["p99 (ms)"], table["requests"], strict=True))
    assert len(shown) == len(recorded) == 7  # the book model in every mode, ResNet-50 in the smoke profile's fast ones
    for got, want in zip(shown, recorded, strict=True):
        assert got == pytest.approx(want)
    assert set(table["device"]) == {"tensorflow GPU:0", "torch GPU:0"}
    assert (table["p99/p50"] > 1).all()  # single requests have a tail


def test_the_golden_dispatch_and_checkpoint_findings_quote_the_laptops_cases():
    run = read_run(LAPTOP)
    cases = {b.name: b.extra_info for b in run.record.benchmarks}
    eager = cases["test_dispatch[tensorflow-CPU:0-eager-s20]"].extras
    loop = cases["test_dispatch[tensorflow-CPU:0-function-loop-s20]"].extras
    (line,) = dispatch_lines(tidy([run]))
    per_op = fmt.fmt_number(eager["us_per_op"])  # one backend ran: it is named once, after the workload
    assert line.startswith(f"Eager dispatch (tensorflow) on CPU:0: {per_op} µs per op ({eager['ops_per_step']} ops")
    ratio = eager["us_per_op"] / loop["us_per_op"]
    assert f"{fmt.fmt_number(loop['us_per_op'])} µs with a tf.function loop ({fmt.fmt_ratio(ratio)} less)" in line
    (saved,) = checkpoint_lines(tidy([run]))
    save = cases["test_checkpoint[tensorflow-CPU:0-tf-checkpoint-save-book]"]
    assert f"to the disk of {save.extras['directory']}:" in saved
    assert f"tf.train.Checkpoint save {fmt.fmt_number(save.throughput)} / restore " in saved
