"""The reading side of "how close to the limit": percentages, work per joule, the roofline and the findings, from
literal tidy frames; sustained time series from literal cases (pure functions, no files)."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from reports import limits
from reports import sustained as st
from reports.compare import throttle_notes
from results_format import Benchmark

H100 = "TF32 tensor-core peak, NVIDIA H100 SXM5 80GB"


def row(device: str, workload: str, throughput: float, **keys: object) -> dict[str, object]:
    """One tidy row as reports.load.tidy makes it, with the limit facts case_facts joins in."""
    base: dict[str, object] = {
        "host": "box",
        "run": "r1",
        "backend": "torch",
        "device": device,
        "device_kind": device.split(":")[0].lower(),
        "workload": workload,
        "name": f"{workload}-{device}-{sorted(keys.items())}",
        "throughput": throughput,
        "throughput_unit": {"matmul": "GFLOP/s", "membw": "GB/s", "transfer": "GB/s"}[workload],
        "median_s": 0.01,
        "iqr_rel": 0.01,
        "tf32": None,
        "peak_gflops": None,
        "peak_basis": None,
        "peak_estimate": None,
        "spec_bandwidth_gbs": None,
        "link_gbs": None,
        "link_basis": None,
        "link_now": None,
        "energy_j_per_call": None,
        "gross_j_per_call": None,
        "energy_mean_w": None,
        "energy_method": None,
        "throttled": None,
        "throttle_text": None,
    }
    out = {**base, **keys}
    if "dtype" in keys:  # as tidy labels precisions: float32 with TF32 on a GPU is its own
        tf32 = keys["dtype"] == "float32" and keys.get("tf32") and out["device_kind"] == "gpu"
        out["precision_label"] = f"{keys['dtype']} (TF32)" if tf32 else keys["dtype"]
    return out


def frame() -> pd.DataFrame:
    """A CPU (estimate only) and an H100 (spec) with matmul, membw and copies."""
    gpu = {"peak_estimate": False, "spec_bandwidth_gbs": 3350.0}
    cpu = {"peak_gflops": 166.2, "peak_basis": "CPU estimate: AVX-512", "peak_estimate": True}
    rows = [
        row("CPU:0", "matmul", 30.0, n=256, dtype="float32", tf32=False, **cpu),
        row("CPU:0", "matmul", 60.0, n=1024, dtype="float32", tf32=False, **cpu),
        row("CPU:0", "membw", 15.0, kernel="copy", bytes=256 * 2**20),
        row("CPU:0", "membw", 20.0, kernel="triad", bytes=256 * 2**20),
        row("GPU:0", "matmul", 380_000.0, n=16384, dtype="float32", tf32=True, peak_gflops=494_500.0,
            peak_basis=H100, energy_j_per_call=12.0, gross_j_per_call=13.0, energy_method="energy counter",
            energy_mean_w=650.0, throttled=False, throttle_text="not throttled", **gpu),
        row("GPU:0", "matmul", 700_000.0, n=16384, dtype="bfloat16", tf32=True, peak_gflops=989_500.0,
            peak_basis="BF16 tensor-core peak, NVIDIA H100 SXM5 80GB", energy_method="energy counter",
            energy_j_per_call=6.0, gross_j_per_call=6.5, throttled=True,
            throttle_text="throttled: software power cap", **gpu),
        row("GPU:0", "membw", 2900.0, kernel="copy", bytes=2**30, **gpu),
        row("GPU:0", "transfer", 55.0, direction="h2d", host_memory="pinned", bytes=2**26, link_gbs=63.02,
            link_basis="NVML link maximum: PCIe gen5 x16", link_now="gen5 x16 (63.02 GB/s)"),
        row("GPU:0", "transfer", 100.0, direction="both", host_memory="pinned", bytes=2**26, link_gbs=63.02,
            link_basis="NVML link maximum: PCIe gen5 x16", link_now="gen4 x16 (31.51 GB/s)"),
    ]  # fmt: skip
    return limits.add_limit_columns(pd.DataFrame(rows))


def test_percent_of_peak_best_bandwidth_and_link() -> None:
    f = frame().set_index("name")
    gpu32 = f.loc[f["dtype"].eq("float32") & f["device"].eq("GPU:0")].iloc[0]
    assert gpu32["pct_of_peak"] == pytest.approx(100 * 380_000 / 494_500)
    assert gpu32["pct_of_best"] == pytest.approx(100.0)  # the best float32 of the GPU
    cpu_small = f.loc[f["device"].eq("CPU:0") & f["n"].eq(256)].iloc[0]
    assert cpu_small["pct_of_peak"] == pytest.approx(100 * 30 / 166.2)
    assert cpu_small["pct_of_best"] == pytest.approx(50.0)
    copies = f[f["workload"] == "membw"].set_index(["device", "kernel"])
    assert copies.loc[("CPU:0", "copy"), "pct_of_best"] == pytest.approx(75.0)
    assert math.isnan(copies.loc[("CPU:0", "copy"), "pct_of_bandwidth"])  # no spec bandwidth for a CPU
    assert copies.loc[("GPU:0", "copy"), "pct_of_bandwidth"] == pytest.approx(100 * 2900 / 3350)
    link = f[f["workload"] == "transfer"].set_index("direction")
    assert link.loc["h2d", "pct_of_link"] == pytest.approx(100 * 55 / 63.02)
    assert link.loc["both", "pct_of_link"] == pytest.approx(100 * 100 / (2 * 63.02))  # both ways: twice the link
    assert f[f["workload"] == "membw"]["pct_of_peak"].isna().all()


def test_work_per_joule_is_one_call_s_work_over_its_energy() -> None:
    f = frame()
    gpu32 = f[(f["device"] == "GPU:0") & (f["dtype"] == "float32")].iloc[0]
    assert gpu32["work_per_joule"] == pytest.approx(380_000 * 0.01 / 12.0)  # GFLOP per J (= GFLOP/s per W)
    assert gpu32["work_per_joule_gross"] == pytest.approx(380_000 * 0.01 / 13.0)
    assert gpu32["work_per_joule_unit"] == "GFLOP/J"
    assert f[f["workload"] == "membw"]["work_per_joule"].isna().all()


def test_arithmetic_intensity_of_a_matmul() -> None:
    assert limits.arithmetic_intensity(1024, "float32") == pytest.approx(2 * 1024 / 12)
    assert limits.arithmetic_intensity(1024, "bfloat16") == pytest.approx(2 * 1024 / 6)
    assert limits.arithmetic_intensity(1024, "int8") is None


def test_roofline_points_and_ceilings_per_device_and_dtype() -> None:
    f = frame()
    points = limits.roofline_points(f)
    assert len(points) == 4 and set(points["device_label"]) == {"CPU:0", "GPU:0"}
    ceilings = limits.roofline_ceilings(f).set_index(["device_label", "dtype"])
    cpu = ceilings.loc[("CPU:0", "float32")]
    assert (cpu["measured GFLOP/s"], cpu["at n"], cpu["peak GFLOP/s"], cpu["peak is"]) == (
        60.0,
        1024,
        166.2,
        "CPU estimate",
    )
    assert (cpu["measured GB/s"], cpu["measured by"]) == (20.0, "triad 256 MiB")
    assert pd.isna(cpu["spec GB/s"])
    assert cpu["ridge (measured)"] == pytest.approx(3.0)
    assert math.isnan(cpu["ridge (peak)"])
    bf16 = ceilings.loc[("GPU:0", "bfloat16")]
    assert (bf16["peak GFLOP/s"], bf16["peak is"], bf16["spec GB/s"]) == (989_500.0, "spec", 3350.0)
    assert bf16["ridge (peak)"] == pytest.approx(989_500 / 3350)


def test_tables_say_which_peak_and_flag_throttling() -> None:
    f = frame()
    peak = limits.peak_table(f)
    assert list(peak.columns) == [
        "device", "workload", "n", "dtype", "TF32", "GFLOP/s", "peak GFLOP/s", "% of peak", "judged against",
        "% of best", "throttled",
    ]  # fmt: skip
    gpu = peak[peak["device"] == "GPU:0"].set_index("dtype")
    assert gpu.loc["float32", "judged against"] == H100
    assert gpu.loc["bfloat16", "throttled"] == "yes: software power cap"
    assert gpu.loc["float32", "throttled"] == "no"
    assert set(peak[peak["device"] == "CPU:0"]["throttled"]) == {""}
    link = limits.link_table(f).set_index("direction")
    assert link.loc["both directions at once", "link GB/s"] == pytest.approx(126.04)
    assert link.loc["host to device", "ceiling"] == "PCIe gen5 x16 maximum (NVML)"
    energy = limits.energy_table(f)
    assert list(energy["case"]) == ["n=16384 float32", "n=16384 bfloat16"]
    assert energy["mean W"].iloc[0] == 650.0


def test_findings_name_the_peak_the_estimate_the_link_and_the_throttling() -> None:
    lines = limits.limit_lines(frame())
    assert (
        "Matmul on CPU:0 reaches 36 % of the CPU's estimated float32 peak (an estimate from its ISA, cores and clock): "
        "60 of 166 GFLOP/s (n=1024 float32)." in lines
    )
    assert (
        f"Matmul on GPU:0 reaches 77 % of the {H100}: 380,000 of 494,500 GFLOP/s (n=16384 float32, TF32 on)." in lines
    )
    assert (
        "Memory bandwidth on GPU:0: 2,900 GB/s at best (copy, 1024 MiB arrays), 87 % of the spec's 3,350 GB/s." in lines
    )
    (link,) = [line for line in lines if line.startswith("Copies on GPU:0")]
    assert "both pinned 79 %, h2d pinned 87 %" in link
    assert "the link ran at gen4 x16 (31.51 GB/s) during 1 copy case(s), below its maximum" in link
    assert (
        "1 of 2 GPU case(s) ran throttled (software power cap): their clocks were held down, so their numbers "
        "understate the hardware (flagged in the tables)." in lines
    )
    assert "Most work per joule on GPU:0: 1,167 GFLOP/J above idle (matmul n=16384 bfloat16, 700,000 GFLOP/s)." in lines


def test_a_gpu_without_a_known_sku_gets_no_percentage() -> None:
    f = limits.add_limit_columns(
        pd.DataFrame([row("GPU:0", "matmul", 1000.0, n=1024, dtype="float32", peak_basis="unknown SKU: no % shown")])
    )
    assert math.isnan(f["pct_of_peak"].iloc[0]) and f["pct_of_best"].iloc[0] == 100.0
    assert not any(line.startswith("Matmul on GPU:0") for line in limits.limit_lines(f))


# --- sustained ---------------------------------------------------------------------------------------------------


def case(**kw: object) -> st.SustainedCase:
    base: dict[str, object] = dict(
        host="box", run="r1", backend="torch", device="GPU:0", device_kind="gpu", case_id="c", n=16384,
        dtype="float32", seconds=10.0, work_per_call=2e12, round_s=(1.0,) * 8 + (2.0,) * 2,
        round_end_s=tuple(float(i) for i in range(1, 11)), nvml_index=0, checksum_rounds=10, differing_rounds=0,
        max_deviation=0.0, rtol=1e-9, throttled=True, throttle_text="throttled: software power cap",
        first_throttle_s=8.2, max_temp_c=83.0, min_sm_clock_mhz=1650.0,
    )  # fmt: skip
    return st.SustainedCase(**{**base, **kw})  # type: ignore[arg-type]


def test_throughput_over_time_and_its_start_and_end() -> None:
    series = st.throughput_series(case())
    assert list(series["t_s"]) == [float(i) for i in range(1, 11)]
    assert list(series["gflops"]) == [2000.0] * 8 + [1000.0] * 2
    assert st.edge_throughput(case()) == (2000.0, 1000.0)
    binned = st.throughput_series(case(), max_points=5)
    assert len(binned) == 5 and list(binned["gflops"]) == [2000.0, 2000.0, 2000.0, 2000.0, 1000.0]


def test_nvml_series_of_the_case_s_gpu_relative_to_its_first_sample() -> None:
    nvml = pd.DataFrame(
        {
            "host": "box", "run": "r1", "case": ["c", "c", "c", "other"], "gpu_index": [0, 0, 0, 0],
            "t_s": [50.0, 50.5, 51.0, 52.0], "sm_clock_mhz": [1980, 1980, 1650, 1200], "power_w": [700, 700, 640, 1],
            "temp_c": [60, 70, 80, 1], "throttle_reasons": ["none", "gpu_idle", "sw_power_cap", ""],
        }
    )  # fmt: skip
    series = st.nvml_series(nvml, case())
    assert list(series["t_s"]) == [0.0, 0.5, 1.0]
    assert list(series["throttled"]) == [0.0, 0.0, 1.0]
    assert list(series["sm_clock_mhz"]) == [1980, 1980, 1650]
    assert st.nvml_series(nvml, case(nvml_index=None)).empty


def test_summary_row_says_when_it_first_throttled_and_how_the_checksums_went() -> None:
    table = st.summary_table([case(), case(device_kind="cpu", throttled=None, differing_rounds=2, max_deviation=3e-12)],
                             ["GPU:0", "CPU:0"])  # fmt: skip
    gpu, cpu = table.iloc[0], table.iloc[1]
    assert gpu["first throttle"] == "after 8.2 s: software power cap"
    assert gpu["change"] == pytest.approx(-0.5)
    assert gpu["checksums"] == "all 10 rounds gave round 0's checksum exactly"
    assert cpu["first throttle"] == "n/a on a CPU"
    assert (
        cpu["checksums"] == "2 of 10 rounds differed from round 0 within the tolerance (at most 3e-12, tolerance 1e-09)"
    )


# --- the gate's notes --------------------------------------------------------------------------------------------


def bench(throttle: dict[str, object] | None) -> Benchmark:
    from results_format import Stats

    extra = {
        "workload": "matmul", "workload_version": 1, "backend": "torch", "backend_version": "2", "device": "GPU:0",
        "device_kind": "gpu", "device_name": "H100", "params": {"n": 1024, "dtype": "float32"}, "work_per_call": 1.0,
        "work_unit": "FLOP", "throughput": 1.0, "throughput_unit": "GFLOP/s", "sync": "s", "placement": "cuda:0",
        "precision": {"dtype": "float32", "tf32": True}, "threads": {},
        "warmup": {"calls": 1, "first_call_s": 0.1, "last_call_s": 0.1}, "one_time_cost_s": 0.0, "profile": "smoke",
        "throttle": throttle,
    }  # fmt: skip
    stats = Stats.from_rounds([0.1, 0.11, 0.1, 0.12, 0.1]).model_dump()
    return Benchmark.model_validate({"name": "test_matmul[x]", "fullname": "x", "extra_info": extra, "stats": stats})


def test_a_throttled_side_gets_a_note_in_the_comparison() -> None:
    hot = {"nvml_index": 0, "throttled": True, "reasons": ["sw_power_cap"], "text": "throttled: software power cap"}
    calm = {"nvml_index": 0, "throttled": False, "reasons": [], "text": "not throttled"}
    assert throttle_notes(bench(calm), bench(hot)) == ["throttled on the current side (software power cap)"]
    assert throttle_notes(bench(hot), bench(None)) == ["throttled on the baseline side (software power cap)"]
    assert throttle_notes(bench(calm), bench(calm)) == []


def test_a_cpu_above_its_estimated_peak_is_told_the_estimate_is_no_ceiling() -> None:
    # measured on a 2-vCPU Zen 4 VM advertised at 2.60 GHz: 221 GFLOP/s against the 166 estimate
    cpu = {"peak_gflops": 166.2, "peak_basis": "CPU estimate: AVX-512", "peak_estimate": True}
    rows = [row("CPU:0", "matmul", 221.0, n=2048, dtype="float32", tf32=False, **cpu)]
    (line,) = limits.limit_lines(limits.add_limit_columns(pd.DataFrame(rows)))
    assert line == (
        "Matmul on CPU:0 reaches 133 % of the CPU's estimated float32 peak (an estimate from its ISA, cores and "
        "clock): 221 of 166 GFLOP/s (n=2048 float32); above 100 %: the cores ran faster than the advertised clock the "
        "estimate assumes (turbo), so the estimate is no ceiling here."
    )


def test_the_report_states_the_share_of_rounds_left_out_and_cases_throttled_in_every_round() -> None:
    frame = pd.DataFrame(
        {
            "throttled": [True, True, False, None],
            "throttle_text": ["throttled: software power cap"] * 2 + ["not throttled", None],
            "rounds_left_out_share": [0.25, 0.0, 0.0, None],
            "every_round_throttled": [False, True, False, None],
        }
    )
    lines = limits.throttle_lines(frame)
    assert lines[0].startswith("2 of 3 GPU case(s) ran throttled (software power cap)")
    assert lines[1] == (
        "1 of them had rounds under a power or thermal clock event left out of their median "
        "(25% of their rounds; kept in the results file)."
    )
    assert lines[2] == "1 case(s) ran every round throttled: their medians are throttled figures."
