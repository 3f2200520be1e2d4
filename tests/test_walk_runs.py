"""The walk's light entries, its runs of a directory's files, and its lazily fetched identities."""

from __future__ import annotations

import copy
import importlib
import os
from pathlib import Path

import pytest

from _files import open_fds, write_files
from syncsafe.errors import StaleEntryError, SymlinkLoopError, UnsafePathError
from syncsafe.walker import WalkEntry, scan, walk

engine_module = importlib.import_module("syncsafe.walker._engine")


def test_a_hand_made_entry_keeps_its_whole_path() -> None:
    """WalkEntry(path) is an entry for that path, whatever its length, with no directory."""
    entry = WalkEntry("overlays/prod/kustomization.yaml")
    assert "overlays/prod/kustomization.yaml" == entry.path
    assert "WalkEntry(path='overlays/prod/kustomization.yaml')" == repr(entry)
    with pytest.raises(ValueError, match=r"not produced by syncsafe\.walk"):
        _ = entry.stat


def test_entries_are_handles_compared_by_identity(tmp_path: Path) -> None:
    """Two walks of one tree give distinct entries: equal only to themselves, hashed by identity."""
    write_files(tmp_path, {"a": "a", "b": "b"})
    first, second = list(walk(tmp_path)), list(walk(tmp_path))
    assert [e.path for e in first] == [e.path for e in second]
    assert first[0] == first[0]
    assert first[0] != second[0]
    assert 4 == len(set(first) | set(second))
    assert hash(first[0]) == object.__hash__(first[0])


def test_entries_do_not_order(tmp_path: Path) -> None:
    """Entries refuse < and friends: sort them by a key, such as the path's bytes."""
    write_files(tmp_path, {"a": "a", "b": "b"})
    a, b = list(walk(tmp_path))
    with pytest.raises(TypeError):
        _ = a < b
    with pytest.raises(TypeError):
        _ = a >= b


def test_entries_are_immutable(tmp_path: Path) -> None:
    """An entry's path cannot be reassigned, and it has no instance dictionary to add to."""
    write_files(tmp_path, {"a": "a"})
    (entry,) = list(walk(tmp_path))
    with pytest.raises(AttributeError):
        entry.path = "b"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        entry.extra = 1  # type: ignore[attr-defined]
    assert "a" == entry.path


def test_a_copied_entry_reads_the_same_file(tmp_path: Path) -> None:
    """copy.copy gives an entry with the same path and directory: it opens the same file."""
    write_files(tmp_path, {"d/a": "text"})
    for entry in walk(tmp_path):
        twin = copy.copy(entry)
        assert entry.path == twin.path
        assert entry.real == twin.real
        with twin.open() as f:
            assert b"text" == f.read()


def test_the_stat_is_fetched_once_per_entry(tmp_path: Path) -> None:
    """entry.stat is cached: a second look is the same object, even after the file changed."""
    write_files(tmp_path, {"d/a": "one", "d/b": "two"})
    entries = []
    for entry in walk(tmp_path):
        st = entry.stat
        (tmp_path / entry.path).write_text("longer than before")
        assert st is entry.stat
        entries.append(entry)
    assert [3, 3] == [e.size for e in entries]


def test_entries_stay_valid_through_their_run(tmp_path: Path) -> None:
    """Every entry of a directory can be opened until the walk is asked for the next directory."""
    write_files(tmp_path, {f"d/f{i}": str(i) for i in range(5)} | {"d/sub/x": "x", "e/y": "y"})
    it = walk(tmp_path)
    run = [next(it) for _ in range(5)]  # d/f0..d/f4, all before d/sub/
    contents = []
    for entry in run:
        with entry.open() as f:
            contents.append(f.read())
    assert [str(i).encode() for i in range(5)] == contents
    assert "d/sub/x" == next(it).path
    assert "e/y" == next(it).path
    with pytest.raises(StaleEntryError):
        run[0].open()
    it.close()


