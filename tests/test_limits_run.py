"""The hardware records the real plugin wrote on the scripted GPU hosts (the golden runs, tests/data/make_golden.py),
and the report's "How close to the limit" section built from them: roofline and ceilings, % of peak, bandwidth and
link tables, energy per case and sustained runs. Expected values come from the same files (and the spec the run
recorded for its GPU), or from the script the runs were made with; none is typed in.

A screenshot of the report is kept in $DEVICEBENCH_SCREENSHOT_DIR when that is set.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import statistics
from pathlib import Path

import pytest

from bench.hardware.links import pcie_gbs_per_direction
from bench.hardware.specs import load_specs
from reports import cli, limits, plots
from reports import sustained as st
from reports.compare import compare
from reports.fmt import fmt_number
from reports.load import read_run, tidy
from results_format import MIN_ENERGY_WINDOW_S, read
from tests.fake_hosts import H100, HOSTS
from tests.golden_plugin import cpu_peak
from tests.test_golden_data import GOLDEN

DATA = Path(__file__).parent / "data"
GPUBOX = DATA / "runs" / "20261121-120000-gpubox"
MIXEDBOX = DATA / "backends" / "20261123-100000-mixedbox"
SUSTAINED = DATA / "sustained" / "20261125-140000-gpubox"
CORRUPT = DATA / "sustained" / "20261125-150000-sdcbox"
CHROMIUM = Path(os.environ.get("DEVICEBENCH_CHROMIUM", "/usr/bin/chromium"))


def extras(run: Path) -> dict[str, dict]:
    """Each case's extra_info by its id, as the file has it."""
    data = json.loads((run / "benchmarks.json").read_text())
    return {b["param"]: b["extra_info"] for b in data["benchmarks"]}


def medians(run: Path) -> dict[str, float]:
    """Each case's median round time by its id."""
    return {b.param: b.stats.median for b in read(run).benchmarks}


def gpu_record(run: Path, backend: str = "tensorflow"):
    """The run's record of its GPU:0 (with the SKU, spec and link it detected)."""
    devices = read(run).machine_info.devicebench.devices
    return next(d for d in devices if d.name == "GPU:0" and d.backend == backend)


def test_gpu_device_record_has_its_sku_spec_link_and_idle_power() -> None:
    record = read(GPUBOX)
    facts = record.machine_info.devicebench
    gpu = gpu_record(GPUBOX)
    (spec,) = [s for s in load_specs() if s.id == "h100-sxm"]
    assert gpu.sku is not None and (gpu.sku.id, gpu.nvml_index) == ("h100-sxm", 0)
    assert gpu.spec == spec.record()  # the scripted board's NVML identity is an H100 SXM's
    assert gpu.host_link is not None and gpu.host_link.source == "NVML link maximum: PCIe gen5 x16"
    assert gpu.host_link.gbs_per_direction == round(pcie_gbs_per_direction(5, 16), 2)
    cpu = next(d for d in facts.devices if d.name == "CPU:0")
    assert cpu.sku is None and cpu.spec is None
    assert facts.gpu_idle["0"].power_w == H100.idle_w and facts.gpu_idle["0"].readings >= 2
    assert facts.cpu_peak is not None and facts.cpu_peak.model_dump() == cpu_peak(HOSTS["gpubox"]).as_dict()
    assert record.devicebench.devices == facts.devices


