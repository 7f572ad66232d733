"""`python -m reports fleet`: finding runs in fleet folders, host facts, exit codes, outputs and bad input."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

import pytest

from reports import cli
from reports.fleet import FACTS
from reports.fleet_cmd import expand, fleet_frame
from reports.fleet_facts import host_facts
from reports.load import read_run

H100 = "NVIDIA H100 80GB HBM3"
CASES = {"n1024-float32": 40_000.0, "n4096-float32": 50_000.0, "n4096-bfloat16": 400_000.0, "n8192-float16": 6e5}


def benchmark(host: str, case: str, throughput: float, *, device: str = "GPU:0", throttled: bool = False) -> dict:
    """One pytest-benchmark entry as devicebench writes it (the fields the fleet report reads)."""
    median = 1.0 / throughput
    return {
        "group": f"matmul {case} tensorflow",
        "name": f"test_matmul[tensorflow-{device}-{case}]",
        "params": {"case": f"tensorflow-{device}-{case}"},
        "extra_info": {
            "workload": "matmul",
            "backend": "tensorflow",
            "backend_version": "2.21.0",
            "device": device,
            "device_kind": "gpu",
            "device_name": H100,
            "params": {"n": int(case.split("-")[0][1:]), "dtype": case.split("-")[1]},
            "throughput": throughput,
            "throughput_unit": "GFLOP/s",
            "nvml": {
                "0": {
                    "name": H100,
                    "max_sm_clock_mhz": 1410 if throttled else 1980,
                    "throttled": throttled,
                    "throttle_reasons": ["hw_thermal_slowdown"] if throttled else [],
                },
                "1": {"name": H100, "max_sm_clock_mhz": 345, "throttled": False, "throttle_reasons": []},
            },
        },
        "stats": {"median": median, "iqr": median * 0.01, "rounds": 5, "iterations": 1, "data": [median] * 5},
    }


def run_json(
    host: str,
    factor: float,
    *,
    driver: str = "560.35.03",
    stamp: str = "2026-11-26T12:00:00+00:00",
    throttled: bool = False,
) -> dict[str, Any]:
    """A whole benchmarks.json of one host whose throughput is `factor` times a healthy host's."""
    return {
        "machine_info": {
            "node": host,
            "python_version": "3.12.3",
            "cpu": {"brand_raw": "Intel(R) Xeon(R) Platinum 8480+", "count": 112},
            "devicebench": {
                "backends": {
                    "tensorflow": {
                        "available": True,
                        "version": "2.21.0",
                        "cuda_version": "12.5.1",
                        "cudnn_version": "9",
                        "built_with_cuda": True,
                    },
                    "torch": {"available": False, "reason": "not installed"},
                },
                "devices": [
                    {"backend": "tensorflow", "name": "CPU:0", "kind": "cpu", "model": "Xeon", "nvml_index": None},
                    {"backend": "tensorflow", "name": "GPU:0", "kind": "gpu", "model": H100, "nvml_index": 0},
                ],
                "cpu_model": "Intel(R) Xeon(R) Platinum 8480+",
                "cpu_cores": 112,
                "container_image": "devicebench:gpu",
                "nvidia_driver": driver,
                "nvml": {
                    "enabled": True,
                    "driver_version": driver,
                    "cuda_driver_version": "12.6",
                    "gpus": [{"index": 0, "name": H100, "power_limit_w": 700.0, "max_sm_clock_mhz": 1980}],
                },
            },
        },
        "commit_info": {"id": "abc"},
        "benchmarks": [benchmark(host, c, t * factor, throttled=throttled) for c, t in CASES.items()],
        "datetime": stamp,
        "version": "5.1.0",
    }


def write_run(root: Path, host: str, factor: float, stamp: str = "20261126-120000", **kwargs: Any) -> Path:
    """<root>/<host>/<stamp>-<host>/benchmarks.json, the layout the Slurm and Kubernetes jobs write."""
    folder = root / host / f"{stamp}-{host}"
    folder.mkdir(parents=True)
    iso = f"{stamp[:4]}-{stamp[4:6]}-{stamp[6:8]}T{stamp[9:11]}:{stamp[11:13]}:{stamp[13:15]}+00:00"
    (folder / "benchmarks.json").write_text(json.dumps(run_json(host, factor, stamp=iso, **kwargs)))
    (root / host / "latest").symlink_to(folder.name)
    return folder


