"""The checkpoint builders' disk side: a scratch folder beside the results, fsync, eviction and clean-up."""

import gc
import os
import tempfile
from pathlib import Path

from bench.backends import checkpoint_disk as disk


def test_the_scratch_folder_is_inside_the_results_folder_and_removed_once(tmp_path):
    scratch = disk.ScratchFolder(tmp_path)
    folder = scratch.path
    assert folder.parent == tmp_path and folder.name.startswith(disk.SCRATCH_PREFIX) and folder.is_dir()
    (folder / "ckpt.index").write_bytes(b"x" * 10)
    scratch.remove()
    assert not folder.exists()
    scratch.remove()  # a second time does nothing


def test_a_scratch_folder_nobody_holds_any_more_is_removed(tmp_path):
    folder = disk.ScratchFolder(tmp_path).path  # a build that failed half-way drops its ScratchFolder
    gc.collect()
    assert not folder.exists()


def test_without_a_results_folder_the_scratch_folder_is_a_temp_dir():
    scratch = disk.ScratchFolder(None)
    assert scratch.path.parent == Path(tempfile.gettempdir())
    scratch.remove()


def test_files_are_synced_evicted_and_described(tmp_path):
    (tmp_path / "sub").mkdir()
    files = [tmp_path / "a.data", tmp_path / "sub" / "b.index"]
    for i, path in enumerate(files):
        path.write_bytes(b"\0" * (1000 * (i + 1)))
    disk.sync_to_disk(files)
    disk.evict_from_cache(files)  # dropping clean pages changes nothing a reader can see
    assert [p.read_bytes() for p in files] == [b"\0" * 1000, b"\0" * 2000]
    assert disk.files_under(tmp_path) == sorted(files)
    facts = disk.disk_facts(tmp_path, str(tmp_path.parent), files)
    assert facts["file_bytes"] == 3000 and facts["files"] == 2
    assert facts["directory"] == str(tmp_path.parent) and facts["on_results_disk"] is True and facts["fsync"] is True


def test_where_the_page_cache_cannot_be_dropped_the_record_says_so(tmp_path, monkeypatch):
    monkeypatch.delattr(os, "posix_fadvise", raising=False)
    assert disk.can_evict() is False
    path = tmp_path / "f"
    path.write_bytes(b"1")
    disk.evict_from_cache([path])  # a no-op, not an error
    facts = disk.disk_facts(tmp_path, None, [path])
    assert facts["on_results_disk"] is False
    assert facts["page_cache"] == "not evicted (no posix_fadvise here): restores may read from memory"