def test_gpu_cases_record_energy_and_throttling_cpu_cases_do_not() -> None:
    cases = extras(GPUBOX)
    idle = read(GPUBOX).machine_info.devicebench.gpu_idle["0"].power_w
    big = cases["tensorflow-GPU:0-n16384-float32"]
    energy = big["energy"]
    assert energy["method"] == "energy counter" and energy["idle_power_w"] == idle
    assert energy["calls"] == big["timing"]["rounds"] and energy["joules_per_call"] > 0
    assert energy["joules"] == pytest.approx(energy["gross_joules"] - idle * energy["window_s"], abs=0.01)
    rounds = big["timing"]["rounds"]
    assert big["throttle"] == {
        "nvml_index": 0, "throttled": False, "reasons": [], "text": "not throttled", "first_s": None,
        "round_clocks": [{"rounds": rounds, "reasons": [], "sm_clock_mhz": 1980.0}], "rounds_throttled": 0,
    }  # fmt: skip
    assert big["timing"]["rounds_left_out"] == 0 and big["timing"]["every_round_throttled"] is False
    for dtype in ("float16", "bfloat16"):  # the scripted H100 draws more than its limit on large half precision
        case = cases[f"tensorflow-GPU:0-n16384-{dtype}"]
        capped = case["throttle"]
        assert capped["throttled"] is True and capped["reasons"] == ["sw_power_cap"] and capped["first_s"] is not None
        # capped in every round: all rounds stay in the headline, and the case says its figure is throttled
        assert capped["rounds_throttled"] == case["timing"]["rounds"] and case["timing"]["every_round_throttled"]
    assert cases["tensorflow-GPU:0-n4096-bfloat16"]["throttle"]["throttled"] is False
    cpu = cases["tensorflow-CPU:0-n1024-float32"]
    assert cpu["energy"] is None and cpu["throttle"] is None and "0" in cpu["nvml"]  # a CPU case: NVML, no GPU facts
    link = cases["tensorflow-GPU:0-h2d-pageable-128MiB"]["nvml"]["0"]
    host_link = gpu_record(GPUBOX).host_link
    assert (link["pcie_link_gen"], link["pcie_link_width"]) == (5, 16)
    assert link["pcie_link_gbs_per_direction"] == host_link.gbs_per_direction


def test_the_sustained_case_runs_for_its_duration_checks_every_round_and_throttles_halfway() -> None:
    run = read(SUSTAINED)
    (bench,) = run.benchmarks
    info = bench.extra_info
    seconds = float(info.params["seconds"])
    assert info.timing is not None and info.timing.stopped_by == "duration"
    assert sum(bench.stats.data) >= seconds
    check = info.sustained
    assert check is not None and check.rounds_checked == info.timing.rounds == len(check.round_end_s)
    assert check.differing_rounds == 0 and check.round_end_s == sorted(check.round_end_s)
    throttle = info.throttle
    assert throttle is not None and throttle.throttled and throttle.reasons == ["sw_thermal_slowdown"]
    assert 0.2 * seconds < throttle.first_s < 0.8 * seconds  # partway, as DEVICEBENCH_FAKE_HEAT scripts it
    rounds = bench.stats.data
    tenth = len(rounds) // 10
    assert statistics.median(rounds[-tenth:]) > 1.1 * statistics.median(rounds[:tenth])  # the held-down clocks


def test_a_checksum_mismatch_fails_the_case_with_its_round() -> None:
    data = json.loads((CORRUPT / "benchmarks.json").read_text())
    (made,) = [run for run in GOLDEN.RUNS if run.target == str(CORRUPT.relative_to(DATA))]
    bad_round = int(made.env["FAULTS"].rpartition("@")[2])
    # the CPU's case is kept; the GPU's has no number, only the failure with the round it happened in
    assert [b["extra_info"]["device"] for b in data["benchmarks"]] == ["CPU:0"]
    (skip,) = data["devicebench"]["skipped"]
    assert (skip["device"], skip["kind"]) == ("GPU:0", "error")
    assert skip["reason"].startswith(f"round {bad_round}: the result's checksum")
    assert "silent data corruption" in skip["reason"]


# --- the report's limits section, from the files ------------------------------------------------------------------


@pytest.fixture(scope="module")
def frame():
    """The tidy frame of the gpubox and mixedbox runs, indexed by host and case."""
    return tidy([read_run(GPUBOX), read_run(MIXEDBOX)])


def row(frame, host: str, case: str):
    """The tidy row of one case of one host, as a dict."""
    (found,) = frame[(frame["host"] == host) & (frame["case_id"] == case)].to_dict("records")
    return found


