"""Reading and writing results files: every way a file can be bad becomes one ResultsFileError line.

Writes are atomic (a temporary file in the same folder, fsync, rename), so a results file on disk is
always a whole, valid document: the one before a write or the one after it, never a truncated one.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Collection
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from results_format.legacy import migrate_v2
from results_format.model import SCHEMA_VERSION, RunFile

RESULTS_FILE = "benchmarks.json"
NVML_FILE = "nvml.csv"
LATEST = "latest"
READS = f"schemas 2 and {SCHEMA_VERSION}"  # schema 2 files are migrated on read (results_format.legacy)
MAX_BYTES = 256 * 2**20  # a real run is well under 10 MB; anything far bigger is not a results file


class ResultsFileError(Exception):
    """A results file that is missing, unreadable, corrupt, truncated, foreign or malformed (one line)."""

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = Path(path)
        self.problem = " ".join(str(problem).split())
        super().__init__(f"{self.path}: {self.problem}")


class ResultsWriteError(Exception):
    """A results file that could not be written (read-only or full disk); the message is one line."""

    def __init__(self, errno: int | None, message: str) -> None:
        super().__init__(message)
        self.errno = errno


class _Envelope(BaseModel):
    """Just enough of a file to say what it is before validating all of it."""

    model_config = ConfigDict(extra="ignore")
    benchmarks: list[object] | None = None
    machine_info: dict[str, object] | None = None
    devicebench: dict[str, object] | None = None


def resolve(path: str | Path) -> Path:
    """The benchmarks.json that a run folder, `latest` link or file path names."""
    given = Path(path)
    if not given.exists():
        if given.is_symlink():
            raise ResultsFileError(given, "a link to a folder that does not exist")
        raise ResultsFileError(given, "no such file or folder")
    if given.resolve().is_dir():
        if not (given / RESULTS_FILE).is_file():
            raise ResultsFileError(given, f"folder has no {RESULTS_FILE} (is it a devicebench run folder?)")
        return given / RESULTS_FILE
    return given


def is_run_folder(path: Path) -> bool:
    """Whether `path` is a real run folder: a folder (not a link such as `latest`, not hidden) with a results file."""
    return path.is_dir() and not path.is_symlink() and not path.name.startswith(".") and (path / RESULTS_FILE).is_file()


def run_folders(path: str | Path, levels: int = 1, skip: Collection[str] = ()) -> list[Path]:
    """The run folders inside a results folder, by name; [] when `path` is itself a run or not a folder.

    The one way every command and tool lists runs: real folders holding a benchmarks.json (not `latest` or other
    links, not hidden). With levels=2, also the runs one folder further down (a folder of results folders, e.g.
    one per host), after the direct ones, leaving out the folders named in `skip`.
    """
    folder = Path(path)
    if not folder.is_dir() or (folder / RESULTS_FILE).exists():
        return []
    children = sorted(p for p in folder.iterdir() if p.is_dir() and not p.is_symlink() and not p.name.startswith("."))
    found = [p for p in children if (p / RESULTS_FILE).is_file()]
    if levels > 1:
        for child in children:
            if child.name not in skip and not (child / RESULTS_FILE).is_file():
                found += run_folders(child, levels - 1, skip)
    return found


#: JSON types as people name them, for a top level that is not an object
_JSON_KINDS = {list: "a list", str: "a string", int: "a number", float: "a number", bool: "true/false"}


def _first_error(exc: ValidationError, benchmarks: list[object] | None = None) -> str:
    """A validation error as one line: where (with the benchmark's name when there is one), and what is wrong."""
    error = exc.errors(include_url=False)[0]
    if error["type"] == "json_invalid":
        return f"not valid JSON: {error['msg'].removeprefix('Invalid JSON: ')}"
    if error["type"] == "model_type" and not error["loc"]:
        kind = "null" if error["input"] is None else _JSON_KINDS.get(type(error["input"]), "another value")
        return f"the top level is {kind}, not an object"
    where = ""
    for position, part in enumerate(error["loc"]):
        where += f"[{part}]" if isinstance(part, int) else (f".{part}" if where else str(part))
        if position == 1 and error["loc"][0] == "benchmarks" and isinstance(part, int):
            where += _benchmark_name(benchmarks or [], part)
    more = f" (and {exc.error_count() - 1} more problem(s))" if exc.error_count() > 1 else ""
    message = error["msg"].removeprefix("Value error, ")
    return f"{where}: {message}{more}" if where else f"{message}{more}"


def _benchmark_name(benchmarks: list[object], index: int) -> str:
    """' (test_matmul[...])' for the benchmark at `index` of the raw list, when it has a name; else ''."""
    entry = benchmarks[index] if 0 <= index < len(benchmarks) else None
    name = entry.get("name") if isinstance(entry, dict) else None
    return f" ({name})" if isinstance(name, str) else ""


def _json_problem(problem: str) -> str:
    """What kind of broken JSON a parse error describes: truncated, nested too deeply, a huge number, or corrupt."""
    detail = problem.removeprefix("not valid JSON: ")
    if "EOF" in detail or "end of" in detail:
        return f"truncated JSON: {detail}"
    if detail.startswith("recursion limit exceeded"):
        return f"JSON nested too deeply ({detail})"
    if detail.startswith("number out of range"):
        return f"a JSON number too large to be a measurement ({detail})"
    return f"corrupt JSON: {detail}"


def parse(text: str | bytes, path: str | Path) -> RunFile:
    """Validate the text of a results file; ResultsFileError (one line naming `path`) when it is not one."""
    if not text.strip():
        raise ResultsFileError(path, "file is empty")
    try:
        envelope = _Envelope.model_validate_json(text)
    except ValidationError as exc:
        problem = _first_error(exc)
        if problem.startswith("not valid JSON"):
            problem = _json_problem(problem)
        else:
            problem = "not a pytest-benchmark JSON file: " + problem
        raise ResultsFileError(path, problem) from None
    if envelope.benchmarks is None or envelope.machine_info is None:
        raise ResultsFileError(path, "not a pytest-benchmark JSON file (no 'benchmarks' list and 'machine_info')")
    if envelope.devicebench is None:
        raise ResultsFileError(path, "a pytest-benchmark file without devicebench's records (not from devicebench)")
    version = envelope.devicebench.get("schema_version")
    if version is None:
        raise ResultsFileError(
            path,
            f"written by devicebench 0.1 (results schema 1); this devicebench reads {READS}: run the benchmarks again",
        )
    if version == 2:
        text = _from_v2(text, path)
    elif version != SCHEMA_VERSION:
        newer = isinstance(version, int) and version > SCHEMA_VERSION
        raise ResultsFileError(
            path,
            f"results schema {version!r}; this devicebench reads {READS}"
            + (" (the file is from a newer devicebench: upgrade)" if newer else ""),
        )
    try:
        return RunFile.model_validate_json(text)
    except ValidationError as exc:
        raise ResultsFileError(path, f"malformed: {_first_error(exc, envelope.benchmarks)}") from None


def _from_v2(text: str | bytes, path: str | Path) -> str:
    """A schema 2 file's text as schema 3 (results_format.legacy), or a ResultsFileError saying why it cannot be."""
    data = json.loads(text)  # valid: the envelope parsed it
    problem = migrate_v2(data)
    if problem:
        raise ResultsFileError(path, f"malformed: {problem}")
    return json.dumps(data)


def read(path: str | Path) -> RunFile:
    """Read and validate a results file, run folder or `latest` link."""
    target = resolve(path)
    try:
        size = target.stat().st_size
        if size > MAX_BYTES:
            raise ResultsFileError(target, f"{size / 2**20:.0f} MiB is far larger than any results file")
        data = target.read_bytes()
    except OSError as exc:
        raise ResultsFileError(target, f"cannot read: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ResultsFileError(target, "not a text file (not UTF-8)") from None
    return parse(text, target)


def dumps(run: RunFile) -> str:
    """The JSON text of a results file (pytest-benchmark's layout, indented)."""
    return json.dumps(run.model_dump(mode="json"), indent=1, ensure_ascii=False) + "\n"


def write_atomic(path: Path, text: str) -> None:
    """Replace `path` with `text` atomically; ResultsWriteError with one line when the disk refuses."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        _fsync_folder(path.parent)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise ResultsWriteError(exc.errno, f"cannot write {path}: {exc.strerror or exc}") from None


def _fsync_folder(folder: Path) -> None:
    """Make a rename in `folder` durable (best effort: some file systems refuse to fsync a folder)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


def write(path: Path, run: RunFile) -> None:
    """Write a results file atomically (validated: the model only holds valid records)."""
    write_atomic(path, dumps(run))
