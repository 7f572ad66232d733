"""The import contracts in pyproject.toml hold, and `lint-imports` catches a planted cycle or framework import."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")

pytestmark = pytest.mark.skipif(not LINT_IMPORTS.exists(), reason="import-linter is not installed (dev extra)")


def lint_imports(where: Path) -> tuple[int, str]:
    """Run lint-imports in `where` (its packages first on the path): the exit code and the output, whitespace joined
    (long contract names wrap)."""
    env = {**os.environ, "PYTHONPATH": str(where)}
    result = subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=where, env=env, capture_output=True, text=True, check=False
    )
    return result.returncode, " ".join((result.stdout + result.stderr).split())


def copy_of_the_packages(tmp_path: Path) -> Path:
    """The three packages and pyproject.toml, copied so that a test can plant a bad import in them."""
    for package in ("bench", "reports", "results_format"):
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def plant(path: Path, line: str) -> None:
    """Add an import line after a module's `from __future__` line."""
    text = path.read_text()
    path.write_text(
        text.replace("from __future__ import annotations\n", f"from __future__ import annotations\n{line}\n", 1)
    )


def test_the_repository_keeps_every_contract() -> None:
    code, output = lint_imports(ROOT)
    assert code == 0, output
    assert "Contracts: 5 kept, 0 broken." in output


def test_a_planted_cycle_in_reports_breaks_the_acyclic_and_layers_contracts(tmp_path: Path) -> None:
    where = copy_of_the_packages(tmp_path)
    plant(where / "reports" / "fmt.py", "from reports import summary  # noqa: F401")
    code, output = lint_imports(where)
    assert code == 1
    assert "no import cycle among the modules of reports, bench or results_format BROKEN" in output
    assert "reports in layers: commands, pages, findings, reading runs, facts, formatting BROKEN" in output
    assert "reports.fmt -> reports.summary" in output


def test_reports_importing_torch_or_bench_is_caught(tmp_path: Path) -> None:
    where = copy_of_the_packages(tmp_path)
    plant(where / "reports" / "stats.py", "import torch  # noqa: F401\nimport bench.devices  # noqa: F401")
    code, output = lint_imports(where)
    assert code == 1
    assert "never import TensorFlow or torch (a CI runner without them builds and judges) BROKEN" in output
    assert "bench measures and reports renders: neither imports the other BROKEN" in output
