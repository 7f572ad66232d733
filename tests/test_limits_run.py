"""End to end on a scripted GPU host: the real plugin writes the hardware records (tests/hardware_fake_plugin.py), and
the report shows the roofline, % of peak, link and bandwidth tables, performance per watt and sustained runs.

The runs happen once per test session, in subprocesses (the plugin, the fake backend and the fake NVML GPU are
process-wide); a screenshot of the report is kept in $DEVICEBENCH_SCREENSHOT_DIR when that is set.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from reports import cli
from reports.compare import compare
from reports.load import read_run, tidy
from results_format import read

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = Path(os.environ.get("DEVICEBENCH_CHROMIUM", "/usr/bin/chromium"))


def run_plugin(results: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The real plugin on the scripted H100 host, in a subprocess."""
    command = [
        sys.executable, "-m", "pytest", "bench/benchmarks", "-p", "tests.hardware_fake_plugin",
        "-p", "no:cacheprovider", "--backend", "fake", "--results-dir", str(results), "-q", *args,
    ]  # fmt: skip
    return subprocess.run(
        command, cwd=REPO, env={**os.environ, **(env or {})}, capture_output=True, text=True, timeout=600, check=False
    )


@pytest.fixture(scope="session")
def runs(tmp_path_factory) -> dict[str, Path]:
    """Three runs: the `roof` profile on CPU:0 and GPU:0, a short sustained run, a sustained run that corrupts."""
    root = tmp_path_factory.mktemp("limits")
    made = {
        "roof": run_plugin(root / "roof", "--profile", "roof"),
        "sustained": run_plugin(root / "sustained", "--profile", "sustained", "--sustained-minutes", "0.03"),
        "corrupt": run_plugin(
            root / "corrupt",
            *("--profile", "sustained", "--sustained-minutes", "0.01"),
            env={"DEVICEBENCH_FAKE_CORRUPT_ROUND": "3"},
        ),
    }
    for name, result in made.items():
        assert (root / name / "latest" / "benchmarks.json").is_file(), result.stdout[-3000:] + result.stderr[-3000:]
    return {name: root / name / "latest" for name in made}


def extras(run: Path) -> dict[str, dict]:
    data = json.loads((run / "benchmarks.json").read_text())
    return {b["param"]: b["extra_info"] for b in data["benchmarks"]}


def test_gpu_device_record_has_its_sku_spec_link_and_idle_power(runs) -> None:
    record = read(runs["roof"])
    facts = record.machine_info.devicebench
    gpu = next(d for d in facts.devices if d.name == "GPU:0")
    assert gpu.sku is not None and (gpu.sku.id, gpu.nvml_index) == ("h100-sxm", 0)
    assert gpu.spec is not None and gpu.spec.tflops["tf32"] == 494.5 and gpu.spec.memory_bandwidth_gbs == 3350
    assert gpu.host_link is not None and gpu.host_link.source == "NVML link maximum: PCIe gen5 x16"
    cpu = next(d for d in facts.devices if d.name == "CPU:0")
    assert cpu.sku is None and cpu.spec is None
    assert facts.gpu_idle["0"].power_w == 70.0 and facts.gpu_idle["0"].readings >= 2
    assert facts.cpu_peak is not None and facts.cpu_peak.label == "estimate"
    assert record.devicebench.devices == facts.devices


def test_gpu_cases_record_energy_and_throttling_cpu_cases_do_not(runs) -> None:
    cases = extras(runs["roof"])
    big = cases["fake-GPU:0-n16384-float32"]
    assert big["energy"]["method"] == "energy counter" and big["energy"]["idle_power_w"] == 70.0
    assert big["energy"]["joules_per_call"] > 0 and big["energy"]["calls"] == big["timing"]["rounds"]
    assert big["throttle"] == {
        "nvml_index": 0, "throttled": False, "reasons": [], "text": "not throttled", "first_s": None,
    }  # fmt: skip
    capped = cases["fake-GPU:0-n16384-bfloat16"]["throttle"]
    assert capped["throttled"] is True and capped["reasons"] == ["sw_power_cap"] and capped["first_s"] is not None
    cpu = cases["fake-CPU:0-n1024-float32"]
    assert cpu["energy"] is None and cpu["throttle"] is None and "0" in cpu["nvml"]  # a CPU case: NVML, no GPU facts
    link = cases["fake-GPU:0-h2d-pinned-64MiB"]["nvml"]["0"]
    assert (link["pcie_link_gen"], link["pcie_link_width"], link["pcie_link_gbs_per_direction"]) == (5, 16, 63.02)


def test_sustained_cases_run_for_their_duration_and_check_every_round(runs) -> None:
    cases = extras(runs["sustained"])
    gpu = cases["fake-GPU:0-n16384-float32-1.8s"]
    assert gpu["timing"]["stopped_by"] == "duration"
    assert sum(read(runs["sustained"]).benchmarks[1].stats.data) >= 1.8
    check = gpu["sustained"]
    assert check["rounds_checked"] == gpu["timing"]["rounds"] == len(check["round_end_s"])
    assert check["differing_rounds"] == 0 and check["round_end_s"] == sorted(check["round_end_s"])
    assert gpu["throttle"]["throttled"] is True and gpu["throttle"]["first_s"] > 0.3
    assert "sustained" in cases["fake-CPU:0-n1024-float32-1.8s"]