def test_the_tidy_frame_judges_each_case_against_the_recorded_spec(frame) -> None:
    spec = gpu_record(GPUBOX).spec
    cases = extras(GPUBOX)
    for dtype, key in (("float32", "tf32"), ("bfloat16", "bf16")):  # float32 ran with TF32 on
        gpu = row(frame, "gpubox", f"tensorflow-GPU:0-n16384-{dtype}")
        throughput = cases[f"tensorflow-GPU:0-n16384-{dtype}"]["throughput"]
        assert gpu["peak_gflops"] == spec.tflops[key] * 1000
        assert gpu["pct_of_peak"] == pytest.approx(100 * throughput / gpu["peak_gflops"])
    assert (
        row(frame, "gpubox", "tensorflow-GPU:0-n16384-float32")["peak_basis"] == f"TF32 tensor-core peak, {spec.name}"
    )
    cpu = row(frame, "gpubox", "tensorflow-CPU:0-n1024-float32")
    estimate = read(GPUBOX).machine_info.devicebench.cpu_peak
    assert cpu["peak_estimate"] and cpu["peak_gflops"] == estimate.gflops["float32"]
    copy = row(frame, "gpubox", "tensorflow-GPU:0-copy-1024MiB")
    assert copy["pct_of_bandwidth"] == pytest.approx(100 * copy["throughput"] / spec.memory_bandwidth_gbs)
    link = gpu_record(GPUBOX).host_link.gbs_per_direction
    h2d = row(frame, "gpubox", "tensorflow-GPU:0-h2d-pageable-128MiB")
    assert h2d["pct_of_link"] == pytest.approx(100 * h2d["throughput"] / link)
    both = row(frame, "mixedbox", "torch-GPU:0-both-pinned-16MiB")
    assert both["pct_of_link"] == pytest.approx(100 * both["throughput"] / (2 * link))  # both ways at once
    pinned = row(frame, "mixedbox", "torch-GPU:0-h2d-pinned-16MiB")
    assert pinned["pct_of_link"] > row(frame, "mixedbox", "torch-GPU:0-h2d-pageable-16MiB")["pct_of_link"]


def test_the_roofline_ceilings_are_the_runs_best_matmul_and_bandwidth(frame) -> None:
    gpubox = frame[frame["host"] == "gpubox"]
    cases, spec = extras(GPUBOX), gpu_record(GPUBOX).spec
    ceilings = limits.roofline_ceilings(gpubox)
    gpu = ceilings[ceilings["device_kind"] == "gpu"].set_index("dtype")
    membw = {k: e["throughput"] for k, e in cases.items() if e["workload"] == "membw" and e["device"] == "GPU:0"}
    labels = set()
    for dtype in ("float32", "float16", "bfloat16"):
        matmul = {
            k: e["throughput"]
            for k, e in cases.items()
            if e["workload"] == "matmul" and e["device"] == "GPU:0" and e["params"]["dtype"] == dtype
        }
        best = max(matmul, key=matmul.__getitem__)
        tf32 = dtype == "float32" and cases[best]["precision"]["tf32"]
        dtype = f"{dtype} (TF32)" if tf32 else dtype  # float32 with TF32 on is its own roof
        labels.add(dtype)
        assert gpu.loc[dtype, "measured GFLOP/s"] == pytest.approx(matmul[best])
        assert gpu.loc[dtype, "at n"] == cases[best]["params"]["n"]
        assert gpu.loc[dtype, "measured GB/s"] == pytest.approx(max(membw.values()))
        assert gpu.loc[dtype, "ridge (measured)"] == pytest.approx(matmul[best] / max(membw.values()))
        assert gpu.loc[dtype, "spec GB/s"] == spec.memory_bandwidth_gbs
    assert set(gpu.index) == labels
    points = limits.roofline_points(gpubox)
    assert len(points) == sum(1 for e in cases.values() if e["workload"] == "matmul")


