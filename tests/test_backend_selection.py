"""--backend: parsing, an unavailable backend as one header line, and the suite without TensorFlow."""

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy  # noqa: F401 - imported once here: pytester unloads what a run imports, and numpy cannot load twice
import pytest
import scipy.stats  # noqa: F401 - the same for scipy (the plugin uses it for the median's interval)

import bench.backends
from bench.backends import BackendSelectionError, parse_backends

REPO = Path(__file__).resolve().parents[1]
BENCH_FILE = """
import pytest

@pytest.mark.workload("matmul")
def test_matmul(devicebench_run):
    devicebench_run()
"""


@pytest.mark.parametrize(
    ("spec", "names"),
    [
        ("tensorflow", ["tensorflow"]),
        ("torch", ["torch"]),
        ("tensorflow,torch", ["tensorflow", "torch"]),
        (" TF , pytorch, tensorflow ", ["tensorflow", "torch"]),
    ],
)
def test_backend_names_and_aliases(spec, names):
    assert parse_backends(spec) == names


@pytest.mark.parametrize("spec", ["jax", "torch,jax", ",", ""])
def test_unknown_backend_names_the_known_ones(spec):
    with pytest.raises(BackendSelectionError, match=r"--backend: unknown backend .*; backends: tensorflow, torch"):
        parse_backends(spec)


def test_unknown_backend_is_a_usage_error(pytester):
    pytester.makepyfile(test_matmul=BENCH_FILE)
    result = pytester.runpytest("-p", "bench.plugin", "--backend", "jax")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--backend: unknown backend jax; backends: tensorflow, torch*"])


def test_an_uninstalled_backend_is_a_header_line_and_the_others_run(pytester, monkeypatch):
    """`import torch` fails: torch is reported unavailable in the header and JSON, the other backend still runs."""
    monkeypatch.setitem(bench.backends.BACKEND_MODULES, "fake", ("tests.fake_backend", "ScriptedBackend", "fake"))
    monkeypatch.setenv("DEVICEBENCH_FAKE_HOST", "testbox")
    monkeypatch.setenv("DEVICEBENCH_FAKE_GPUS", "0")
    monkeypatch.setitem(sys.modules, "torch", None)  # makes `import torch` raise ImportError
    monkeypatch.delitem(sys.modules, "bench.backends.torch_backend", raising=False)
    from bench.workloads import WORKLOADS
    from bench.workloads.matmul import MATMUL

    monkeypatch.setitem(WORKLOADS, "matmul", dataclasses.replace(MATMUL, backends=("fake", "torch")))
    pytester.makepyfile(test_matmul=BENCH_FILE)
    result = pytester.runpytest(
        "-p", "bench.plugin", "--backend", "fake,torch", "--profile", "smoke", "--results-dir", "results", "-k", "n128"
    )
    result.assert_outcomes(passed=1, deselected=4)  # n512, n1024, n2048 and one FP8 case
    header = [line for line in result.outlines if "torch" in line and "unavailable" in line]
    assert header[0].strip() == "backend torch: unavailable"
    result.stdout.fnmatch_lines(["*note: backend torch unavailable: torch is not installed*"])
    data = json.loads((pytester.path / "results" / "latest" / "benchmarks.json").read_text())
    status = data["devicebench"]["backends"]["torch"]
    assert status["available"] is False and "torch is not installed" in status["reason"]


def test_torch_only_run_never_imports_tensorflow(pytester):
    """The GPU image's shape: torch but no TensorFlow. Every benchmark file loads; torch's matmul runs."""
    pytest.importorskip("torch")
    for path in sorted((REPO / "bench" / "benchmarks").glob("test_*.py")):
        pytester.makepyfile(**{path.stem: path.read_text()})
    script = (
        "import sys\n"
        "sys.modules['tensorflow'] = None; sys.modules['keras'] = None  # any import of them now fails\n"
        "import pytest\n"
        "code = pytest.main(['-p', 'bench.plugin', '--backend', 'torch', '--profile', 'smoke',\n"
        "                    '--results-dir', 'results', '-k', 'n128 or tfdata', '-p', 'no:cacheprovider'])\n"
        "assert sys.modules['tensorflow'] is None and sys.modules['keras'] is None\n"
        "sys.exit(int(code))\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    env["OMP_NUM_THREADS"] = "1"  # behaviour, not speed: see test_torch_backend
    proc = subprocess.run(
        [sys.executable, "-c", script], cwd=pytester.path, env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "1 passed" in proc.stdout and "ImportError" not in proc.stdout
    data = json.loads((pytester.path / "results" / "latest" / "benchmarks.json").read_text())
    (bench_case,) = data["benchmarks"]
    assert bench_case["extra_info"]["backend"] == "torch"
    assert list(data["machine_info"]["devicebench"]["backends"]) == ["torch"]
