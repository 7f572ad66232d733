"""The first real GPU run (tests/data/real/20261126-h200: torch on one H200) read, summarised and reported.

Next to the scripted golden runs, this data came from real hardware: NVML fields, SKU detection and the timings
of a real driver. Each defect the run showed has a test here.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import pytest

from bench.workloads.mnist_amp import amp_check
from reports import limits
from reports.fmt import fmt_number
from reports.load import read_runs, tidy
from reports.sections import headlines
from reports.summary_cmd import run as summary_run

REAL = Path(__file__).parent / "data" / "real" / "20261126-h200"
RUNS = [REAL / "main", REAL / "peaks", REAL / "peaks-tf32"]


@pytest.fixture(scope="module")
def frame():
    """The tidy frame of the three runs, with the limit columns."""
    runs, _ = read_runs(RUNS)
    return tidy(runs)  # tidy adds the hardware and limit columns (peaks, % of peak, work per joule)


def test_the_real_runs_are_readable_and_the_cut_one_says_so() -> None:
    runs, bad = read_runs(RUNS)
    assert not bad
    main = runs[0]
    assert not main.complete and main.record.devicebench.run.state == "interrupted"
    assert len(main.record.benchmarks) == 115
    gpu = next(d for d in main.record.machine_info.devicebench.devices if d.kind == "gpu")
    assert gpu.model == "NVIDIA H200" and gpu.sku is not None and gpu.sku.id == "h200-sxm"
    assert main.record.machine_info.devicebench.nvidia_driver == "580.159.04"


def test_every_gpu_case_has_nvml_samples_and_the_memory_peak_is_real() -> None:
    runs, _ = read_runs([REAL / "main"])
    gpu_cases = [b for b in runs[0].record.benchmarks if b.extra_info.device_kind == "gpu"]
    samples = [g.samples for b in gpu_cases for g in (b.extra_info.nvml or {}).values()]
    assert len(samples) == len(gpu_cases) and min(samples) >= 2
    peak = max(g.peak_mem_mib or 0 for b in gpu_cases for g in (b.extra_info.nvml or {}).values())
    assert 10_000 < peak < 143_771  # MiB: a ResNet-50 training case, below the card's memory


def test_each_peak_gets_its_own_finding(frame) -> None:
    # Defect: only the best case's peak was named, so bf16/fp16/TF32 had no "% of peak" line.
    lines = [line for line in limits.limit_lines(frame) if line.startswith("Matmul on GPU:0")]
    bases = ["FP32 CUDA-core", "FP16 tensor-core", "BF16 tensor-core", "TF32 tensor-core"]
    assert [any(b in line for line in lines) for b in bases] == [True] * 4
    tf32 = next(line for line in lines if "TF32 tensor-core" in line)
    assert "TF32 on" in tf32 and "of 494,500 GFLOP/s" in tf32


def test_float32_with_tf32_on_is_not_mixed_with_strict_float32(frame) -> None:
    # Defect: the TF32 run's float32 cases were averaged with the strict ones (a 200 TFLOP/s "float32" line).
    ceilings = limits.roofline_ceilings(frame)
    gpu = ceilings[ceilings["device_label"] == "GPU:0"].set_index("dtype")
    assert gpu.loc["float32", "measured GFLOP/s"] == pytest.approx(53_240, rel=0.01)
    assert gpu.loc["float32 (TF32)", "measured GFLOP/s"] == pytest.approx(359_001, rel=0.01)
    strict = frame[
        (frame["workload"] == "matmul") & (frame["precision_label"] == "float32") & (frame["device_kind"] == "gpu")
    ]
    assert strict["throughput"].max() < 60_000


def test_a_throughput_just_under_a_thousand_does_not_read_1e03() -> None:
    # Defect: ResNet-50 float32 at 999.6 images/s was shown as "1e+03".
    assert fmt_number(999.6) == "1,000"
    assert fmt_number(998.4) == "998"


def test_a_large_batch_mixed_precision_case_whose_loss_rose_is_not_a_failure() -> None:
    # Defect: float32 at batch 1024 went from 2.514 to 2.597 in 150 Adam steps and was recorded as an error.
    assert amp_check({"batch_size": 1024, "initial_loss": 2.514, "final_loss": 2.597}) is None
    assert "diverged" in amp_check({"batch_size": 1024, "initial_loss": 2.5, "final_loss": math.nan})
    assert "did not learn" in amp_check({"batch_size": 64, "initial_loss": 2.5, "final_loss": 2.6})


def test_the_summary_names_the_cut_run_once_and_gives_the_gpu_findings(capsys) -> None:
    # Defect: each note was printed twice (before the findings and again after them).
    assert summary_run(argparse.Namespace(paths=[str(p) for p in RUNS])) == 0
    out = capsys.readouterr().out
    assert out.count("incomplete (interrupted)") == 1
    assert "GPU:0 is 42.4x faster than CPU:0 at n=4096" in out
    assert "Memory bandwidth on GPU:0" in out and "of the spec's 4,800 GB/s" in out


def test_the_report_of_the_real_runs_builds(golden_page, frame) -> None:
    html = golden_page(*RUNS).read_text()  # `python -m reports RUN... -o`: the build command's own defaults
    for section in ('id="limits"', 'id="per-watt"', "Roofline", "NVIDIA H200"):
        assert section in html
    assert headlines(frame)  # findings exist for the real data
