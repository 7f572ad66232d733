""".github/workflows/bench.yml: parses, targets a self-hosted GPU runner, gates with `reports compare`."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml")

WORKFLOW = Path(__file__).parent.parent / ".github" / "workflows" / "bench.yml"


@pytest.fixture(scope="module")
def workflow() -> dict:
    """The parsed workflow."""
    return yaml.safe_load(WORKFLOW.read_text())


def test_jobs_run_on_a_self_hosted_gpu_runner(workflow: dict) -> None:
    assert set(workflow["jobs"]) == {"bench", "confirm", "interleaved"}
    for job in workflow["jobs"].values():
        assert job["runs-on"] == ["self-hosted", "gpu"]


def test_bench_job_builds_runs_compares_uploads_and_gates(workflow: dict) -> None:
    steps = workflow["jobs"]["bench"]["steps"]
    text = "\n".join(str(step.get("run", "")) + str(step.get("uses", "")) for step in steps)
    assert "docker build -f Dockerfile.gpu" in text
    assert "--gpus all" in text
    assert "-m reports compare baseline results/latest" in text
    assert "GITHUB_STEP_SUMMARY" in text
    assert "actions/upload-artifact" in text
    assert "actions/cache/restore" in text and "actions/cache/save" in text
    gate = steps[-1]
    assert "exit" in gate["run"] and "steps.compare.outputs.code" in gate["if"]


def test_interleaved_job_alternates_base_and_head(workflow: dict) -> None:
    run = "\n".join(str(step.get("run", "")) for step in workflow["jobs"]["interleaved"]["steps"])
    assert "for side in base head" in run
    assert "reports compare interleaved/base interleaved/head" in run


def test_run_scripts_are_valid_shell(workflow: dict) -> None:
    for job in workflow["jobs"].values():
        for step in job["steps"]:
            script = step.get("run")
            if script:
                # ${{ ... }} expressions are replaced by the runner; stand in a word for them.
                plain = script.replace("${{", "X").replace("}}", "X")
                result = subprocess.run(["bash", "-n"], input=plain, text=True, capture_output=True)
                assert result.returncode == 0, (step.get("name"), result.stderr)


def test_the_window_is_cached_and_a_flagged_pull_request_is_confirmed(workflow: dict) -> None:
    bench = workflow["jobs"]["bench"]["steps"]
    cached = [step["with"]["path"] for step in bench if "actions/cache" in str(step.get("uses", ""))]
    assert cached == ["results/baselines/main", "results/baselines/main"]  # restore and save: the window
    text = "\n".join(str(step.get("run", "")) for step in bench) + str(bench)
    assert "--save-baseline main --baseline-window 5" in text
    confirm = workflow["jobs"]["confirm"]
    assert confirm["needs"] == "bench" and "to_confirm" in confirm["if"]
    runs = "\n".join(str(step.get("run", "")) for step in confirm["steps"])
    assert "for side in base head" in runs and "-m reports confirm confirm/base confirm/head" in runs


def test_a_regression_on_main_is_confirmed_against_the_commit_before_the_push(workflow: dict) -> None:
    """compare alone never fails a push to main on exit 1: the confirm job re-times against github.event.before."""
    gate = next(s for s in workflow["jobs"]["bench"]["steps"] if str(s.get("name", "")).startswith("Gate"))
    assert "github.event_name == 'workflow_dispatch'" in gate["if"] and "github.event.before ==" in gate["if"]
    confirm = workflow["jobs"]["confirm"]
    assert "github.event_name == 'push'" in confirm["if"]
    assert confirm["env"]["BASE_SHA"] == "${{ github.event.pull_request.base.sha || github.event.before }}"
