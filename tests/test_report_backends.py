"""TensorFlow vs PyTorch in the reports: ratio arithmetic and labels from literal frames, and the golden mixed run."""

from __future__ import annotations

import math
import re
import statistics

import pandas as pd
import pytest

from bench.workloads.matmul import FP8
from reports import backends as bk
from reports import cli, envelope, fmt, labels, plots, sections, summary
from reports import speedup as sp
from reports.load import read_run, tidy
from results_format import read
from tests.golden_runs import GPUBOX, MIXED, WORKSTATION


def throughput(case: str) -> float:
    """The throughput of one case of the golden run with both backends, by its pytest id."""
    (bench,) = (b for b in read(MIXED).benchmarks if b.name == case)
    assert bench.extra_info.throughput is not None
    return bench.extra_info.throughput


def matmul_speedup(backend: str, n: int) -> str:
    """GPU/CPU float32 matmul speedup of one backend of the mixed run, as the report writes it."""
    gpu, cpu = (throughput(f"test_matmul[{backend}-{d}:0-n{n}-float32]") for d in ("GPU", "CPU"))
    return fmt.fmt_ratio(gpu / cpu)


def row(backend: str, device: str, workload: str, throughput: float | None, host: str = "box", **keys) -> dict:
    """One tidy row of a case (a latency case where throughput is None)."""
    return {
        "host": host,
        "run": f"r-{host}",
        "backend": backend,
        "device": device,
        "device_kind": device.split(":")[0].lower(),
        "device_name": device,
        "workload": workload,
        "name": f"{backend}-{device}-{workload}-{sorted(keys.items())}",
        "measure": "throughput" if throughput is not None else "latency",
        "throughput": throughput,
        "throughput_unit": {"matmul": "GFLOP/s", "mnist": "samples/s", "transfer": "GB/s"}[workload]
        if throughput is not None
        else None,
        "iqr_rel": 0.01,
        **keys,
    }


def mixed_frame() -> pd.DataFrame:
    """Both backends on CPU:0 and GPU:0: matmul, MNIST (one shared mode each), copies (torch's CPU one shares)."""
    rows = [
        row("tensorflow", "CPU:0", "matmul", 100.0, n=512, dtype="float32"),
        row("torch", "CPU:0", "matmul", 150.0, n=512, dtype="float32"),
        row("tensorflow", "CPU:0", "matmul", 400.0, n=1024, dtype="float32"),
        row("torch", "CPU:0", "matmul", 200.0, n=1024, dtype="float32"),
        row("tensorflow", "GPU:0", "matmul", 10000.0, n=1024, dtype="float32"),
        row("torch", "GPU:0", "matmul", 10200.0, n=1024, dtype="float32"),
        row("tensorflow", "GPU:0", "matmul", 5000.0, n=1024, dtype="float16"),  # torch has no float16 case
        row("tensorflow", "GPU:0", "mnist", 50000.0, mode="eager", batch_size=64),
        row("torch", "GPU:0", "mnist", 80000.0, mode="eager", batch_size=64),
        row("tensorflow", "GPU:0", "mnist", 90000.0, mode="function", batch_size=64),
        row("torch", "GPU:0", "mnist", 95000.0, mode="compile", batch_size=64),
        row("tensorflow", "CPU:0", "transfer", 8.0, direction="h2d", bytes=1024, host_memory="pageable"),
        row("torch", "CPU:0", "transfer", None, direction="h2d", bytes=1024, host_memory="pageable"),  # a latency
    ]
    return pd.DataFrame(rows)


def test_ratios_pair_the_same_case_on_the_same_device():
    ratios = bk.backend_ratios(mixed_frame())
    got = [
        (r.device, r.workload, r.n if r.workload == "matmul" else r.mode if r.workload == "mnist" else r.direction)
        for r in ratios.itertuples()
    ]
    assert got == [
        ("CPU:0", "matmul", 512),
        ("CPU:0", "matmul", 1024),
        ("CPU:0", "transfer", "h2d"),
        ("GPU:0", "matmul", 1024),
        ("GPU:0", "mnist", "eager"),
    ]  # float16 matmul and the backend-only MNIST modes have no partner
    assert list(ratios["ratio"]) == pytest.approx([1.5, 0.5, math.nan, 1.02, 1.6], nan_ok=True)
    assert list(ratios[bk.TF]) == [100.0, 400.0, 8.0, 10000.0, 50000.0]
    assert list(ratios[bk.TORCH]) == pytest.approx([150.0, 200.0, math.nan, 10200.0, 80000.0], nan_ok=True)