def test_closing_in_the_middle_of_a_run_ends_the_walk(tmp_path: Path) -> None:
    """close() between two files of one directory: no further entry, every descriptor released."""
    write_files(tmp_path, {f"d/f{i}": "." for i in range(10)})
    before = open_fds()
    it = walk(tmp_path)
    first = next(it)
    assert "d/f0" == first.path
    it.close()
    assert before == open_fds()
    assert [] == list(it)
    with pytest.raises(StaleEntryError):
        first.open()


def test_an_abandoned_walk_releases_its_descriptors(tmp_path: Path) -> None:
    """Dropping a walk half-way (no close) releases its descriptors as soon as it is freed."""
    write_files(tmp_path, {f"d{i}/f": "." for i in range(3)})
    before = open_fds()
    it = walk(tmp_path)
    next(it)
    assert open_fds() > before
    del it
    assert before == open_fds()


def test_an_error_ends_the_walk_after_the_files_before_it(tmp_path: Path) -> None:
    """The files sorting before a bad subdirectory come first; then the error; then nothing."""
    root = tmp_path / "repo"
    write_files(root, {"a": "a", "b/c": "c", "z": "z"})
    write_files(tmp_path, {"outside/x": "x"})
    (root / "b" / "out").symlink_to("../../outside")
    before = open_fds()
    it = walk(root)
    assert "a" == next(it).path
    with pytest.raises(UnsafePathError, match="outside"):
        next(it)
    assert [] == list(it)
    assert before == open_fds()


def test_a_link_to_an_ancestor_past_the_descriptor_window_is_a_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An ancestor whose descriptor was closed (window of 2) is still known by its identity."""
    monkeypatch.setattr(engine_module, "_WINDOW", 2)
    write_files(tmp_path, {"a/b/c/d/e/f": "f"})
    (tmp_path / "a" / "b" / "c" / "d" / "e" / "up").symlink_to("../../../..")
    with pytest.raises(SymlinkLoopError, match="up"):
        list(walk(tmp_path))
    assert [("a/b/c/d/e/up", "symlink-loop")] == [(f.path, f.rule) for f in scan(tmp_path)]


def test_a_link_to_a_directory_being_left_is_not_a_loop(tmp_path: Path) -> None:
    """Identities leave with their directories: a later link to a finished sibling is walked."""
    write_files(tmp_path, {"a/x": "x", "b/y": "y"})
    (tmp_path / "b" / "to-a").symlink_to("../a")
    (tmp_path / "c").symlink_to("a")
    assert ["a/x", "b/to-a/x", "b/y", "c/x"] == [e.path for e in walk(tmp_path)]


def test_excluded_leaf_files_are_matched_by_their_path(tmp_path: Path) -> None:
    """In a directory of files only, exclusion sees each file's path from the root."""
    write_files(
        tmp_path, {"d/keep.yaml": ".", "d/drop.tmp": ".", "drop.tmp": ".", "e/drop.tmp": "."}
    )
    assert ["d/keep.yaml"] == [e.path for e in walk(tmp_path, exclude=["*.tmp"])]
    assert ["d/keep.yaml", "drop.tmp", "e/drop.tmp"] == [
        e.path for e in walk(tmp_path, exclude=["d/*.tmp"])
    ]


def test_runs_split_around_subdirectories_in_byte_order(tmp_path: Path) -> None:
    """Files before, between and after subdirectories come in byte order, undecodable names too."""
    names = [b"a", b"b.yaml", b"c-", b"c0", b"\xff", b"\xc3\xa9"]
    for raw in names:
        (tmp_path / os.fsdecode(raw)).write_bytes(raw)
    for raw in (b"b", b"c", b"\xfe"):
        (tmp_path / os.fsdecode(raw)).mkdir()
        (tmp_path / os.fsdecode(raw) / "f").write_bytes(raw)
    paths = [os.fsencode(e.path) for e in walk(tmp_path)]
    assert sorted(paths) == paths
    assert [b"a", b"b.yaml", b"b/f", b"c-", b"c/f", b"c0", b"\xc3\xa9", b"\xfe/f", b"\xff"] == paths
