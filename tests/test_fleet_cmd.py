"""`python -m reports fleet`: finding runs in fleet folders, host facts, exit codes, outputs and bad input.

On the golden fleet (tests/data/fleet): four A100 hosts of one model; node-c is 20 % slower on every case (its
GPU held down by a thermal slowdown), node-d runs another NVIDIA driver but is as fast as its peers.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from reports import cli
from reports.fleet import FACTS
from reports.fleet_cmd import expand
from reports.fleet_facts import fleet_frame, host_facts, newest_runs
from reports.fleet_page import fleet_section
from reports.load import read_run
from results_format import read
from tests.golden_runs import (
    BAD,
    FLEET_RUNS,
    GPUBOX,
    LAPTOP,
    WORKSTATION,
    derive,
    fleet_folder,
    fleet_run,
    rename_host,
)

A100 = "NVIDIA A100-SXM4-80GB"


def fleet(*args: str) -> tuple[int, str, str]:
    """Run `python -m reports fleet ARGS`; exit code, stdout, stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(["fleet", *args])
    return code, out.getvalue(), err.getvalue()


def runs_of(*hosts: str) -> list[Path]:
    """The golden fleet runs of these hosts."""
    return [fleet_run(host) for host in hosts]


def as_run_of(host: str, when: str) -> Any:
    """A change for `derive`: the run becomes `host`'s, made at `when` (ISO 8601)."""

    def change(data: dict[str, Any]) -> None:
        rename_host(data, host)
        data["datetime"] = when

    return change


def stopped_by_sigterm(host: str, when: str) -> Any:
    """A change for `derive`: the run becomes `host`'s, made at `when`, and was stopped by SIGTERM."""

    def change(data: dict[str, Any]) -> None:
        as_run_of(host, when)(data)
        data["devicebench"]["run"].update(state="interrupted", complete=False, reason="stopped by SIGTERM")

    return change


@pytest.fixture
def four_hosts(tmp_path: Path) -> Path:
    """The golden fleet laid out as the Slurm and Kubernetes jobs write it: <fleet>/<host>/<run>/ and latest."""
    return fleet_folder(tmp_path / "fleet")


def test_host_facts_has_every_fact_column_and_reads_the_run():
    facts = host_facts(read_run(fleet_run("node-c")))
    assert set(facts) == {fact.column for fact in FACTS}
    assert facts == {
        "health": "healthy",  # slow, but its GPU reports no fault (bench.health)
        "throttled": "sw_thermal_slowdown",
        "sm_clock_mhz": 1128.0,  # 80 % of the A100's 1410 MHz
        "pcie_link": "gen4 x16",  # the A100 SXM4's link
        "gpu_max_sm_clock_mhz": "1410",
        "gpu_power_limit_w": "400",
        "nvidia_driver": "550.90.07",
        "cuda_driver": "12.4",
        "cuda": "tensorflow 12.5.1",
        "cudnn": "tensorflow 9",
        "frameworks": "tensorflow 2.21.0",
        "cpu_model": "Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz",
        "cpu_cores": 32,
        "container_image": "devicebench:gpu-0.2.0",
        "python": "3.11.11",
    }
    peers = [host_facts(read_run(fleet_run(host))) for host in ("node-a", "node-b", "node-d")]
    assert [(f["throttled"], f["sm_clock_mhz"]) for f in peers] == [("none", 1410.0)] * 3
    assert [f["nvidia_driver"] for f in peers] == ["550.90.07", "550.90.07", "555.42.06"]


