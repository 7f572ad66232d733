"""tools/ and the installed packages never import tests/: test fakes stay out of what users and developers run."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def imported_modules(source: str) -> set[str]:
    """Every module a Python source imports, wherever in the file (function-level imports included)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def imports_tests(path: Path) -> list[str]:
    """The modules under `tests` that a file imports."""
    return sorted(m for m in imported_modules(path.read_text()) if m == "tests" or m.startswith("tests."))


@pytest.mark.parametrize("folder", ["tools", "bench", "reports", "results_format"])
def test_nothing_outside_tests_imports_tests(folder):
    files = sorted((REPO / folder).rglob("*.py"))
    assert files, f"no Python file under {folder}/"
    found = {str(f.relative_to(REPO)): names for f in files if (names := imports_tests(f))}
    assert found == {}


def test_the_check_sees_every_kind_of_import():
    source = "import os\nimport tests.fake_nvml\ndef f():\n    from tests.gpu_identities import IDENTITIES\n"
    assert imported_modules(source) == {"os", "tests.fake_nvml", "tests.gpu_identities"}
    assert imported_modules("from . import sibling\nfrom tools.fake_nvml import FakeGpu\n") == {"tools.fake_nvml"}