def test_a_copy_against_a_shared_buffer_is_not_comparable():
    ratios = bk.backend_ratios(mixed_frame())
    copies = ratios[ratios["workload"] == "transfer"].iloc[0]
    assert not copies["comparable"]
    assert copies["note"] == "PyTorch shares the buffer (no copy)"
    assert copies["throughput_unit"] == "GB/s"
    assert ratios[ratios["workload"] != "transfer"]["comparable"].all()
    frame = mixed_frame()
    both_share = frame.assign(throughput=frame["throughput"].where(frame["workload"] != "transfer"))
    both_share["measure"] = both_share["throughput"].map(lambda t: "latency" if pd.isna(t) else "throughput")
    copies = bk.backend_ratios(both_share).query("workload == 'transfer'").iloc[0]
    assert not copies["comparable"] and copies["note"] == "both share the buffer (no copy)"


def test_no_ratios_when_one_backend_ran():
    tf_only = mixed_frame().query("backend == 'tensorflow'")
    assert not bk.both_ran(tf_only)
    assert bk.backend_ratios(tf_only).empty
    assert summary.backend_lines(tf_only) == []
    assert summary.backend_table(tf_only).empty


@pytest.mark.parametrize(
    ("workload", "keys", "text"),
    [
        ("scaling", {"model": "mnist", "image_size": 28, "replicas": 2, "global_batch": 256}, "mnist r2 b256"),
        (
            "scaling",
            {"model": "resnet50", "image_size": 64, "replicas": 1, "global_batch": 256},
            "resnet50 64px r1 b256",
        ),
        ("allreduce", {"bytes": 2**20, "replicas": 2}, "1 MiB r2"),
        (
            "checkpoint",
            {"format": "torch-state-dict", "direction": "save", "model": "book"},
            "torch-state-dict save book",
        ),
        ("tfdata", {"variant": "fed-step", "batch_size": 1000}, "fed-step b1000"),
    ],
)
def test_every_workload_names_its_case_in_the_findings(workload, keys, text):
    assert labels.case_text(pd.Series({"workload": workload, **keys})) == text


def test_the_multi_device_comparisons_name_their_extreme_cases():
    lines = summary.backend_lines(tidy([read_run(WORKSTATION)]))
    multi = [line for line in lines if "data-parallel" in line or "all-reduce" in line]
    assert len(multi) == 2 and not any("()" in line for line in multi)


def test_faster_and_summarize_arithmetic():
    assert bk.faster(2.0) == ("torch", 2.0)
    assert bk.faster(0.25) == ("tensorflow", 4.0)
    stats = bk.summarize(pd.Series([2.0, 0.5, 4.0]))
    assert stats["gmean"] == pytest.approx(math.pow(4.0, 1 / 3))
    assert (stats["low"], stats["high"], stats["torch_wins"], stats["cases"]) == (0.5, 4.0, 2, 3)
    assert summary.faster_text(1.02) == "about the same"
    assert summary.faster_text(0.5) == "tensorflow 2.0x"
    assert summary.faster_text(13.09) == "torch 13.1x"


def test_backend_lines_from_literal_ratios():
    lines = summary.backend_lines(mixed_frame())
    assert lines == [
        "TensorFlow vs PyTorch, matmul on CPU:0: tensorflow is 1.2x faster (geometric mean of 2 cases); "
        "torch/TF ranges from 0.5x (n=1024 float32) to 1.5x (n=512 float32); torch is faster in 1 of 2.",
        "TensorFlow vs PyTorch, host-device copies on CPU:0: not compared, PyTorch shares the buffer (no copy) "
        "in 1 of 1 cases.",
        "TensorFlow vs PyTorch, matmul on GPU:0 (n=1024 float32): both are about as fast (torch/TF 1.02x).",
        "TensorFlow vs PyTorch, MNIST training on GPU:0 (eager b64): torch is 1.6x faster.",
    ]


def test_backend_table_blanks_ratios_that_compare_different_work():
    table = summary.backend_table(mixed_frame())
    assert list(table.columns) == [
        "device", "workload", "case", "tensorflow", "torch", "unit", "torch/TF", "faster", "note",
    ]  # fmt: skip
    copies = table[table["workload"] == "transfer"].iloc[0]
    assert copies["case"] == "h2d pageable 1 KiB" and math.isnan(copies["torch/TF"]) and copies["faster"] == ""
    assert list(table["faster"][table["workload"] == "matmul"]) == ["torch 1.5x", "tensorflow 2.0x", "about the same"]


