"""GPU health as users see it: the golden faulty host, the summary's and report's first lines, compare, fleet,
--concurrent's stragglers, the optional tools (fake dcgmi and nvbandwidth on PATH) and --concurrent on a CPU host."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from bench.concurrent import _figure, standings
from bench.health_tools import dcgm_diag, nvbandwidth, nvbandwidth_matrices
from reports import cli
from reports.build_cmd import write_report
from reports.fleet import likely_causes
from reports.health import EXIT_UNHEALTHY_SIDE, health_badge, summary_lines
from reports.load import read_run
from tests.golden_runs import derive
from tests.window_runs import scaled_window

DATA = Path(__file__).parent / "data"
SICKBOX = DATA / "health" / "20261127-090000-sickbox"
NODE_E = DATA / "health" / "20261124-032000-node-e"
NODE_F = DATA / "health" / "20261124-032500-node-f"
REPO = Path(__file__).resolve().parents[1]


def cli_run(*args: str) -> tuple[int, str, str]:
    """`python -m reports ARGS` in-process; exit code, stdout, stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(list(args))
    return code, out.getvalue(), err.getvalue()


# --- the golden faulty host, written by the real plugin ----------------------------------------------------


def test_the_faulty_host_is_unhealthy_with_each_fault_as_a_fact() -> None:
    health = read_run(SICKBOX).record.devicebench.health
    assert health is not None and health.verdict == "unhealthy"
    assert [(f.gpu, f.level, f.check) for f in health.facts] == [
        (2, "unhealthy", "remap_pending"),
        (3, "degraded", "pcie_link"),
        (6, "unhealthy", "xid"),
    ]
    assert health.reason == (
        "GPU 2: a row remap is pending: reset the GPU before trusting its numbers; "
        "GPU 6: XID 79 (GPU has fallen off the bus) during the run"
    )
    assert health.xid_watch == "critical XIDs watched on 8 GPUs"


def test_the_8_gpu_host_names_gpu_5_as_the_straggler_of_both_workloads() -> None:
    health = read_run(SICKBOX).record.devicebench.health
    assert health is not None and health.concurrent is not None
    assert [(c.workload, c.unit, c.stragglers) for c in health.concurrent] == [
        ("matmul", "TFLOP/s", ["GPU:5"]),
        ("membw", "GB/s", ["GPU:5"]),
    ]
    gpu5 = health.concurrent[0].gpus[5]
    assert gpu5.vs_median is not None and -0.13 < gpu5.vs_median < -0.10
    assert gpu5.reason.startswith("11.") and "% below the median (" in gpu5.reason


def test_a_healthy_golden_run_and_an_old_file_have_their_badges() -> None:
    assert health_badge(read_run(DATA / "runs" / "20261121-120000-gpubox")) == (
        "healthy",
        "1 GPU: no error counters, links and power limits at their maximum",
    )
    assert health_badge(read_run(SICKBOX))[0] == "unhealthy"
    old = read_run(DATA / "compare" / "baseline").record
    old = old.model_copy(update={"devicebench": old.devicebench.model_copy(update={"health": None})})
    assert health_badge(old) == ("unchecked", "not recorded (the run predates health checks)")


# --- summary and report: health first -------------------------------------------------------------------------


def test_the_summary_says_health_first(capsys: pytest.CaptureFixture) -> None:
    code, out, _ = cli_run("summary", str(SICKBOX))
    assert code == 0
    bullets = [line for line in out.splitlines() if line.startswith("• ")]
    assert bullets[0].startswith("• health: UNHEALTHY: GPU 2: a row remap is pending")
    assert bullets[1].startswith(
        "• health: GPU:5 is a straggler in matmul at 692.6 vs the host's median 782.1 TFLOP/s (all GPUs at once): 11."
    )
    assert bullets[2].startswith("• health: GPU:5 is a straggler in membw")


