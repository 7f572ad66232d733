"""Fleet statistics on literal frames: slow hosts, A/A noise, likely causes, missing hosts, too few peers."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from reports import fleet
from reports.fleet import Options, case_key, judge

H100 = "NVIDIA H100 80GB HBM3"
CASES = {  # case id -> a throughput of a healthy host
    "matmul[tensorflow-{d}-n1024-float32]": 40_000.0,
    "matmul[tensorflow-{d}-n4096-float32]": 50_000.0,
    "matmul[tensorflow-{d}-n4096-bfloat16]": 400_000.0,
    "mnist[tensorflow-{d}-eager]": 30_000.0,
    "mnist[tensorflow-{d}-function]": 90_000.0,
    "transfer[tensorflow-{d}-h2d-64MiB]": 12.0,
}
BASE_FACTS = {
    "nvidia_driver": "560.35.03",
    "cuda": "tensorflow 12.5.1",
    "frameworks": "tensorflow 2.21.0",
    "cpu_model": "Intel(R) Xeon(R) Platinum 8480+",
    "sm_clock_mhz": 1980.0,
    "throttled": "none",
    "pcie_link": "gen5 x16",
}


def fleet_frame(
    factors: dict[str, float],
    *,
    devices: tuple[str, ...] = ("GPU:0",),
    noise: float = 0.0,
    seed: int = 1,
    facts: dict[str, dict] | None = None,
    per_case: dict[tuple[str, str, str], float] | None = None,
    model: str = H100,
) -> pd.DataFrame:
    """One row per (host, device, case): the healthy throughput times the host's factor and seeded noise."""
    rng = np.random.default_rng(seed)
    rows = []
    for host, factor in factors.items():
        for device in devices:
            for case, healthy in CASES.items():
                name = "test_" + case.format(d=device)
                extra = (per_case or {}).get((host, device, case), 1.0)
                value = healthy * factor * extra * (1.0 + rng.uniform(-noise, noise))
                rows.append(
                    {
                        "host": host,
                        "run": f"20261126-120000-{host}",
                        "backend": "tensorflow",
                        "device": device,
                        "device_kind": "gpu",
                        "device_name": model,
                        "workload": case.split("[")[0],
                        "name": name,
                        "throughput": value,
                        "throughput_unit": "GFLOP/s",
                        "median_s": 1.0 / value,
                        **BASE_FACTS,
                        **(facts or {}).get(host, {}),
                    }
                )
    return pd.DataFrame(rows)


def verdicts(result: fleet.FleetResult) -> dict[tuple[str, str], str]:
    """(host, device) -> verdict."""
    return {(r.host, r.device): r.verdict for r in result.units.itertuples()}


def test_one_host_20_percent_slow_is_the_only_one_flagged():
    frame = fleet_frame({"n1": 1.0, "n2": 1.01, "n3": 0.8, "n4": 0.99}, noise=0.02)
    result = judge(frame)
    assert result.slow_hosts == ["n3"]
    assert verdicts(result) == {
        ("n1", "GPU:0"): "ok",
        ("n2", "GPU:0"): "ok",
        ("n3", "GPU:0"): "slow",
        ("n4", "GPU:0"): "ok",
    }
    slow = result.units.set_index("host").loc["n3"]
    assert slow["ratio"] == pytest.approx(0.8, abs=0.03)
    assert slow["low"] < slow["ratio"] < slow["high"] < 0.98
    assert slow["cases"] == len(CASES)
    assert len(slow["slow_cases"]) == len(CASES)  # every case shows it
    assert slow["outlier"]  # far outside the spread of the healthy hosts
    assert result.exit_code == 1


def test_three_hosts_are_enough_and_the_fleet_median_is_not_pulled_by_the_slow_one():
    result = judge(fleet_frame({"n1": 1.0, "n2": 1.0, "n3": 0.8}, noise=0.01))
    units = result.units.set_index("host")
    assert result.slow_hosts == ["n3"]
    assert units.at["n3", "ratio"] == pytest.approx(0.8, abs=0.02)
    assert units.at["n1", "verdict"] == "ok"


