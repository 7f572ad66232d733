"""Fleet deployment files: Kubernetes manifests against the API schemas, the Slurm scripts' commands and report."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.golden_runs import fleet_folder

ROOT = Path(__file__).resolve().parent.parent
KUBERNETES = ROOT / "deploy" / "kubernetes"
SLURM = ROOT / "deploy" / "slurm"
#: the Kubernetes version the manifests are validated for (backoffLimitPerIndex needs >= 1.29).
KUBERNETES_VERSION = "1.31"
MANIFESTS = sorted(KUBERNETES.glob("*.yaml"))


def documents(path: Path) -> list[dict]:
    """The YAML documents of one manifest file."""
    yaml = pytest.importorskip("yaml")
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def test_there_are_manifests():
    assert {p.name for p in MANIFESTS} == {"fleet-job.yaml", "results-pod.yaml", "results-pvc.yaml"}


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_every_manifest_is_valid_for_the_pinned_kubernetes(path: Path):
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    for doc in documents(path):
        # strict: an unknown or misspelt field is an error, not ignored
        assert kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True) == KUBERNETES_VERSION


def test_the_validator_rejects_a_misspelt_field_and_a_wrong_type():
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    job = documents(KUBERNETES / "fleet-job.yaml")[0]
    job["spec"]["completionMod"] = job["spec"].pop("completionMode")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(job, KUBERNETES_VERSION, strict=True)
    job = documents(KUBERNETES / "fleet-job.yaml")[0]
    job["spec"]["completions"] = "four"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(job, KUBERNETES_VERSION, strict=True)


def test_the_fleet_job_runs_one_non_root_pod_per_gpu_node_of_one_model():
    job = documents(KUBERNETES / "fleet-job.yaml")[0]
    spec, pod = job["spec"], job["spec"]["template"]["spec"]
    assert spec["completionMode"] == "Indexed" and spec["completions"] == spec["parallelism"]
    assert spec["backoffLimitPerIndex"] == 0  # one broken node fails its own index, not the fleet
    assert "nvidia.com/gpu.product" in pod["nodeSelector"]
    term = pod["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][0]
    assert term["topologyKey"] == "kubernetes.io/hostname"
    assert term["labelSelector"]["matchLabels"].items() <= job["spec"]["template"]["metadata"]["labels"].items()
    security = pod["securityContext"]
    assert security["runAsNonRoot"] and security["runAsUser"] == 10001 and security["runAsGroup"] == 10001
    (container,) = pod["containers"]
    assert container["image"] == "devicebench:gpu"
    assert "command" not in container  # the image's entrypoint runs the suite and builds the report
    assert container["resources"]["limits"]["nvidia.com/gpu"] >= 1
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    env = {e["name"]: e for e in container["env"]}
    assert env["DEVICEBENCH_HOST"]["valueFrom"]["fieldRef"]["fieldPath"] == "spec.nodeName"
    mount = container["volumeMounts"][0]["mountPath"]
    assert env["DEVICEBENCH_RESULTS"]["value"] == f"{mount}/$(FLEET_ID)/$(DEVICEBENCH_HOST)"
    names = list(env)  # $(VAR) only expands variables defined earlier in the list
    assert names.index("DEVICEBENCH_RESULTS") > max(names.index("FLEET_ID"), names.index("DEVICEBENCH_HOST"))
    claim = pod["volumes"][0]["persistentVolumeClaim"]["claimName"]
    assert claim == documents(KUBERNETES / "results-pvc.yaml")[0]["metadata"]["name"]


def test_the_image_user_matches_the_manifests():
    dockerfile = (ROOT / "Dockerfile.gpu").read_text()
    assert "USER 10001:10001" in dockerfile
    pod = documents(KUBERNETES / "results-pod.yaml")[0]
    assert pod["spec"]["securityContext"]["runAsUser"] == 10001


def pod_specs() -> dict[str, dict]:
    """The pod spec of each manifest that runs a pod (the fleet Job's template, the results pod)."""
    job = documents(KUBERNETES / "fleet-job.yaml")[0]
    pod = documents(KUBERNETES / "results-pod.yaml")[0]
    return {"fleet-job.yaml": job["spec"]["template"]["spec"], "results-pod.yaml": pod["spec"]}


@pytest.mark.parametrize("name", ["fleet-job.yaml", "results-pod.yaml"])
def test_pods_have_a_read_only_root_a_tmp_volume_and_no_api_token(name: str):
    pod = pod_specs()[name]
    assert pod["automountServiceAccountToken"] is False
    volumes = {v["name"]: v for v in pod["volumes"]}
    for container in pod["containers"]:
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        # bench run's temporary file and MPLCONFIGDIR=/tmp/matplotlib need a writable /tmp
        (tmp,) = [m for m in container["volumeMounts"] if m["mountPath"] == "/tmp"]
        assert "emptyDir" in volumes[tmp["name"]] and not tmp.get("readOnly", False)
    assert "MPLCONFIGDIR=/tmp/matplotlib" in (ROOT / "Dockerfile.gpu").read_text()


def test_the_fleet_pods_grace_period_leaves_time_for_the_summary_and_report():
    pod = pod_specs()["fleet-job.yaml"]
    assert pod["terminationGracePeriodSeconds"] >= 60  # the default 30 s may not cover report.html


# --- Slurm ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("script", sorted(SLURM.glob("*")), ids=lambda p: p.name)
def test_slurm_scripts_parse(script: Path):
    shell = "sh" if script.read_text().startswith("#!/bin/sh") else "bash"
    subprocess.run([shell, "-n", str(script)], check=True)


def fake_tools(tmp_path: Path, status: int = 0) -> tuple[dict[str, str], Path]:
    """A PATH with fake sbatch, docker, apptainer and python that log their arguments (one JSON list a line)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "calls.jsonl"
    counter = tmp_path / "jobs"
    counter.write_text("100")
    for tool in ("sbatch", "docker", "apptainer", "python"):
        script = bin_dir / tool
        script.write_text(
            f"#!{sys.executable}\n"
            "import json, os, sys\n"
            f"log = {str(log)!r}\n"
            "host = os.environ.get('DEVICEBENCH_HOST')\n"
            "line = json.dumps([os.path.basename(sys.argv[0]), host, *sys.argv[1:]])\n"
            "with open(log, 'a') as f: f.write(line + '\\n')\n"
            "if sys.argv[0].endswith('sbatch'):\n"
            f"    counter = {str(counter)!r}\n"
            "    job = int(open(counter).read()) + 1\n"
            "    open(counter, 'w').write(str(job))\n"
            "    print(job)\n"
            f"    sys.exit({status} if '--wait' in sys.argv else 0)\n"
            "sys.exit(3)\n"
        )
        script.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    return env, log


def calls(log: Path) -> list[list[str]]:
    """The logged calls: [tool, DEVICEBENCH_HOST, args...]."""
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def test_submit_queues_the_array_then_the_report_after_it(tmp_path: Path):
    env, log = fake_tools(tmp_path)
    fleet = tmp_path / "fleet"
    done = subprocess.run(
        ["bash", str(SLURM / "submit.sh"), "-n", "3", "--fleet-dir", str(fleet), "--partition=gpu",
         "--gpus-per-node=8", "--", "--profile", "standard", "-k", "matmul and n4096"],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    array, report = calls(log)
    assert array[2:] == [
        "--parsable", "--array=0-2", f"--output={fleet}/logs/fleet-%A_%a.out", "--partition=gpu",
        "--gpus-per-node=8", str(SLURM / "fleet.sbatch"), str(fleet), "--profile", "standard", "-k", "matmul and n4096",
    ]  # fmt: skip
    assert report[2:] == [
        "--parsable", "--dependency=afterany:101", f"--output={fleet}/logs/fleet-report-%j.out",
        str(SLURM / "fleet-report.sbatch"), str(fleet), "--expect-hosts", "3",
    ]  # fmt: skip
    assert f"fleet folder: {fleet}\narray job:    101 (3 task(s)" in done.stdout
    assert (fleet / "logs").is_dir()  # Slurm does not make the log folder itself


def test_submit_with_a_hosts_file_and_wait_returns_the_reports_exit_code(tmp_path: Path):
    env, log = fake_tools(tmp_path, status=1)
    hosts = tmp_path / "hosts.txt"
    hosts.write_text("# H100 nodes\ngpu01\ngpu02  # rack 3\n\n")
    done = subprocess.run(
        ["bash", str(SLURM / "submit.sh"), "--hosts", str(hosts), "--fleet-dir", str(tmp_path / "f"), "--wait"],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 1
    array, report = calls(log)
    assert "--array=0-1" in array
    assert "--wait" in report and report[-2:] == ["--hosts-file", str(hosts)]
    assert "fleet report: exit 1" in done.stdout


@pytest.mark.parametrize("args", [[], ["-n", "0"], ["-n", "two"], ["--hosts", "/no/such/file"]])
def test_submit_usage_errors_exit_2_before_submitting(tmp_path: Path, args: list[str]):
    env, log = fake_tools(tmp_path)
    done = subprocess.run(
        ["bash", str(SLURM / "submit.sh"), *args, "--fleet-dir", str(tmp_path / "f")],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 2 and done.stderr.startswith("error: ")
    assert calls(log) == []


def run_task(tmp_path: Path, launcher: str, **extra: str) -> tuple[subprocess.CompletedProcess, list[list[str]]]:
    """fleet.sbatch as array task 3 on node7 (outside Slurm), with fake launchers."""
    env, log = fake_tools(tmp_path)
    env.update(SLURMD_NODENAME="node7", SLURM_ARRAY_TASK_ID="3", FLEET_LAUNCHER=launcher, **extra)
    done = subprocess.run(
        ["bash", str(SLURM / "fleet.sbatch"), str(tmp_path / "fleet"), "--profile", "standard"],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    return done, calls(log)


def test_an_array_task_runs_the_gpu_image_with_docker_as_its_node(tmp_path: Path):
    done, (call,) = run_task(tmp_path, "docker")
    fleet = tmp_path / "fleet"
    assert call == ["docker", "node7", "run", "--rm", "--gpus", "all", "--hostname", "node7", "-e",
                    "DEVICEBENCH_HOST", "-v", f"{fleet}/node7:/results", "--user", f"{os.getuid()}:{os.getgid()}",
                    "devicebench:gpu", "--profile", "standard"]  # fmt: skip
    assert (fleet / "node7").is_dir()
    assert done.returncode == 3  # the launcher's status


def test_an_array_task_runs_apptainer_with_the_gpus_and_one_host_per_task(tmp_path: Path):
    done, (call,) = run_task(tmp_path, "apptainer", FLEET_SIF="/images/devicebench.sif", FLEET_HOST_PER_TASK="1")
    assert call == ["apptainer", "node7-3", "run", "--nv", "--bind", f"{tmp_path}/fleet/node7-3:/results", "--env",
                    "DEVICEBENCH_HOST=node7-3", "/images/devicebench.sif", "--profile", "standard"]  # fmt: skip
    assert done.returncode == 3


def test_an_apptainer_task_without_an_image_says_so(tmp_path: Path):
    done, made = run_task(tmp_path, "apptainer")
    assert done.returncode != 0 and "set FLEET_SIF" in done.stderr and made == []


def test_an_array_task_in_a_venv_runs_the_entrypoint_of_the_checkout(tmp_path: Path):
    done, (call,) = run_task(tmp_path, "venv", FLEET_SRC=str(ROOT), FLEET_PYTHON=str(tmp_path / "bin" / "python"))
    assert call[:2] == ["python", "node7"]
    assert call[2:9] == ["-m", "bench", "run", "--suite", f"{ROOT}/bench", "--results-dir", f"{tmp_path}/fleet/node7"]
    assert call[-2:] == ["--profile", "standard"]  # after the entrypoint's defaults, so it wins
    assert done.returncode == 3  # bench run's status (here the fake python's)


def test_an_unknown_launcher_or_no_fleet_dir_exits_2(tmp_path: Path):
    done, made = run_task(tmp_path, "podman")
    assert done.returncode == 2 and "FLEET_LAUNCHER must be" in done.stderr and made == []
    done = subprocess.run(["bash", str(SLURM / "fleet.sbatch")], capture_output=True, text=True, check=False)
    assert done.returncode == 2 and done.stderr.startswith("usage: ")


def python_without_plots(tmp_path: Path) -> Path:
    """A python for `python -m reports ...` whose pages have stubbed plots (tests/plot_stubs.py).

    The job script's plumbing is what is tested here; the fleet page's plots are drawn in tests/test_fleet_cmd.py.
    """
    python = tmp_path / "python-without-plots"
    python.write_text(
        f"#!{sys.executable}\n"
        "import runpy, sys\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        "import pytest\n"
        "from tests.plot_stubs import stub_plots\n"
        "assert sys.argv[1:3] == ['-m', 'reports'], sys.argv\n"
        "stub_plots(pytest.MonkeyPatch())\n"
        "sys.argv = ['reports', *sys.argv[3:]]\n"
        "runpy.run_module('reports', run_name='__main__', alter_sys=True)\n"
    )
    python.chmod(0o755)
    return python


def test_the_report_job_writes_markdown_json_and_html_and_exits_with_the_verdict(tmp_path: Path):
    fleet = fleet_folder(tmp_path / "fleet")  # the golden fleet: node-c is slow
    python = python_without_plots(tmp_path)
    env = {**os.environ, "FLEET_LAUNCHER": "venv", "FLEET_SRC": str(ROOT), "FLEET_PYTHON": str(python)}
    done = subprocess.run(
        ["bash", str(SLURM / "fleet-report.sbatch"), str(fleet), "--expect-hosts", "5"],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert done.stdout.startswith("## Fleet: 4 host(s); slow: node-c; 1 expected host(s) without a run")
    report = json.loads((fleet / "fleet.json").read_text())
    assert report["slow_hosts"] == ["node-c"] and report["missing_count"] == 1
    assert (fleet / "fleet.md").read_text().startswith("## Fleet: 4 host(s)")
    assert '<section id="fleet">' in (fleet / "fleet.html").read_text()
    assert "devicebench fleet report: exit 1" in done.stdout


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck not installed")
def test_slurm_scripts_pass_shellcheck():
    subprocess.run(["shellcheck", "-S", "warning", *map(str, sorted(SLURM.glob("*")))], check=True)


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck not installed")
def test_ci_container_and_tool_scripts_pass_shellcheck():
    """CI's script, the container scripts and the shell tools (a comment starting `# shellcheck` is a directive)."""
    scripts = [ROOT / ".ci" / "run", *sorted((ROOT / "docker").glob("*.sh")), *sorted((ROOT / "tools").glob("*.sh"))]
    subprocess.run(["shellcheck", "-S", "warning", *map(str, scripts)], check=True)