def fleet(*args: str) -> tuple[int, str, str]:
    """Run `python -m reports fleet ARGS`; exit code, stdout, stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(["fleet", *args])
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def four_hosts(tmp_path: Path) -> Path:
    """A fleet folder of four hosts, gpu3 20 % slow with another driver and throttled clocks."""
    for host in ("gpu1", "gpu2", "gpu4"):
        write_run(tmp_path, host, 1.0)
    write_run(tmp_path, "gpu3", 0.8, driver="550.54.15", throttled=True)
    return tmp_path


def test_host_facts_has_every_fact_column_and_reads_the_run(tmp_path: Path):
    run = read_run_from(run_json("gpu3", 0.8, driver="550.54.15", throttled=True), tmp_path)
    facts = host_facts(run)
    assert set(facts) == {fact.column for fact in FACTS}
    assert facts == {
        "throttled": "hw_thermal_slowdown",
        "sm_clock_mhz": 1410.0,  # the case's own GPU (nvml_index 0), not the idle GPU 1
        "pcie_link": None,  # not recorded by this run
        "gpu_max_sm_clock_mhz": "1980",
        "gpu_power_limit_w": "700.0",
        "nvidia_driver": "550.54.15",
        "cuda_driver": "12.6",
        "cuda": "tensorflow 12.5.1",
        "cudnn": "tensorflow 9",
        "frameworks": "tensorflow 2.21.0",  # torch is not available on this host
        "cpu_model": "Intel(R) Xeon(R) Platinum 8480+",
        "cpu_cores": 112,
        "container_image": "devicebench:gpu",
        "python": "3.12.3",
    }


# NVML as the suite recorded it on an H200 (driver 580.159.04) during a torch matmul at full load.
H200_MACHINE_NVML = {
    "enabled": True,
    "driver_version": "580.159.04",
    "nvml_version": "13.580.159.04",
    "cuda_driver_version": "13.0",
    "gpus": [
        {
            "index": 0,
            "name": "NVIDIA H200",
            "power_limit_w": 700.0,
            "max_sm_clock_mhz": 1980,
            "pcie_gen_at_start": 5,
            "pcie_width_at_start": 16,
        }
    ],
}
H200_CASE_NVML = {
    "0": {
        "name": "NVIDIA H200",
        "max_sm_clock_mhz": 1980,
        "min_sm_clock_mhz": 1965,
        "mean_power_w": 666.0,
        "throttled": True,
        "throttle_reasons": ["sw_power_cap"],
        "pcie_link_gen": 5,
        "pcie_link_width": 16,
    },
}


def test_host_facts_from_a_real_h200_at_full_load(tmp_path: Path):
    data = run_json("h200", 1.0)
    block = data["machine_info"]["devicebench"]
    block["nvml"] = H200_MACHINE_NVML
    del block["nvidia_driver"]
    for bench in data["benchmarks"]:
        bench["extra_info"]["nvml"] = H200_CASE_NVML
    facts = host_facts(read_run_from(data, tmp_path))
    assert facts["nvidia_driver"] == "580.159.04"  # from NVML when the block has no nvidia_driver
    assert facts["cuda_driver"] == "13.0"
    assert facts["gpu_power_limit_w"] == "700.0" and facts["gpu_max_sm_clock_mhz"] == "1980"
    assert facts["sm_clock_mhz"] == 1980.0
    assert facts["throttled"] == "none"  # the power cap at full load is expected, not a cause
    assert facts["pcie_link"] == "gen5 x16"


def test_host_facts_of_a_cpu_run_without_nvml_are_unknown_not_invented(tmp_path: Path):
    data = run_json("cpu1", 1.0)
    data["machine_info"]["devicebench"] = {"backends": {"tensorflow": {"available": True, "version": "2.21.0"}}}
    for bench in data["benchmarks"]:
        bench["extra_info"].update(device_kind="cpu", nvml={})
    facts = host_facts(read_run_from(data, tmp_path))
    assert facts["throttled"] is None and facts["sm_clock_mhz"] is None and facts["nvidia_driver"] is None
    assert facts["cuda"] is None and facts["frameworks"] == "tensorflow 2.21.0"
    assert facts["cpu_model"] == "Intel(R) Xeon(R) Platinum 8480+"  # from pytest-benchmark's cpu block


def read_run_from(data: dict, folder: Path) -> Any:
    """A Run read from a dict written into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "benchmarks.json").write_text(json.dumps(data))
    return read_run(folder)