def test_a_checksum_mismatch_fails_the_case_with_its_round(runs) -> None:
    data = json.loads((runs["corrupt"] / "benchmarks.json").read_text())
    # the CPU's case is kept; the GPU's has no number, only the failure with the round it happened in
    assert [b["param"] for b in data["benchmarks"]] == ["fake-CPU:0-n1024-float32-0.6s"]
    (skip,) = data["devicebench"]["skipped"]
    assert skip["name"] == "test_sustained[fake-GPU:0-n16384-float32-0.6s]"
    assert skip["kind"] == "error" and skip["reason"].startswith("round 3: the result's checksum")
    assert "silent data corruption" in skip["reason"]


def test_the_tidy_frame_has_the_percentages(runs) -> None:
    frame = tidy([read_run(runs["roof"])]).set_index("case_id")
    gpu = frame.loc["fake-GPU:0-n16384-float32"]
    assert gpu["peak_gflops"] == 494_500.0 and gpu["peak_basis"] == "TF32 tensor-core peak, NVIDIA H100 SXM5 80GB"
    assert 50 < gpu["pct_of_peak"] < 80  # scripted at 78 %, less the sleeps' overshoot
    assert frame.loc["fake-CPU:0-n1024-float32", "peak_estimate"]
    assert 50 < frame.loc["fake-GPU:0-h2d-pinned-64MiB", "pct_of_link"] < 90  # scripted 55 of 63 GB/s
    assert 40 < frame.loc["fake-GPU:0-copy-1024MiB", "pct_of_bandwidth"] < 90  # scripted 3000 of 3350 GB/s
    assert frame.loc["fake-GPU:0-n16384-float32", "work_per_joule"] > 0


def test_a_throttled_case_is_a_note_in_the_comparison(runs) -> None:
    run = read(runs["roof"])
    result = compare(run, run)
    (capped,) = [c for c in result.cases if c.name == "test_matmul[fake-GPU:0-n16384-bfloat16]"]
    assert "throttled on the baseline side (software power cap)" in capped.notes
    assert "throttled on the current side (software power cap)" in capped.notes


def test_the_report_has_the_limit_sections(runs, tmp_path) -> None:
    page = tmp_path / "report.html"
    assert cli.main([str(runs["roof"]), str(runs["sustained"]), "-o", str(page)]) == 0
    html = page.read_text()
    for anchor in ('id="limits"', 'id="plot-roofline"', 'id="per-watt"', 'id="plot-per-watt"', 'id="sustained"'):
        assert anchor in html
    for title in ("Roofline ceilings", "Compute: % of peak per case", "Memory bandwidth: % of spec",
                  "Host-device copies: % of the link", "Energy per case", "Sustained runs"):  # fmt: skip
        assert f"<h3>{title}</h3>" in html
    assert "TF32 tensor-core peak, NVIDIA H100 SXM5 80GB" in html
    assert "yes: software power cap" in html  # the throttled case, in the tables
    assert "CPU estimate: AVX" in html or "no estimate" in html
    assert "Matmul on GPU:0 reaches" in html and "GPU case(s) ran throttled" in html
    assert html.count('<img src="data:image/svg+xml;base64,') >= 10  # the usual plots, roofline, per watt, 2 sustained
    if CHROMIUM.is_file():
        screenshot(page, tmp_path)


def screenshot(page: Path, folder: Path) -> None:
    """Open the page in Chromium: every image loads, no errors, nothing remote; keep a screenshot."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (the dev extra)")
    errors: list[str] = []
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"])
        try:
            view = browser.new_page(viewport={"width": 1280, "height": 900})
            view.on("pageerror", lambda e: errors.append(str(e)))
            view.route("http*://**/*", lambda route: (errors.append(route.request.url), route.abort()))
            view.goto(page.as_uri())
            shown = view.evaluate(
                "Array.from(document.querySelectorAll('#limits img')).map(i => i.complete && i.naturalWidth > 0)"
            )
            view.locator("#limits").screenshot(path=str(folder / "limits.png"))
        finally:
            browser.close()
    assert shown and all(shown) and errors == []
    shots = os.environ.get("DEVICEBENCH_SCREENSHOT_DIR")
    if shots:
        Path(shots).mkdir(parents=True, exist_ok=True)
        shutil.copy(folder / "limits.png", Path(shots) / "report-limits-gpu.png")


def test_numpy_ceilings_prints_numpy_beside_the_run_s_cpu_ceilings(runs, capsys, monkeypatch) -> None:
    from tools import numpy_ceilings

    monkeypatch.setattr(numpy_ceilings, "COPY_MIB", 4)
    monkeypatch.setattr(numpy_ceilings, "MATMUL_N", 64)
    assert numpy_ceilings.main([str(runs["roof"])]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("numpy ") and " GB/s (4 MiB float32, read + write)" in out[0]
    assert out[1].endswith("GFLOP/s (n=64 float32)")
    assert any(line.startswith("run: CPU:0 matmul float32 ") and line.endswith("(n=1024)") for line in out)
    assert any(line.startswith("run: CPU:0 memory ") and "triad" in line for line in out)