def test_a_cpu_only_run_has_no_health_line() -> None:
    assert summary_lines([read_run(DATA / "runs" / "20261120-090000-laptop")]) == []


def test_the_report_shows_health_before_the_findings(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert write_report([read_run(SICKBOX)], tmp_path / "report.html") == 0
    html = (tmp_path / "report.html").read_text()
    assert html.index("GPU health: UNHEALTHY") < html.index('<section id="findings">')
    assert "Also degraded: GPU 3: PCIe link at Gen4 x8, below the Gen5 x16 it supports" in html
    assert "not reported by the driver: nvlink (Not Supported) on GPU 0, 1, 2, 3, 4, 5, 6, 7" in html


# --- compare: no regression called on an unhealthy side ------------------------------------------------------


def make_unhealthy(data: dict[str, Any]) -> None:
    """A run whose GPU had a pending row remap (the verdict bench.health writes)."""
    data["devicebench"]["health"] = {
        "verdict": "unhealthy",
        "reason": "GPU 0: a row remap is pending: reset the GPU before trusting its numbers",
    }


def test_compare_refuses_to_call_a_regression_on_an_unhealthy_side(tmp_path: Path) -> None:
    base = DATA / "compare" / "baseline"
    sick = derive(DATA / "compare" / "regressed", tmp_path / "regressed", make_unhealthy)
    history = scaled_window(tmp_path / "history", base)
    verdicts = tmp_path / "verdicts.json"
    code, out, err = cli_run("compare", str(base), str(sick), "--history", str(history), "--json", str(verdicts))
    assert code == EXIT_UNHEALTHY_SIDE == 3
    document = json.loads(verdicts.read_text())
    assert (document["exit_code"], document["health"]["unhealthy_sides"]) == (3, ["current"])
    assert out.startswith("**Health: the current ran on an unhealthy host** (current: GPU 0: a row remap is pending")
    regressed = [line for line in out.splitlines() if line.startswith("| ") and "regression" in line]
    assert regressed and all("not called a regression: the current host was unhealthy" in r for r in regressed)
    assert "warning: Health: the current ran on an unhealthy host" in err


def test_compare_of_healthy_runs_is_unchanged(tmp_path: Path) -> None:
    base = DATA / "compare" / "baseline"
    history = scaled_window(tmp_path / "history", base)
    code, out, _ = cli_run("compare", str(base), str(DATA / "compare" / "regressed"), "--history", str(history))
    assert code == 1
    assert "Health:" not in out


# --- fleet: unhealthy hosts on their own, stragglers, health among the causes --------------------------------


def test_fleet_flags_the_unhealthy_host_and_names_the_straggler() -> None:
    fleet_runs = sorted(str(p) for p in (DATA / "fleet").iterdir())
    code, out, _ = cli_run("fleet", *fleet_runs, str(NODE_E), str(NODE_F))
    assert code == 1
    assert "unhealthy: node-e" in out.splitlines()[0]
    assert "- node-e: GPU 0: a row remap is pending: reset the GPU before trusting its numbers" in out
    assert "- node-f: GPU:5 in matmul at 131.3 vs 149.6 TFLOP/s: 12.2% below the median" in out
    assert "GPU:1" not in out.split("**Stragglers**")[1].split("|")[0]  # 0.6 % below is noise, not a straggler
    assert "slow: node-c" in out.splitlines()[0]  # the slow host is still judged by its speed


def test_health_is_the_first_likely_cause() -> None:
    facts = pd.DataFrame(
        {"health": ["unhealthy", "healthy", "healthy", "healthy"], "nvidia_driver": ["550"] * 4},
        index=["a", "b", "c", "d"],
    )
    assert likely_causes(facts, "a", ["b", "c", "d"], gpu=True) == [
        "GPU health (bench.health): unhealthy (peers: healthy on 3 of 3 hosts)"
    ]


# --- --concurrent: the statistics and the worker's output -----------------------------------------------------


def test_a_gpu_12_percent_below_the_median_of_eight_is_a_straggler() -> None:
    figures = {f"GPU:{i}": 780.0 + i for i in range(8)}
    figures["GPU:5"] = 0.88 * 784.0
    check = standings("matmul", "TFLOP/s", figures)
    assert check.stragglers == ["GPU:5"]
    assert check.gpus[5].reason.startswith("11.") and "MADs)" in check.gpus[5].reason
    assert not any(g.straggler for g in check.gpus if g.device != "GPU:5")


def test_identical_gpus_have_no_straggler_and_a_floored_spread() -> None:
    figures = {"GPU:0": 100.0, "GPU:1": 100.0, "GPU:2": 99.4, "GPU:3": None}
    check = standings("membw", "GB/s", figures, {"GPU:3": "out of memory"})
    assert check.stragglers == [] and check.mad == 0.0
    assert [g.robust_z for g in check.gpus] == [0.0, 0.0, -0.6, None]  # the spread is at least 1 % of the median
    assert check.gpus[3].reason == "out of memory"


def test_a_worker_that_fails_gives_its_reason() -> None:
    assert _figure('{"figure": 12.5}\n', "", 0) == (12.5, "")
    assert _figure('{"error": "RuntimeError: CUDA out of memory"}\n', "", 1) == (
        None,
        "RuntimeError: CUDA out of memory",
    )
    assert _figure("", "Traceback ...\nImportError: no torch\n", 1) == (
        None,
        "the worker exited 1: ImportError: no torch",
    )


def test_concurrent_on_a_cpu_only_host_says_it_needs_gpus_and_exits_2() -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO), "DEVICEBENCH_FAKE_HOST": "laptop"}
    command = [sys.executable, "-m", "pytest", "bench", "-p", "tests.golden_plugin", "-p", "no:cacheprovider"]
    proc = subprocess.run(
        [*command, "--concurrent", "--co", "-q"], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 2
    assert "devicebench: --concurrent runs every GPU at once and needs GPUs" in proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr


# --- optional tools: fake dcgmi and nvbandwidth on PATH ------------------------------------------------------

DCGM_JSON = {
    "DCGM GPU Diagnostic": {
        "test_categories": [
            {
                "category": "Deployment",
                "tests": [
                    {"name": "Denylist", "results": [{"gpu_ids": "0", "status": "Pass"}]},
                    {"name": "NVML Library", "results": [{"gpu_ids": "0", "status": "Pass"}]},
                ],
            },
            {
                "category": "Integration",
                "tests": [
                    {"name": "PCIe", "results": [{"gpu_id": "0", "status": "Pass"}, {"gpu_id": "1", "status": "Pass"}]}
                ],
            },
        ]
    }
}
NVBANDWIDTH_OUT = """nvbandwidth Version: v0.7
Running host_to_device_memcpy_ce.
memcpy CE CPU(row) -> GPU(column) bandwidth (GB/s)
           0         1
 0     55.43     55.39

SUM host_to_device_memcpy_ce 110.82

Running device_to_host_memcpy_ce.
memcpy CE CPU(row) <- GPU(column) bandwidth (GB/s)
           0         1
 0     55.60       N/A

SUM device_to_host_memcpy_ce 55.60
"""


def tool_on_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, name: str, output: str, code: int = 0) -> None:
    """A fake executable `name` on PATH printing `output` and exiting `code`."""
    (tmp_path / f"{name}.out").write_text(output)
    script = tmp_path / name
    script.write_text(f'#!/bin/sh\ncat "{tmp_path / f"{name}.out"}"\nexit {code}\n')
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")