@pytest.mark.parametrize("seed", range(5))
def test_a_a_noise_flags_nobody(seed):
    hosts = {f"n{i}": 1.0 for i in range(6)}
    result = judge(fleet_frame(hosts, noise=0.05, seed=seed))
    assert result.slow_hosts == []
    assert set(result.units["verdict"]) == {"ok"}
    assert result.exit_code == 0


def test_a_host_slow_in_one_case_only_is_not_flagged_but_its_workload_shows():
    per_case = {("n2", "GPU:0", "transfer[tensorflow-{d}-h2d-64MiB]"): 0.5}
    result = judge(fleet_frame({"n1": 1.0, "n2": 1.0, "n3": 1.0, "n4": 1.0}, noise=0.01, per_case=per_case))
    n2 = result.units.set_index("host").loc["n2"]
    assert n2["verdict"] == "ok"
    assert "transfer 0.50x" in n2["workloads"]


def test_a_slow_host_with_another_driver_names_the_driver_as_likely_cause():
    facts = {
        "n3": {
            "nvidia_driver": "550.54.15",
            "sm_clock_mhz": 1410.0,
            "throttled": "hw_thermal_slowdown",
            "pcie_link": "gen4 x8",
        }
    }
    result = judge(fleet_frame({"n1": 1.0, "n2": 1.0, "n3": 0.8, "n4": 1.0}, noise=0.01, facts=facts))
    causes = result.units.set_index("host").at["n3", "causes"]
    assert "NVIDIA driver: 550.54.15 (peers: 560.35.03 on 3 of 3 hosts)" in causes
    assert "SM clock under load (MHz): 1410 (peers' median 1980)" in causes
    assert "GPU clock-event (throttle) reasons: hw_thermal_slowdown (peers: none on 3 of 3 hosts)" in causes
    assert "PCIe link under load: gen4 x8 (peers: gen5 x16 on 3 of 3 hosts)" in causes
    assert not any(c.startswith("CUDA build") or c.startswith("framework") for c in causes)
    markdown = fleet.to_markdown(result)
    assert "likely causes: GPU clock-event (throttle) reasons: hw_thermal_slowdown" in markdown


def test_a_slow_host_with_nothing_different_says_so():
    result = judge(fleet_frame({"n1": 1.0, "n2": 1.0, "n3": 0.8, "n4": 1.0}))
    assert result.units.set_index("host").at["n3", "causes"] == []
    assert "likely causes: none recorded" in fleet.to_markdown(result)


def test_a_split_fleet_has_no_majority_cause():
    facts = {"n1": {"nvidia_driver": "550"}, "n2": {"nvidia_driver": "550"}}
    assert fleet.likely_causes(
        fleet_frame({"n1": 1, "n2": 1, "n3": 1}, facts=facts).drop_duplicates("host").set_index("host"),
        "n3",
        ["n1", "n2"],
        gpu=True,
    ) == ["NVIDIA driver: 560.35.03 (peers: 550 on 2 of 2 hosts)"]
    tie = {"n1": {"nvidia_driver": "550"}}
    frame = fleet_frame({"n1": 1, "n2": 1, "n3": 1}, facts=tie).drop_duplicates("host").set_index("host")
    assert fleet.likely_causes(frame, "n3", ["n1", "n2"], gpu=True) == []  # 1 vs 1: no majority


def test_gpu_facts_are_not_causes_for_cpu_cases():
    frame = fleet_frame({"n1": 1, "n2": 1, "n3": 1}, facts={"n3": {"nvidia_driver": "550"}})
    table = frame.drop_duplicates("host").set_index("host")
    assert fleet.likely_causes(table, "n3", ["n1", "n2"], gpu=False) == []


def test_missing_hosts_are_listed_from_a_host_list_or_counted():
    frame = fleet_frame({"n1": 1.0, "n2": 1.0, "n3": 1.0})
    result = judge(frame, expected=["n1", "n2", "n3", "n4", "n5"])
    assert result.missing == ["n4", "n5"] and result.missing_count == 2
    assert result.exit_code == 1
    assert "**Missing hosts** (2): n4, n5" in fleet.to_markdown(result)
    counted = judge(frame, expect_count=4)
    assert counted.missing == [] and counted.missing_count == 1 and counted.exit_code == 1
    extra = judge(frame, expected=["n1", "n2"])
    assert extra.missing_count == 0 and extra.unexpected == ["n3"] and extra.exit_code == 0