def test_the_findings_give_the_best_share_of_peak_and_bandwidth_from_the_run(frame) -> None:
    gpubox = frame[frame["host"] == "gpubox"]
    lines = limits.limit_lines(gpubox)
    gpu = gpubox[(gpubox["workload"] == "matmul") & (gpubox["device"] == "GPU:0")]
    matmuls = [line for line in lines if line.startswith("Matmul on GPU:0 reaches")]
    assert len(matmuls) == gpu["peak_basis"].nunique() == 3  # one per peak: TF32, FP16, BF16 tensor cores
    for basis, part in gpu.groupby("peak_basis"):
        top = part.loc[part["pct_of_peak"].astype(float).idxmax()]
        (matmul,) = [line for line in matmuls if basis in line]
        assert f"{fmt_number(float(top['throughput']))} of {fmt_number(float(top['peak_gflops']))} GFLOP/s" in matmul
        assert f"(n={int(top['n'])} {top['dtype']}" in matmul
    membw = max(e["throughput"] for e in extras(GPUBOX).values() if e["workload"] == "membw" and e["device"] == "GPU:0")
    assert f"Memory bandwidth on GPU:0: {fmt_number(membw)} GB/s at best" in "\n".join(lines)
    throttled = [e for e in extras(GPUBOX).values() if (e.get("throttle") or {}).get("throttled")]
    assert any(line.startswith(f"{len(throttled)} of ") and "software power cap" in line for line in lines)


def test_energy_per_case_and_work_per_joule_come_from_the_energy_records(frame) -> None:
    gpubox = frame[frame["host"] == "gpubox"]
    table = limits.energy_table(gpubox)
    cases, median = extras(GPUBOX), medians(GPUBOX)
    with_energy = {
        k: e
        for k, e in cases.items()
        if e.get("energy") and e["energy"]["joules_per_call"] is not None and e["throughput"] is not None
    }
    too_short = [e for e in cases.values() if e.get("energy") and e["energy"]["window_s"] < MIN_ENERGY_WINDOW_S]
    assert too_short and all(e["energy"]["joules_per_call"] is None for e in too_short)  # no figure, said why
    assert len(table) == len(with_energy) and set(table["device"]) == {"GPU:0"}
    for key, info in with_energy.items():
        found, joules = row(gpubox, "gpubox", key), info["energy"]["joules_per_call"]
        assert found["energy_j_per_call"] == joules
        if joules:  # a case that drew no more than idle has no work per joule
            assert found["work_per_joule"] == pytest.approx(info["throughput"] * median[key] / joules)
    matmuls = {k: e for k, e in with_energy.items() if e["workload"] == "matmul" and e["energy"]["joules_per_call"]}
    best = max(matmuls, key=lambda k: cases[k]["throughput"] * median[k] / cases[k]["energy"]["joules_per_call"])
    per_joule = cases[best]["throughput"] * median[best] / cases[best]["energy"]["joules_per_call"]
    n, dtype = cases[best]["params"]["n"], cases[best]["params"]["dtype"]
    assert (
        f"Most work per joule on GPU:0: {fmt_number(per_joule)} GFLOP/J above idle (matmul n={n} {dtype}, "
        in "\n".join(limits.energy_lines(gpubox))
    )


