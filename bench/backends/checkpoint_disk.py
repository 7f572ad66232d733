"""The disk side of the checkpoint builders: a scratch folder on the results' disk, fsync, page-cache eviction.

A save is timed until its files are on disk (fsync), and a restore reads files whose pages were dropped from
the page cache first (`posix_fadvise(DONTNEED)` on the clean, synced files; Linux), so both are disk figures
rather than memory copies. No framework is imported here.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import weakref
from collections.abc import Iterable
from pathlib import Path
from typing import Any

SCRATCH_PREFIX = ".devicebench-checkpoint-"


class ScratchFolder:
    """A new empty folder inside the results folder when there is one (its disk is measured), else in the temp dir.

    It is removed by `remove()`, or when this object is garbage-collected (a build that failed half-way), or when
    the interpreter exits, whichever comes first.
    """

    def __init__(self, results_dir: str | os.PathLike[str] | None) -> None:
        self.path = Path(tempfile.mkdtemp(prefix=SCRATCH_PREFIX, dir=os.fspath(results_dir) if results_dir else None))
        self._finalizer = weakref.finalize(self, shutil.rmtree, self.path, True)

    def remove(self) -> None:
        """Remove the folder and everything in it (once; later calls do nothing)."""
        self._finalizer()


def sync_to_disk(paths: Iterable[Path]) -> None:
    """fsync each file and the folders holding them: the bytes are on the disk, not only in the page cache."""
    folders = set()
    for path in paths:
        _fsync(path)
        folders.add(path.parent)
    for folder in folders:
        _fsync(folder)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def can_evict() -> bool:
    """Whether this OS can drop a file's pages from the page cache (posix_fadvise, i.e. Linux)."""
    return hasattr(os, "posix_fadvise") and hasattr(os, "POSIX_FADV_DONTNEED")


def evict_from_cache(paths: Iterable[Path]) -> None:
    """Drop the (synced, clean) pages of these files from the page cache, so the next read comes from the disk."""
    if not can_evict():
        return
    for path in paths:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def files_under(folder: Path) -> list[Path]:
    """The files a save wrote into its own folder, sorted."""
    return sorted(p for p in folder.rglob("*") if p.is_file())


def disk_facts(folder: Path, results_dir: str | os.PathLike[str] | None, files: list[Path]) -> dict[str, Any]:
    """Where the checkpoint went and how the disk was exercised, for the case's record."""
    return {
        "file_bytes": sum(p.stat().st_size for p in files),
        "files": len(files),
        "directory": str(folder.parent),
        "on_results_disk": results_dir is not None,
        "fsync": True,
        "page_cache": "evicted before each restore (posix_fadvise DONTNEED)"
        if can_evict()
        else "not evicted (no posix_fadvise here): restores may read from memory",
    }