def test_host_facts_read_each_case_on_its_own_gpu(tmp_path: Path):
    """The workstation's GPU:0 is NVML's GPU 1 (and GPU:1 NVML's 0): a throttled idle GPU is not the case's."""
    record = read(WORKSTATION)
    index = {d.name: str(d.nvml_index) for d in record.machine_info.devicebench.devices if d.nvml_index is not None}
    assert index == {"GPU:0": "1", "GPU:1": "0"}

    def throttle_the_other_gpu(data: dict[str, Any]) -> None:
        for bench in data["benchmarks"]:
            info = bench["extra_info"]
            for gpu, summary in (info.get("nvml") or {}).items():
                if info["device_kind"] == "gpu" and gpu != index[info["device"]]:
                    summary.update(throttled=True, throttle_reasons=["hw_thermal_slowdown"])

    facts = host_facts(read_run(derive(WORKSTATION, tmp_path / WORKSTATION.name, throttle_the_other_gpu)))
    assert facts["throttled"] == "none"
    assert facts["gpu_max_sm_clock_mhz"] == "1560, 2520" and facts["gpu_power_limit_w"] == "140, 450"


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
    def on_an_h200(data: dict[str, Any]) -> None:
        block = data["machine_info"]["devicebench"]
        block["nvml"] = H200_MACHINE_NVML
        del block["nvidia_driver"]
        for bench in data["benchmarks"]:
            if bench["extra_info"]["device_kind"] == "gpu":
                bench["extra_info"]["nvml"] = H200_CASE_NVML

    facts = host_facts(read_run(derive(fleet_run("node-a"), tmp_path / "h200", on_an_h200)))
    assert facts["nvidia_driver"] == "580.159.04"  # from NVML when the block has no nvidia_driver
    assert facts["cuda_driver"] == "13.0"
    assert facts["gpu_power_limit_w"] == "700" and facts["gpu_max_sm_clock_mhz"] == "1980"
    assert facts["sm_clock_mhz"] == 1980.0
    assert facts["throttled"] == "none"  # the power cap at full load is expected, not a cause
    assert facts["pcie_link"] == "gen5 x16"


def test_host_facts_of_a_cpu_run_without_nvml_are_unknown_not_invented():
    facts = host_facts(read_run(LAPTOP))
    assert facts["throttled"] is None and facts["sm_clock_mhz"] is None and facts["nvidia_driver"] is None
    assert facts["pcie_link"] is None and facts["gpu_max_sm_clock_mhz"] is None and facts["gpu_power_limit_w"] is None
    assert facts["cuda"] is None and facts["cudnn"] is None and facts["frameworks"] == "tensorflow 2.21.0"
    assert facts["cpu_model"] == "AMD Ryzen 7 5800U with Radeon Graphics" and facts["cpu_cores"] == 8


def test_four_hosts_one_slow_exits_1_and_names_host_device_cases_and_causes(four_hosts: Path, tmp_path: Path):
    out_json = tmp_path / "out" / "fleet.json"
    out_md = tmp_path / "out" / "fleet.md"
    code, stdout, stderr = fleet(str(four_hosts), "--json", str(out_json), "--markdown", str(out_md))
    assert code == 1, stderr
    assert stdout.startswith("## Fleet: 4 host(s); slow: node-c\n")
    slow = next(line for line in stdout.splitlines() if line.startswith(f"| slow | {A100} "))
    assert f"| slow | {A100} | node-c | GPU:0 | 0.80x |" in slow  # every scripted time x 1.25
    assert "slow cases: test_" in slow and "[tensorflow-GPU-" in slow  # device index taken out of the case
    assert "GPU clock-event (throttle) reasons: sw_thermal_slowdown (peers: none on 3 of 3 hosts)" in slow
    assert "SM clock under load (MHz): 1128 (peers' median 1410)" in slow
    assert "NVIDIA driver" not in slow  # node-c runs the majority's driver
    cpu = next(line for line in stdout.splitlines() if line.startswith("| slow | Intel"))
    assert "| node-c | CPU:0 | 0.80x |" in cpu  # the whole host is slower, so its CPU cases too
    ok = [line for line in stdout.splitlines() if line.startswith("| ok ")]
    assert len(ok) == 6 and any("| node-d | GPU:0 |" in line for line in ok)  # another driver, as fast
    assert out_md.read_text() == stdout
    document = json.loads(out_json.read_text())
    assert document["slow_hosts"] == ["node-c"] and document["exit_code"] == 1
    assert document["runs"]["node-c"] == str((four_hosts / "node-c" / fleet_run("node-c").name).resolve())
    assert stderr == ""


def test_a_healthy_fleet_exits_0(tmp_path: Path):
    code, stdout, _ = fleet(str(fleet_folder(tmp_path / "fleet", runs_of("node-a", "node-b", "node-d"))))
    assert code == 0
    assert "no slow host" in stdout.splitlines()[0]