def test_four_hosts_one_slow_exits_1_and_names_host_device_cases_and_causes(four_hosts: Path, tmp_path: Path):
    out_json = tmp_path / "out" / "fleet.json"
    out_md = tmp_path / "out" / "fleet.md"
    code, stdout, stderr = fleet(str(four_hosts), "--json", str(out_json), "--markdown", str(out_md))
    assert code == 1, stderr
    assert stdout.startswith("## Fleet: 4 host(s); slow: gpu3\n")
    slow = next(line for line in stdout.splitlines() if line.startswith("| slow"))
    assert "| slow | NVIDIA H100 80GB HBM3 | gpu3 | GPU:0 | 0.80x |" in slow
    assert "slow cases: test_matmul[tensorflow-GPU-n1024-float32] 0.80x" in slow
    assert "NVIDIA driver: 550.54.15 (peers: 560.35.03 on 3 of 3 hosts)" in slow
    assert "GPU clock-event (throttle) reasons: hw_thermal_slowdown (peers: none on 3 of 3 hosts)" in slow
    assert sum(line.startswith("| ok ") for line in stdout.splitlines()) == 3
    assert out_md.read_text() == stdout
    document = json.loads(out_json.read_text())
    assert document["slow_hosts"] == ["gpu3"] and document["exit_code"] == 1
    assert document["runs"]["gpu3"] == str(four_hosts / "gpu3" / "20261126-120000-gpu3")
    assert stderr == ""


def test_a_healthy_fleet_exits_0(tmp_path: Path):
    for i, factor in enumerate((1.0, 1.01, 0.99, 1.0)):
        write_run(tmp_path, f"gpu{i}", factor)
    code, stdout, _ = fleet(str(tmp_path))
    assert code == 0
    assert "no slow host" in stdout.splitlines()[0]


def test_the_newest_run_of_each_host_is_used(four_hosts: Path):
    (four_hosts / "gpu3" / "latest").unlink()
    write_run(four_hosts, "gpu3", 1.0, stamp="20261127-120000")  # fixed since
    code, stdout, stderr = fleet(str(four_hosts))
    assert code == 0, stdout
    assert "left out 1 older run(s)" in stderr


def test_run_folders_can_be_given_one_by_one_or_as_a_flat_results_folder(four_hosts: Path, tmp_path: Path):
    runs = sorted(str(p) for p in four_hosts.glob("*/2026*"))
    assert fleet(*runs)[0] == 1
    flat = tmp_path / "flat"
    for host, factor in (("gpu1", 1.0), ("gpu2", 1.0), ("gpu3", 0.8), ("gpu4", 1.0)):
        folder = flat / f"20261126-120000-{host}"
        folder.mkdir(parents=True)
        (folder / "benchmarks.json").write_text(json.dumps(run_json(host, factor)))
    (flat / "latest").symlink_to("20261126-120000-gpu4")  # links are not runs of their own
    (flat / "baselines" / "main").mkdir(parents=True)
    assert len(expand([flat])) == 4
    assert fleet(str(flat))[0] == 1


def test_missing_hosts_from_a_hosts_file_fail_the_check(four_hosts: Path, tmp_path: Path):
    hosts = tmp_path / "hosts.txt"
    hosts.write_text("# the H100 nodes\ngpu1\ngpu2\ngpu4\ngpu5   # in repair\n\n")
    (four_hosts / "gpu3" / "latest").unlink()
    for path in (four_hosts / "gpu3").iterdir():
        (path / "benchmarks.json").unlink()
        path.rmdir()
    (four_hosts / "gpu3").rmdir()
    code, stdout, _ = fleet(str(four_hosts), "--hosts-file", str(hosts))
    assert code == 1
    assert "**Missing hosts** (1): gpu5" in stdout
    assert fleet(str(four_hosts), "--expect-hosts", "3")[0] == 0
    code, stdout, _ = fleet(str(four_hosts), "--expect-hosts", "5")
    assert code == 1 and "**Missing hosts** (2): names unknown" in stdout