def test_two_hosts_of_a_model_are_not_judged():
    result = judge(fleet_frame({"n1": 1.0, "n2": 0.5}))
    assert set(result.units["verdict"]) == {"not judged"}
    assert (
        result.units["reason"].iloc[0] == "2 host(s) with NVIDIA H100 80GB HBM3: at least 3 are needed to tell "
        "which one is slow"
    )
    assert result.exit_code == 2  # nothing judged is not a pass
    assert "nothing judged" in fleet.summary_line(result)


def test_too_few_shared_cases_are_not_judged():
    frame = fleet_frame({"n1": 1.0, "n2": 1.0, "n3": 0.5})
    frame = frame[frame["workload"] == "mnist"]  # two cases
    result = judge(frame)
    assert set(result.units["verdict"]) == {"not judged"}
    assert "2 case(s) shared with its peers: at least 3 are needed" in set(result.units["reason"])


def test_models_are_judged_apart():
    a100 = fleet_frame({"a1": 0.5, "a2": 0.5, "a3": 0.5}, model="NVIDIA A100-SXM4-80GB")
    h100 = fleet_frame({"h1": 1.0, "h2": 1.0, "h3": 1.0})
    result = judge(pd.concat([a100, h100], ignore_index=True))
    assert result.slow_hosts == []  # the A100s are slower than the H100s, but not than each other
    assert len(result.units) == 6


def test_one_slow_gpu_of_a_multi_gpu_host_is_flagged_with_its_device():
    devices = ("GPU:0", "GPU:1", "GPU:2", "GPU:3")
    per_case = {("n2", "GPU:3", case): 0.75 for case in CASES}
    result = judge(fleet_frame({"n1": 1.0, "n2": 1.0, "n3": 1.0}, devices=devices, noise=0.01, per_case=per_case))
    slow = result.units[result.units["verdict"] == "slow"]
    assert list(zip(slow["host"], slow["device"], strict=True)) == [("n2", "GPU:3")]
    assert result.slow_hosts == ["n2"]


def test_throughput_missing_falls_back_to_the_median_time():
    frame = fleet_frame({"n1": 1.0, "n2": 1.0, "n3": 0.8})
    frame["throughput"] = None
    assert judge(frame).slow_hosts == ["n3"]


def test_the_bootstrap_is_seeded():
    frame = fleet_frame({"n1": 1.0, "n2": 1.0, "n3": 0.85, "n4": 1.0}, noise=0.05)
    first, again = judge(frame), judge(frame)
    assert first.units["low"].tolist() == again.units["low"].tolist()
    other = judge(frame, Options(seed=7))
    assert other.units["ratio"].tolist() == first.units["ratio"].tolist()


def test_the_threshold_and_the_interval_decide():
    frame = fleet_frame({"n1": 1.0, "n2": 1.0, "n3": 0.88, "n4": 1.0}, noise=0.005)
    assert judge(frame).slow_hosts == ["n3"]  # 12 % slow, beyond the default 10 %
    assert judge(frame, Options(threshold=0.15)).slow_hosts == []
    # half of the cases 30 % slow, half not: the median ratio is below 0.9 but the interval reaches 1
    split = {("n3", "GPU:0", case): (0.7 if i % 2 else 1.0) for i, case in enumerate(CASES)}
    result = judge(fleet_frame({"n1": 1.0, "n2": 1.0, "n3": 1.0, "n4": 1.0}, per_case=split))
    n3 = result.units.set_index("host").loc["n3"]
    assert n3["ratio"] <= 0.9 and n3["high"] >= 0.98
    assert n3["verdict"] == "ok" and result.slow_hosts == []


def test_fast_hosts_are_shown_but_do_not_fail():
    result = judge(fleet_frame({"n1": 1.0, "n2": 1.0, "n3": 1.3, "n4": 1.0}, noise=0.01))
    assert verdicts(result)[("n3", "GPU:0")] == "fast"
    assert result.exit_code == 0