def test_the_newest_run_of_each_host_is_used(four_hosts: Path):
    fixed = four_hosts / "node-c" / "20261125-030000-node-c"
    derive(fleet_run("node-a"), fixed, as_run_of("node-c", "2026-11-25T03:00:00+00:00"))  # repaired since
    (four_hosts / "node-c" / "latest").unlink()
    (four_hosts / "node-c" / "latest").symlink_to(fixed.name)
    code, stdout, stderr = fleet(str(four_hosts))
    assert code == 0, stdout
    assert "left out 1 other run(s)" in stderr


def test_run_folders_can_be_given_one_by_one_or_as_a_flat_results_folder(four_hosts: Path, tmp_path: Path):
    runs = sorted(str(p) for p in four_hosts.glob("*/2026*"))
    assert len(runs) == 4 and fleet(*runs)[0] == 1
    flat = tmp_path / "flat"
    for run in FLEET_RUNS:
        shutil.copytree(run, flat / run.name)
    (flat / "latest").symlink_to(FLEET_RUNS[-1].name)  # links are not runs of their own
    (flat / "baselines" / "main").mkdir(parents=True)
    assert len(expand([flat])) == 4
    assert fleet(str(flat))[0] == 1


def test_missing_hosts_from_a_hosts_file_fail_the_check(tmp_path: Path):
    folder = fleet_folder(tmp_path / "fleet", runs_of("node-a", "node-b", "node-d"))
    hosts = tmp_path / "hosts.txt"
    hosts.write_text("# the A100 nodes\nnode-a\nnode-b\nnode-d\nnode-e   # in repair\n\n")
    code, stdout, _ = fleet(str(folder), "--hosts-file", str(hosts))
    assert code == 1
    assert "**Missing hosts** (1): node-e" in stdout
    assert fleet(str(folder), "--expect-hosts", "3")[0] == 0
    code, stdout, _ = fleet(str(folder), "--expect-hosts", "5")
    assert code == 1 and "**Missing hosts** (2): names unknown" in stdout


