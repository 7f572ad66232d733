"""`compare` and `fleet` on inputs that judge nothing, on bad options, and across two hosts of the same hardware."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

import pytest

from reports import cli
from reports.compare import Options, compare
from results_format import V2_SPECS
from tests.golden_runs import COMPARE, FLEET_RUNS, derive, fleet_folder, rename_host
from tests.literal_runs import bench, run

BASELINE = COMPARE / "baseline"


def reports(*args: str) -> tuple[int, str, str]:
    """Run `python -m reports ARGS`; exit code, stdout, stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(list(args))
    return code, out.getvalue(), err.getvalue()


def one_error_line(stderr: str) -> str:
    """The single `error: ` line on stderr."""
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    return lines[0]


def no_cases(data: dict[str, Any]) -> None:
    """A change for `derive`: a complete run that measured no case."""
    data["benchmarks"] = []
    data["devicebench"]["skipped"] = []
    data["devicebench"]["run"]["measured"] = 0


@pytest.fixture
def empty(tmp_path: Path) -> Path:
    """A complete run of the compare baseline's machine with 0 cases."""
    return derive(BASELINE, tmp_path / "empty", no_cases)


@pytest.mark.parametrize("sides", ["empty baseline", "empty both"])
def test_a_comparison_that_judged_nothing_exits_2(empty: Path, tmp_path: Path, sides: str) -> None:
    """A baseline with 0 cases (against a run, or against another empty run) is not a pass."""
    current = BASELINE if sides == "empty baseline" else derive(BASELINE, tmp_path / "empty2", no_cases)
    verdicts = tmp_path / "verdicts.json"
    code, stdout, stderr = reports("compare", str(empty), str(current), "--json", str(verdicts))
    assert code == 2
    line = one_error_line(stderr)
    assert line.startswith("error: nothing judged: no case was measured in both runs")
    assert ("(6 new)" if sides == "empty baseline" else "(no cases)") in line
    assert stdout.startswith("## devicebench compare: ⛔ nothing judged")
    assert json.loads(verdicts.read_text())["exit_code"] == 2


def test_too_few_rounds_everywhere_is_nothing_judged_but_a_judged_case_passes() -> None:
    """Cases compared with too few rounds are not judged; one judged case is enough for a verdict."""
    short = run(bench("a", [0.01, 0.0101, 0.0099]))
    assert compare(short, short).judged == 0 and compare(short, short).exit_code == 2
    rounds = [0.01 + 0.0001 * (i % 7) for i in range(40)]
    both = run(bench("a", [0.01, 0.0101, 0.0099]), bench("b", rounds))
    result = compare(both, both, Options())
    assert result.judged == 1 and result.exit_code == 0


def test_a_case_missing_without_a_reason_still_fails_the_gate_when_nothing_else_was_judged(empty: Path) -> None:
    """Missing cases are a finding of their own: exit 1, not 2."""
    code, stdout, stderr = reports("compare", str(BASELINE), str(empty))
    assert code == 1 and stderr == ""
    assert stdout.startswith("## devicebench compare: ❌ cases missing without a recorded reason")


def test_a_fleet_that_judged_nothing_exits_2(empty: Path, tmp_path: Path) -> None:
    """Runs with 0 cases, and a model with too few hosts, judge no host: exit 2 with one line."""
    other = derive(BASELINE, tmp_path / "other", lambda d: (no_cases(d), rename_host(d, "cibox-2")))
    code, stdout, stderr = reports("fleet", str(empty), str(other))
    assert code == 2
    assert one_error_line(stderr) == "error: nothing judged: the runs hold no measured case"
    assert stdout.startswith("## Fleet: 0 host(s); no slow host; nothing judged (no measured case)")
    code, stdout, stderr = reports("fleet", str(fleet_folder(tmp_path / "two", FLEET_RUNS[:2])))
    assert code == 2
    line = one_error_line(stderr)
    assert line.startswith("error: nothing judged: none of 4 device(s) on 2 host(s) could be judged: ")
    assert "at least 3 are needed to tell which one is slow" in line


@pytest.mark.parametrize("command", ["compare", "fleet"])
def test_a_negative_seed_is_one_usage_line(command: str) -> None:
    """numpy refuses negative seeds: say so before reading anything."""
    paths = [str(BASELINE), str(BASELINE)] if command == "compare" else [str(FLEET_RUNS[0])]
    code, stdout, stderr = reports(command, *paths, "--seed", "-1")
    assert code == 2 and stdout == ""
    assert one_error_line(stderr) == "error: --seed must be a non-negative integer, got -1"


def test_threshold_for_an_unknown_workload_is_one_usage_line_naming_the_valid_ones() -> None:
    """A typo in --threshold-for would leave that workload at the default threshold: refuse it."""
    code, stdout, stderr = reports("compare", str(BASELINE), str(BASELINE), "--threshold-for", "mnsit=0.2")
    assert code == 2 and stdout == ""
    line = one_error_line(stderr)
    assert line.startswith("error: --threshold-for: unknown workload 'mnsit' (valid: ")
    assert all(name in line for name in V2_SPECS)
    assert reports("compare", str(BASELINE), str(BASELINE), "--threshold-for", "mnist=0.2")[0] == 0


def test_another_host_with_the_same_hardware_is_noted(tmp_path: Path) -> None:
    """Not refused (same hardware), but said at the top of the Markdown and in the JSON."""
    other = derive(BASELINE, tmp_path / "other-host", lambda d: rename_host(d, "cibox-2"))
    verdicts = tmp_path / "verdicts.json"
    code, stdout, _ = reports("compare", str(BASELINE), str(other), "--json", str(verdicts))
    assert code == 0
    assert "Also differs (not a reason to refuse):\n- host: cibox -> cibox-2\n" in stdout
    assert stdout.index("- host: cibox -> cibox-2") < stdout.index("| verdict |")
    machine = json.loads(verdicts.read_text())["machine"]
    assert machine["differences"] == [] and machine["notes"] == ["host: cibox -> cibox-2"]