@pytest.mark.parametrize(
    ("name", "device", "key"),
    [
        ("test_matmul[tensorflow-GPU:3-n1024-float32]", "GPU:3", "test_matmul[tensorflow-GPU-n1024-float32]"),
        ("test_matmul[tensorflow-GPU:1-n1024-float32]", "GPU:10", "test_matmul[tensorflow-GPU:1-n1024-float32]"),
        ("test_matmul[torch-GPU:10-n1024]", "GPU:1", "test_matmul[torch-GPU:10-n1024]"),
        ("test_mnist[tensorflow-CPU:0-eager]", "CPU:0", "test_mnist[tensorflow-CPU-eager]"),
        ("test_mnist[x]", None, "test_mnist[x]"),
    ],
)
def test_case_key_takes_out_the_device_index_only(name, device, key):
    assert case_key(name, device) == key


def test_json_is_plain_json():
    result = judge(fleet_frame({"n1": 1.0, "n2": 1.0, "n3": 0.8, "n4": 1.0}), expected=["n1", "n2", "n3", "n4", "n9"])
    document = json.loads(json.dumps(fleet.to_json(result), allow_nan=False))
    assert document["slow_hosts"] == ["n3"]
    assert document["missing_hosts"] == ["n9"]
    assert document["exit_code"] == 1
    n3 = next(u for u in document["units"] if u["host"] == "n3")
    assert n3["verdict"] == "slow" and n3["ratio"] == pytest.approx(0.8)
    assert n3["slow_cases"][0]["case"].startswith("test_")
    assert len(document["ratios"]) == 4 * len(CASES)


def test_an_empty_frame_judges_nothing_and_says_it_saw_no_host():
    result = judge(
        pd.DataFrame(
            columns=["host", "device", "device_kind", "device_name", "workload", "name", "throughput", "median_s"]
        )
    )
    assert result.units.empty and result.hosts == [] and result.exit_code == 2
    assert fleet.summary_line(result) == "0 host(s); no slow host; nothing judged (no measured case)"
    assert math.isnan(fleet.case_ratios(fleet_frame({"a": 1, "b": 1}), Options()).iloc[0]["ratio"])


def test_the_fleet_plot_draws_one_artist_per_verdict_and_every_host_labelled():
    """256 hosts drew 256 error bars and measured every label several times (seconds): now one per colour, and
    each label is one Text rather than a y tick of five artists."""
    from reports.fleet_page import plot_fleet

    hosts = {f"n{i:03d}": 1.0 for i in range(40)} | {"slow": 0.7}
    result = judge(fleet_frame(hosts, noise=0.01))
    figure = plot_fleet(result)
    ax = figure.axes[0]
    assert len(ax.containers) == 2  # ok and slow
    labels = [text.get_text() for text in ax.texts if text.get_gid() == "unit-label"]  # one Text each, no ticks
    assert ax.get_yticks().size == 0
    assert sorted(labels) == sorted(f"{host} GPU:0" for host in hosts)
    assert labels[-1] == "slow GPU:0"  # by ratio, the slowest last
    assert ax.get_ylim() == (40.5, -0.5)  # first unit on top, no empty rows at the ends


def test_the_workloads_of_every_unit_are_its_median_ratio_per_workload():
    per_case = {
        ("n2", "GPU:1", "mnist[tensorflow-{d}-eager]"): 0.5,
        ("n2", "GPU:1", "mnist[tensorflow-{d}-function]"): 0.7,
    }
    frame = fleet_frame({"n1": 1.0, "n2": 1.0, "n3": 1.0}, devices=("GPU:0", "GPU:1"), per_case=per_case)
    units = judge(frame).units.set_index(["host", "device"])
    assert units.at[("n2", "GPU:1"), "workloads"] == "matmul 1.00x, mnist 0.60x, transfer 1.00x"
    assert units.at[("n2", "GPU:0"), "workloads"] == "matmul 1.00x, mnist 1.00x, transfer 1.00x"