def test_two_hosts_are_reported_but_not_judged(tmp_path: Path):
    code, stdout, stderr = fleet(str(fleet_folder(tmp_path / "fleet", runs_of("node-a", "node-c"))))
    assert code == 2 and stderr.startswith("error: nothing judged: ")  # a check that judged nothing is not a pass
    assert "at least 3 are needed to tell which one is slow" in stdout


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda root: None, "folder has no benchmarks.json"),
        (lambda root: (root / "h" / "20261126-120000-h").mkdir(parents=True), "folder has no benchmarks.json"),
        (
            lambda root: (
                (root / "20261126-120000-h").mkdir()
                or shutil.copy(BAD / "truncated.json", root / "20261126-120000-h" / "benchmarks.json")
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
    broken = four_hosts / "node-e" / "20261124-032000-node-e"
    broken.mkdir(parents=True)
    shutil.copy(BAD / "truncated.json", broken / "benchmarks.json")
    assert fleet(str(four_hosts))[0] == 2
    code, stdout, stderr = fleet(str(four_hosts), "--skip-bad", "--expect-hosts", "5")
    assert code == 1
    assert "skipped: " in stderr and "node-e" in stderr and "truncated JSON" in stderr
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
    old = derive(fleet_run("node-a"), tmp_path / "z" / "20261126-120000-h", as_run_of("h", "2026-11-26T12:00:00+00:00"))
    new = derive(fleet_run("node-c"), tmp_path / "a" / "20261126-130000-h", as_run_of("h", "2026-11-26T13:00:00+00:00"))
    other = derive(
        fleet_run("node-b"), tmp_path / "a" / "20261126-120000-g", as_run_of("g", "2026-11-26T12:00:00+00:00")
    )
    frame, older = fleet_frame([read_run(old), read_run(new), read_run(other)])
    assert [r.folder for r in older] == [old.resolve()]
    assert sorted(frame["run"].unique()) == [other.name, new.name]
    newest = max(b.extra_info.throughput or 0.0 for b in read(fleet_run("node-c")).benchmarks)
    assert frame.loc[frame["host"] == "h", "throughput"].max() == pytest.approx(newest)
    assert set(frame.loc[frame["host"] == "h", "throttled"]) == {"sw_thermal_slowdown"}  # the facts ride along


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
    assert "<p>4 host(s); slow: node-c.</p>" in section
    assert '<img src="data:image/svg+xml;base64,' in section
    assert f"<tr><td>slow</td><td>{A100}</td><td>node-c</td><td>GPU:0</td>" in section
    assert "GPU clock-event (throttle) reasons: sw_thermal_slowdown (peers: none on 3 of 3 hosts)" in section
    assert '<a href="#fleet">Fleet</a>' in html


def test_the_html_report_of_one_host_has_no_fleet_section(four_hosts: Path, tmp_path: Path):
    page = tmp_path / "one.html"
    with contextlib.redirect_stdout(io.StringIO()):
        assert cli.main([str(four_hosts / "node-a" / "latest"), "-o", str(page)]) == 0
    assert 'id="fleet"' not in page.read_text()


def test_hosts_without_a_device_model_in_common_get_no_fleet_section():
    assert fleet_section([read_run(p) for p in (GPUBOX, LAPTOP, WORKSTATION)]) is None
    two = fleet_section([read_run(fleet_run("node-a")), read_run(fleet_run("node-c"))])
    assert two is not None and "nothing judged" in two["summary"]


def test_each_host_is_judged_on_its_newest_complete_run():
    frame = pd.DataFrame(
        {
            "host": ["h", "h", "h", "g"],
            "run": ["r1", "r1", "r2", "r3"],
            "datetime": ["2026-11-26T12:00:00+00:00"] * 2 + ["2026-11-26T13:00:00+00:00", "2026-11-26T12:00:00+00:00"],
        }
    )
    # h's newer run r2 was stopped: its complete r1 is used; g has only an incomplete run, so that one
    assert newest_runs(frame, complete={("h", "r1")}).to_dict("records") == [
        {"host": "g", "run": "r3"},
        {"host": "h", "run": "r1"},
    ]
    assert newest_runs(frame).to_dict("records") == [{"host": "g", "run": "r3"}, {"host": "h", "run": "r2"}]


def test_a_newer_interrupted_run_does_not_hide_a_hosts_complete_one(four_hosts: Path):
    stopped = four_hosts / "node-c" / "20261125-030000-node-c"
    derive(fleet_run("node-a"), stopped, stopped_by_sigterm("node-c", "2026-11-25T03:00:00+00:00"))
    code, stdout, stderr = fleet(str(four_hosts))
    assert code == 1 and "slow: node-c" in stdout.splitlines()[0]  # still judged on its complete, slow run
    assert "newest complete run of each host; left out 1 other run(s)" in stderr


def test_a_host_with_only_an_incomplete_run_is_judged_on_it_and_says_so(tmp_path: Path):
    fleet_dir = fleet_folder(tmp_path / "fleet", runs_of("node-a", "node-b", "node-d"))
    derive(fleet_run("node-c"), fleet_dir / "node-c" / "x", stopped_by_sigterm("node-c", "2026-11-24T03:10:00+00:00"))
    code, stdout, stderr = fleet(str(fleet_dir), "--json", str(tmp_path / "fleet.json"))
    assert code == 1
    note = "note: node-c has no complete run; judged on its newest, incomplete (interrupted): stopped by SIGTERM"
    assert note in stderr
    row = next(line for line in stdout.splitlines() if line.startswith("| slow | NVIDIA"))
    assert "| node-c |" in row and "no complete run: judged on an incomplete (interrupted): stopped by SIGTERM" in row
    units = json.loads((tmp_path / "fleet.json").read_text())["units"]
    assert {u["host"]: u["run_state"] for u in units if u["device"] == "GPU:0"} == {
        "node-a": "complete",
        "node-b": "complete",
        "node-c": "incomplete (interrupted): stopped by SIGTERM",
        "node-d": "complete",
    }


def test_html_is_the_report_of_the_runs_judged(four_hosts: Path, tmp_path: Path):
    stopped = four_hosts / "node-c" / "20261125-030000-node-c"
    derive(fleet_run("node-a"), stopped, stopped_by_sigterm("node-c", "2026-11-25T03:00:00+00:00"))
    page = tmp_path / "out" / "fleet.html"
    json_path = str(tmp_path / "fleet.json")
    code, stdout, stderr = fleet(str(four_hosts), "--html", str(page), "--json", json_path, "--detail", "4")
    assert code == 1 and stdout.startswith("## Fleet: 4 host(s); slow: node-c")
    assert f"wrote {page} and fleet.csv (" in stderr and "from 4 run(s))" in stderr
    html = page.read_text()
    assert "<p>4 host(s); slow: node-c.</p>" in html
    assert stopped.name not in html  # the interrupted run is not among the runs shown
    used = json.loads((tmp_path / "fleet.json").read_text())["runs"]
    assert {Path(folder).name for folder in used.values()} == {p.name for p in FLEET_RUNS}


def _store_of(*runs: Path, store: Path) -> Path:
    """A DuckDB store with `runs` ingested."""
    with contextlib.redirect_stdout(io.StringIO()):
        assert cli.main(["ingest", *map(str, runs), "--store", str(store)]) == 0
    return store


def test_the_store_gives_the_verdicts_of_the_run_files(four_hosts: Path, tmp_path: Path):
    stopped = four_hosts / "node-c" / "20261125-030000-node-c"  # newer, interrupted: not the run judged
    derive(fleet_run("node-a"), stopped, stopped_by_sigterm("node-c", "2026-11-25T03:00:00+00:00"))
    only = tmp_path / "e" / "20261120-030000-node-e"  # a host with no complete run: judged on it, and says so
    derive(fleet_run("node-a"), only, stopped_by_sigterm("node-e", "2026-11-20T03:00:00+00:00"))
    runs = [*sorted(four_hosts.glob("*/2*")), only]
    store = _store_of(*runs, store=tmp_path / "s.duckdb")
    options = ["--threshold", "0.05", "--expect-hosts", "6"]
    code, md, err = fleet(*map(str, runs), "--json", str(tmp_path / "files.json"), *options)
    stored_code, stored_md, stored_err = fleet("--store", str(store), "--json", str(tmp_path / "s.json"), *options)
    assert code == stored_code == 1 and md == stored_md and "slow: node-c" in md
    assert "likely causes: GPU clock-event (throttle) reasons: sw_thermal_slowdown" in md
    files, stored = (json.loads((tmp_path / name).read_text()) for name in ("files.json", "s.json"))
    assert files == stored
    note = "note: node-e has no complete run; judged on its newest, incomplete (interrupted): stopped by SIGTERM"
    assert note in stored_err.splitlines() and note in err.splitlines()


def test_the_store_reads_only_the_run_shown_and_judges_every_host(four_hosts: Path, tmp_path: Path, monkeypatch):
    from reports.store import queries

    store = _store_of(*sorted(four_hosts.glob("*/latest")), store=tmp_path / "s.duckdb")
    read: list[str] = []
    detail_runs = queries.detail_runs
    monkeypatch.setattr(
        "reports.store.fleet_rows.detail_runs", lambda s, keys: read.extend(keys) or detail_runs(s, keys)
    )
    page = tmp_path / "fleet.html"
    code, _, stderr = fleet("--store", str(store), "--html", str(page))
    assert code == 1 and "from 1 run(s))" in stderr and len(read) == 1  # --detail 1 by default
    html = page.read_text()
    section = html[html.index('<section id="fleet">') : html.index("</section>", html.index('<section id="fleet">'))]
    assert "<p>4 host(s); slow: node-c.</p>" in section  # every host judged, from the stored rows
    assert all(f"<td>{host}</td>" in section for host in ("node-a", "node-b", "node-c", "node-d"))


def test_a_store_without_the_fleet_facts_of_a_run_reads_its_document(four_hosts: Path, tmp_path: Path):
    from reports.store.db import opened

    store = _store_of(*sorted(four_hosts.glob("*/latest")), store=tmp_path / "s.duckdb")
    code, md, _ = fleet("--store", str(store))
    with opened(store, write=True) as db:  # as a migrating ingest stopped before it filled the table
        db.execute("DELETE FROM fleet_facts WHERE run_key LIKE 'node-c/%'")
    assert fleet("--store", str(store))[:2] == (code, md) and "likely causes: GPU clock-event" in md