def test_device_labels_say_the_backend_only_when_several_ran():
    frame = mixed_frame()
    assert list(labels.device_labels(frame.query("backend == 'torch'")).unique()) == ["CPU:0", "GPU:0"]
    assert set(labels.device_labels(frame)) == {"tensorflow CPU:0", "torch CPU:0", "tensorflow GPU:0", "torch GPU:0"}
    two_hosts = pd.DataFrame(
        [row("tensorflow", "GPU:0", "matmul", 1.0, host="a", n=1), row("torch", "GPU:0", "matmul", 1.0, host="b", n=1)]
    )
    assert list(labels.device_labels(two_hosts)) == ["a tensorflow GPU:0", "b torch GPU:0"]


def test_findings_and_speedups_are_per_backend():
    frame = tidy([read_run(MIXED)])
    lines = sections.headlines(frame)
    verdicts = envelope.envelope_lines(frame)  # first: each GPU against the best published figures for its SKU
    assert lines[: len(verdicts)] == verdicts and verdicts[0].startswith("Is tensorflow GPU:0 (NVIDIA H100 80GB HBM3)")
    lines = lines[len(verdicts) :]
    tf, torch = matmul_speedup("tensorflow", 1024), matmul_speedup("torch", 1024)
    assert lines[0].startswith(f"tensorflow: GPU:0 is {tf} faster than CPU:0 at n=1024 (float32 matmul)")
    assert lines[1].startswith(f"torch: GPU:0 is {torch} faster than CPU:0 at n=1024 (float32 matmul)")
    mnist = {
        mode: fmt.fmt_ratio(
            throughput(f"test_mnist[torch-GPU:0-{mode}-b64-s30]")
            / throughput(f"test_mnist[torch-CPU:0-{mode}-b64-s30]")
        )
        for mode in ("compile", "eager")
    }
    torch_mnist = f"MNIST training, torch: GPU:0 is {mnist['compile']} (compile), {mnist['eager']} (eager) as fast"
    assert any(line.startswith(torch_mnist) for line in lines)
    cpu_only = frame[frame["device_kind"] == "cpu"]
    peaks = {
        backend: fmt.fmt_number(throughput(f"test_matmul[{backend}-CPU:0-n1024-float32]"))
        for backend in ("tensorflow", "torch")
    }  # the largest size the smoke profile runs on a CPU
    assert [line for line in summary.matmul_lines(cpu_only) if line.startswith("No GPU")] == [
        f"No GPU in run {MIXED.name}: tensorflow CPU:0 peaks at {peaks['tensorflow']} GFLOP/s (n=1024, float32).",
        f"No GPU in run {MIXED.name}: torch CPU:0 peaks at {peaks['torch']} GFLOP/s (n=1024, float32).",
    ]


@pytest.fixture(scope="module")
def mixed_page(golden_page) -> str:
    """The report of the golden run with both backends (built once a session: tests/conftest.py)."""
    return golden_page(MIXED).read_text()


def test_mixed_report_has_the_tensorflow_vs_pytorch_section(mixed_page):
    html = mixed_page
    assert '<a href="#versus">TensorFlow vs PyTorch</a>' in html
    section = html[html.index('<section id="versus">') : html.index('<section id="plots">')]
    assert '<figure id="plot-versus">' in section and 'src="data:image/svg+xml;base64,' in section
    assert "<th>device</th><th>workload</th><th>case</th>" in section
    tf_faster = fmt.fmt_ratio(
        throughput("test_matmul[tensorflow-GPU:0-n2048-float32]") / throughput("test_matmul[torch-GPU:0-n2048-float32]")
    )  # TensorFlow's float32 takes TF32 by default, torch's does not
    assert re.search(
        rf"<td>GPU:0</td><td>matmul</td><td>n=2048 float32</td>.*?<td>tensorflow {re.escape(tf_faster)}</td>", section
    )
    tf_copy = fmt.fmt_number(throughput("test_transfer[tensorflow-CPU:0-h2d-pageable-1MiB]"))
    assert (
        f'<tr><td>CPU:0</td><td>transfer</td><td>h2d pageable 1 MiB</td><td class="num">{tf_copy}</td>'
        '<td class="num"></td><td>GB/s</td><td class="num"></td><td></td><td>PyTorch shares the buffer (no copy)</td>'
        "</tr>" in section
    )  # torch's CPU hand-over is a latency case: shown, not given a ratio
    assert (
        "TensorFlow vs PyTorch, host-device copies on CPU:0: not compared, PyTorch shares the buffer (no copy) "
        "in 4 of 4 cases." in html
    )
    assert gpu_matmul_line() in html