def test_dcgm_diag_passes_when_every_test_passes(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    tool_on_path(monkeypatch, tmp_path, "dcgmi", json.dumps(DCGM_JSON))
    record, facts = dcgm_diag(1)
    assert (record.tool, record.status, facts) == ("dcgmi diag -r 1", "pass", [])
    assert record.results == {"Denylist": "pass", "NVML Library": "pass", "PCIe": "pass"}


def test_a_failed_dcgm_test_makes_the_run_unhealthy(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    failing = json.loads(
        json.dumps(DCGM_JSON).replace('"gpu_id": "1", "status": "Pass"', '"gpu_id": "1", "status": "Fail"')
    )
    tool_on_path(monkeypatch, tmp_path, "dcgmi", json.dumps(failing), code=226)
    record, facts = dcgm_diag(2)
    assert (record.status, record.reason) == ("fail", "dcgmi diag -r 2 failed: PCIe")
    assert [(f.level, f.message) for f in facts] == [("unhealthy", "dcgmi diag -r 2 failed: PCIe")]


def test_absent_tools_are_recorded_skips(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    record, facts = dcgm_diag(1)
    assert (record.status, record.reason, facts) == ("skipped", "dcgmi is not on PATH (install NVIDIA DCGM)", [])
    assert nvbandwidth().reason == "nvbandwidth is not on PATH (build NVIDIA/nvbandwidth)"


def test_nvbandwidth_records_its_host_device_matrices(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    tool_on_path(monkeypatch, tmp_path, "nvbandwidth", NVBANDWIDTH_OUT)
    record = nvbandwidth()
    assert record.status == "pass"
    assert record.results == {
        "host_to_device_memcpy_ce": [[55.43, 55.39]],
        "device_to_host_memcpy_ce": [[55.6, None]],
    }
    assert nvbandwidth_matrices("garbage\n") == {}


def test_a_tool_that_fails_is_recorded_with_its_last_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    tool_on_path(monkeypatch, tmp_path, "nvbandwidth", "ERROR: cudaErrorNoDevice\n", code=1)
    assert (nvbandwidth().status, nvbandwidth().reason) == ("error", "exit 1: ERROR: cudaErrorNoDevice")


def test_the_plugin_records_the_tools_and_a_failed_dcgm_test_even_with_health_counters_off(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    failing = json.dumps(DCGM_JSON).replace('"gpu_id": "1", "status": "Pass"', '"gpu_id": "1", "status": "Fail"')
    tool_on_path(monkeypatch, tmp_path, "dcgmi", failing, code=226)
    env = {**os.environ, "PYTHONPATH": str(REPO), "DEVICEBENCH_FAKE_HOST": "cibox"}
    command = [sys.executable, "-m", "pytest", "bench", "-p", "tests.golden_plugin", "-p", "no:cacheprovider", "-q"]
    options = ["--results-dir", str(tmp_path / "results"), "-k", "matmul and n128 and CPU"]
    proc = subprocess.run(
        [*command, *options, "--no-health", "--dcgm-diag", "1", "--nvbandwidth"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout[-2000:]
    health = read_run(tmp_path / "results" / "latest").record.devicebench.health
    assert health is not None
    assert (health.verdict, health.reason) == ("unhealthy", "dcgmi diag -r 1 failed: PCIe")
    assert health.gpus == []  # the counters were turned off
    assert [(t.tool, t.status) for t in health.tools] == [("dcgmi diag -r 1", "fail"), ("nvbandwidth", "skipped")]


def test_a_gen4_x8_link_seen_while_a_case_ran_makes_the_run_degraded(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "DEVICEBENCH_FAKE_HOST": "cibox",
        "DEVICEBENCH_FAKE_HEALTH": "GPU:0=gen4_x8",
    }
    command = [sys.executable, "-m", "pytest", "bench", "-p", "tests.golden_plugin", "-p", "no:cacheprovider", "-q"]
    options = ["--results-dir", str(tmp_path / "results"), "-k", "matmul and n128 and GPU"]
    proc = subprocess.run([*command, *options], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-2000:]
    run = read_run(tmp_path / "results" / "latest")
    assert health_badge(run) == (
        "degraded",
        "GPU 0: PCIe link at Gen4 x8, below the Gen5 x16 it supports (25% of its bandwidth)",
    )