def test_the_sustained_summary_and_time_series_come_from_the_run_and_its_timeline() -> None:
    run = read_run(SUSTAINED)
    (case,) = st.sustained_cases([run])
    (bench,) = run.record.benchmarks
    info = bench.extra_info
    (summary,) = st.summary_table([case], ["GPU:0"]).to_dict("records")
    rates = [info.work_per_call / 1e9 / t for t in bench.stats.data]
    tenth = max(1, len(rates) // 10)
    assert summary["rounds"] == len(bench.stats.data) and summary["timed s"] == pytest.approx(sum(bench.stats.data))
    assert summary["GFLOP/s at the start"] == pytest.approx(statistics.median(rates[:tenth]))
    assert summary["GFLOP/s at the end"] == pytest.approx(statistics.median(rates[-tenth:]))
    assert summary["change"] < 0  # it slowed down once it throttled
    assert summary["first throttle"] == f"after {info.throttle.first_s:.1f} s: software thermal slowdown"
    assert summary["max °C"] == info.nvml["0"].max_temp_c and summary["min SM MHz"] == info.nvml["0"].min_sm_clock_mhz
    assert summary["checksums"] == f"all {len(bench.stats.data)} rounds gave round 0's checksum exactly"
    with (SUSTAINED / "nvml.csv").open() as handle:
        timeline = [r for r in csv.DictReader(handle) if r["case"] == bench.param]
    from reports import plots

    series = st.nvml_series(plots.read_nvml([(run.host, run.name, run.nvml_csv)]), case)
    assert len(series) == len(timeline)
    first_hot = next(float(r["t_s"]) for r in timeline if r["throttle_reasons"] == "sw_thermal_slowdown")
    hot = series[series["throttled"] > 0]
    assert hot["t_s"].min() == pytest.approx(first_hot - float(timeline[0]["t_s"]))
    assert series["temp_c"].max() == info.nvml["0"].max_temp_c


def test_a_throttled_case_is_a_note_in_the_comparison() -> None:
    name = "test_matmul[tensorflow-GPU:0-n16384-bfloat16]"
    run = read(GPUBOX)
    alone = run.model_copy(update={"benchmarks": [b for b in run.benchmarks if b.name == name]})  # 1 of 60: quick
    (capped,) = compare(alone, alone).cases
    assert capped.name == name
    assert "throttled on the baseline side (software power cap)" in capped.notes
    assert "throttled on the current side (software power cap)" in capped.notes


def test_the_report_has_the_limit_sections(tmp_path, monkeypatch) -> None:
    # The usual plots are test_report's; here only the limits' own figures are drawn (10 of the page's 20 s).
    monkeypatch.setattr(plots, "all_plots", lambda frame, nvml: [])
    page = tmp_path / "report.html"
    assert cli.main([str(GPUBOX), str(SUSTAINED), "-o", str(page)]) == 0
    html = page.read_text()
    for anchor in ('id="limits"', 'id="plot-roofline"', 'id="per-watt"', 'id="plot-per-watt"', 'id="sustained"'):
        assert anchor in html
    for title in ("Roofline ceilings", "Compute: % of peak per case", "Memory bandwidth: % of spec",
                  "Host-device copies: % of the link", "Energy per case", "Sustained runs"):  # fmt: skip
        assert f"<h3>{title}</h3>" in html
    spec = gpu_record(GPUBOX).spec
    assert f"TF32 tensor-core peak, {spec.name}" in html
    assert "yes: software power cap" in html  # the power-capped cases, in the tables
    assert f"CPU estimate: {read(GPUBOX).machine_info.devicebench.cpu_peak.isa}" in html
    assert "Matmul on GPU:0 reaches" in html and "GPU case(s) ran throttled" in html
    assert "software thermal slowdown" in html  # the sustained run
    assert html.count('<img src="data:image/svg+xml;base64,') == 4  # roofline, per watt, sustained, History
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


def test_numpy_ceilings_prints_numpy_beside_the_run_s_cpu_ceilings(capsys, monkeypatch) -> None:
    from tools import numpy_ceilings

    monkeypatch.setattr(numpy_ceilings, "COPY_MIB", 4)
    monkeypatch.setattr(numpy_ceilings, "MATMUL_N", 64)
    assert numpy_ceilings.main([str(GPUBOX)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("numpy ") and " GB/s (4 MiB float32, read + write)" in out[0]
    assert out[1].endswith("GFLOP/s (n=64 float32)")
    best = max(
        (e for e in extras(GPUBOX).values() if e["workload"] == "matmul" and e["device"] == "CPU:0"),
        key=lambda e: e["throughput"],
    )
    assert any(line.startswith("run: CPU:0 matmul float32 ") and f"(n={best['params']['n']})" in line for line in out)
    assert any(line.startswith("run: CPU:0 memory ") and "triad" in line for line in out)