def gpu_matmul_line() -> str:
    """The finding on the GPU's matmuls of the mixed run, computed from its torch and TensorFlow throughputs."""
    ratios = {}
    for bench in read(MIXED).benchmarks:
        info = bench.extra_info
        if info.workload == "matmul" and info.device == "GPU:0" and info.backend == "torch":
            if info.params["dtype"] == FP8:
                continue  # TensorFlow has no FP8 matmul to compare with
            n, dtype = info.params["n"], info.params["dtype"]
            tf = throughput(f"test_matmul[tensorflow-GPU:0-n{n}-{dtype}]")
            ratios[f"n={n} {dtype}"] = throughput(bench.name) / tf
    low, high = min(ratios, key=ratios.get), max(ratios, key=ratios.get)
    mean = statistics.geometric_mean(ratios.values())
    winner = f"torch is {fmt.fmt_ratio(mean)}" if mean >= 1 else f"tensorflow is {fmt.fmt_ratio(1 / mean)}"
    wins = sum(r > 1 for r in ratios.values())
    return (
        f"TensorFlow vs PyTorch, matmul on GPU:0: {winner} faster (geometric mean of {len(ratios)} cases); torch/TF "
        f"ranges from {fmt.fmt_ratio(ratios[low])} ({low}) to {fmt.fmt_ratio(ratios[high])} ({high}); "
        f"torch is faster in {wins} of {len(ratios)}."
    )


def test_mixed_report_tables_say_the_backend(mixed_page):
    html = mixed_page
    assert '<th class="num">tensorflow CPU:0</th><th class="num">tensorflow GPU:0</th>' in html
    assert "<th>host</th><th>backend</th><th>gpu</th><th>cpu</th>" in html  # the speedup table
    assert "<th>host</th><th>backend</th><th>device</th><th>case</th>" in html  # all cases
    assert "<th>host</th><th>backend</th><th>device</th><th>workload</th>" in html  # skipped cases


def test_one_backend_page_has_no_backend_section_or_columns(golden_page):
    html = golden_page(GPUBOX).read_text()
    assert 'id="versus"' not in html and "TensorFlow vs PyTorch" not in html
    assert "<th>backend</th>" not in html and "tensorflow GPU:0" not in html


def test_versus_plot_explains_when_there_is_nothing_to_compare():
    plot = plots.versus(mixed_frame().query("backend == 'tensorflow'"))
    assert plot.image is None and plot.why_not.endswith(".")
    assert plots.versus(mixed_frame()).image.startswith("data:image/svg+xml;base64,")


def test_backend_palette_gives_each_backend_a_colour_family():
    frame = mixed_frame().assign(device_label=lambda f: labels.device_labels(f))
    palette = plots.backend_palette(frame)
    assert set(palette) == {"tensorflow CPU:0", "tensorflow GPU:0", "torch CPU:0", "torch GPU:0"}
    blue, orange = palette["tensorflow GPU:0"], palette["torch GPU:0"]
    assert blue[2] > blue[0] and orange[0] > orange[2]


def test_summary_cli_prints_the_comparison_and_backend_columns(capsys):
    assert cli.main(["summary", str(MIXED)]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "TensorFlow vs PyTorch, same case on the same device" in out
    assert "torch/TF" in out and "tensorflow 1.3x" in out
    eager = fmt.fmt_ratio(
        throughput("test_mnist[torch-GPU:0-eager-b64-s30]") / throughput("test_mnist[tensorflow-GPU:0-eager-b64-s30]")
    )
    assert f"TensorFlow vs PyTorch, MNIST training on GPU:0 (eager b64): torch is {eager} faster." in out


def test_speedups_pair_gpu_and_cpu_within_one_backend():
    frame = pd.DataFrame(
        [
            row("tensorflow", "CPU:0", "matmul", 100.0, n=1024, dtype="float32"),
            row("tensorflow", "GPU:0", "matmul", 3000.0, n=1024, dtype="float32"),
            row("torch", "CPU:0", "matmul", 200.0, n=1024, dtype="float32"),
            row("torch", "GPU:0", "matmul", 4000.0, n=1024, dtype="float32"),
        ]
    )
    speed = sp.speedups(frame)
    assert list(zip(speed["backend"], speed["speedup"], strict=True)) == [("tensorflow", 30.0), ("torch", 20.0)]
    assert [line.split(" at ")[0] for line in summary.matmul_lines(frame)] == [
        "tensorflow: GPU:0 is 30.0x faster than CPU:0",
        "torch: GPU:0 is 20.0x faster than CPU:0",
    ]