def test_two_hosts_are_reported_but_not_judged(tmp_path: Path):
    write_run(tmp_path, "a", 1.0)
    write_run(tmp_path, "b", 0.5)
    code, stdout, _ = fleet(str(tmp_path))
    assert code == 0
    assert "at least 3 are needed to tell which one is slow" in stdout


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda root: None, "folder has no benchmarks.json"),
        (lambda root: (root / "h" / "20261126-120000-h").mkdir(parents=True), "folder has no benchmarks.json"),
        (
            lambda root: (
                (root / "20261126-120000-h").mkdir()
                or (root / "20261126-120000-h" / "benchmarks.json").write_text('{"benchmarks": [', encoding="utf-8")
            ),
            "truncated JSON",
        ),
    ],
)
def test_bad_input_is_one_error_line_and_exit_2(tmp_path: Path, setup, message):
    setup(tmp_path)
    code, stdout, stderr = fleet(str(tmp_path))
    assert code == 2
    assert stderr.startswith("error: ") and message in stderr and stderr.count("\n") == 1
    assert stdout == ""


def test_skip_bad_judges_the_others_and_lists_what_it_left_out(four_hosts: Path):
    broken = four_hosts / "gpu5" / "20261126-120000-gpu5"
    broken.mkdir(parents=True)
    (broken / "benchmarks.json").write_text("{")
    assert fleet(str(four_hosts))[0] == 2
    code, stdout, stderr = fleet(str(four_hosts), "--skip-bad", "--expect-hosts", "5")
    assert code == 1
    assert "skipped: " in stderr and "gpu5" in stderr
    assert "Missing hosts** (1)" in stdout


def test_usage_errors_exit_2(four_hosts: Path, tmp_path: Path):
    assert fleet(str(four_hosts), "--threshold", "1.5")[0] == 2
    assert fleet(str(four_hosts), "--min-hosts", "1")[0] == 2
    code, _, stderr = fleet(str(four_hosts), "--hosts-file", str(tmp_path / "nope.txt"))
    assert code == 2 and stderr.startswith("error: ") and "cannot read the hosts file" in stderr
    empty = tmp_path / "empty.txt"
    empty.write_text("# nobody\n")
    assert "names no host" in fleet(str(four_hosts), "--hosts-file", str(empty))[2]


def test_the_newest_run_of_a_host_is_chosen_by_its_datetime_not_its_path(tmp_path: Path):
    old = write_run(tmp_path / "z", "h", 1.0, stamp="20261126-120000")
    new = write_run(tmp_path / "a", "h", 0.5, stamp="20261126-130000")
    other = write_run(tmp_path / "a", "g", 1.0)
    frame, older = fleet_frame([read_run(old), read_run(new), read_run(other)])
    assert [r.folder for r in older] == [old.resolve()]
    assert sorted(frame["run"].unique()) == [other.name, new.name]
    assert frame.loc[frame["host"] == "h", "throughput"].max() == pytest.approx(0.5 * max(CASES.values()))
    assert set(frame.loc[frame["host"] == "h", "nvidia_driver"]) == {"560.35.03"}  # the facts ride along


def test_fleet_is_listed_in_the_top_level_help():
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert cli.main(["--help"]) == 0
    assert "fleet" in out.getvalue()


def test_the_html_report_of_several_hosts_has_a_fleet_section(four_hosts: Path, tmp_path: Path):
    out = io.StringIO()
    page = tmp_path / "fleet.html"
    with contextlib.redirect_stdout(out):
        assert cli.main([*(str(p) for p in sorted(four_hosts.glob("*/latest"))), "-o", str(page)]) == 0
    html = page.read_text()
    section = html[html.index('<section id="fleet">') : html.index("</section>", html.index('<section id="fleet">'))]
    assert "<p>4 host(s); slow: gpu3.</p>" in section
    assert '<img src="data:image/svg+xml;base64,' in section
    assert "<tr><td>slow</td><td>NVIDIA H100 80GB HBM3</td><td>gpu3</td><td>GPU:0</td>" in section
    assert "NVIDIA driver: 550.54.15 (peers: 560.35.03 on 3 of 3 hosts)" in section
    assert '<a href="#fleet">Fleet</a>' in html


def test_the_html_report_of_one_host_has_no_fleet_section(four_hosts: Path, tmp_path: Path):
    page = tmp_path / "one.html"
    with contextlib.redirect_stdout(io.StringIO()):
        assert cli.main([str(four_hosts / "gpu1" / "latest"), "-o", str(page)]) == 0
    assert 'id="fleet"' not in page.read_text()
