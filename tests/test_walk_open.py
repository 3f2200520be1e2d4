"""Opening a walk entry: the raw descriptor, and the check that it is the file the listing named."""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from _files import open_fds, write_files
from syncsafe.errors import StaleEntryError, UnsafePathError
from syncsafe.walker import WalkEntry, walk

entry_module = importlib.import_module("syncsafe.walker._entry")
engine_module = importlib.import_module("syncsafe.walker._engine")

if TYPE_CHECKING:
    from syncsafe.walker._engine import _Frame


def _replace(path: Path, text: str) -> None:
    """Put a new file (a new inode) at *path*, as an editor's save or a checkout does."""
    new = path.with_name(path.name + ".new")
    new.write_text(text)
    new.rename(path)


def _read_fd(entry: WalkEntry) -> tuple[bytes, os.stat_result]:
    fd, st = entry.open_fd()
    try:
        return os.read(fd, 1 << 16), st
    finally:
        os.close(fd)


def test_open_fd_gives_the_descriptor_and_its_fstat(tmp_path: Path) -> None:
    """open_fd reads the file the entry names, plain or through a link, with that file's fstat."""
    write_files(tmp_path, {"base/x.yaml": "x: 1", "y.yaml": "y: 22"})
    (tmp_path / "link").symlink_to("base")
    (tmp_path / "z.yaml").symlink_to("y.yaml")
    before = open_fds()
    seen = {}
    for entry in walk(tmp_path):
        data, st = _read_fd(entry)
        real = entry.real.stat()
        assert (real.st_dev, real.st_ino, real.st_size) == (st.st_dev, st.st_ino, st.st_size)
        seen[entry.path] = data
    assert {
        "base/x.yaml": b"x: 1",
        "link/x.yaml": b"x: 1",
        "y.yaml": b"y: 22",
        "z.yaml": b"y: 22",
    } == seen
    assert before == open_fds()


def test_open_fd_needs_no_stat(tmp_path: Path) -> None:
    """Opening checks against the listing: the entry's stat is not fetched for it."""
    write_files(tmp_path, {"d/a": "a"})
    for entry in walk(tmp_path):
        data, _ = _read_fd(entry)
        assert b"a" == data
        listed = entry[1]
        assert isinstance(listed, engine_module._Frame)
        assert listed.stats is None


def test_a_file_swapped_after_the_listing_is_refused(tmp_path: Path) -> None:
    """A new inode put at a listed name is refused by open_fd, open and stat alike."""
    write_files(tmp_path, {"a": "a", "b": "b", "c": "c"})
    before = open_fds()
    it = walk(tmp_path, exclude=["*.new"])
    entry = next(it)
    _replace(tmp_path / "a", "attacker")
    with pytest.raises(UnsafePathError, match="a: was replaced since it was listed"):
        entry.open_fd()
    with pytest.raises(UnsafePathError, match="replaced"):
        entry.open()
    with pytest.raises(UnsafePathError, match="replaced"):
        _ = entry.stat
    assert b"b" == _read_fd(next(it))[0]  # the rest of the walk is unaffected
    it.close()
    assert before == open_fds()


def test_a_linked_file_swapped_after_its_resolution_is_refused(tmp_path: Path) -> None:
    """A file reached through a symlink is checked against the identity its resolution found."""
    write_files(tmp_path, {"b/y": "y"})
    (tmp_path / "l").symlink_to("b/y")
    it = walk(tmp_path, exclude=["*.new"])
    assert "b/y" == next(it).path
    entry = next(it)
    assert "l" == entry.path
    _replace(tmp_path / "b" / "y", "other")
    with pytest.raises(UnsafePathError, match="l: was replaced since it was listed"):
        entry.open_fd()
    it.close()


def test_open_fd_after_the_walk_moved_on_is_stale(tmp_path: Path) -> None:
    """open_fd, like open, refuses an entry whose directory the walk has left."""
    write_files(tmp_path, {"a/x": "x", "b/y": "y"})
    entries = list(walk(tmp_path))
    for entry in entries:
        with pytest.raises(StaleEntryError, match=entry.path):
            entry.open_fd()


def test_a_hand_made_entry_has_nothing_to_open() -> None:
    """open_fd on an entry not produced by walk() says so."""
    with pytest.raises(ValueError, match=r"not produced by syncsafe\.walk"):
        WalkEntry("x").open_fd()


def test_a_listing_without_inode_numbers_checks_the_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where the listing gives no inode number (FUSE), the name must name the file opened."""

    def unknown(listed: _Frame) -> dict[str, int]:
        inodes = listed.inodes = dict.fromkeys((e.name for e in listed.listing), 0xFFFFFFFF)
        return inodes

    monkeypatch.setattr(entry_module, "_inodes", unknown)
    write_files(tmp_path, {"a": "a", "b": "b"})
    it = walk(tmp_path, exclude=["*.new"])
    first = next(it)
    assert (b"a", 1) == (_read_fd(first)[0], first.size)
    second = next(it)
    _ = second.stat
    _replace(tmp_path / "b", "other")
    with pytest.raises(UnsafePathError, match="replaced"):
        second.open_fd()  # it no longer is the file its stat described
    it.close()


def test_a_device_other_than_the_directory_s_checks_the_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file on another device than its directory (overlay, mount) opens if its name checks out."""
    for module in (entry_module, engine_module):
        monkeypatch.setattr(module, "identity", lambda fd: (os.fstat(fd).st_dev + 1, 0))
    write_files(tmp_path, {"d/a": "a", "d/b": "b"})
    it = walk(tmp_path, exclude=["*.new"])
    assert b"a" == _read_fd(next(it))[0]
    entry = next(it)
    _replace(tmp_path / "d" / "b", "other")
    with pytest.raises(UnsafePathError, match="replaced"):
        entry.open_fd()  # the inode number still decides
    it.close()


def test_open_is_buffered_and_closes_its_descriptor(tmp_path: Path) -> None:
    """open() gives a buffered binary file; closing it frees the descriptor."""
    write_files(tmp_path, {"k.yaml": "a: 1\nb: 2\n"})
    before = open_fds()
    for entry in walk(tmp_path):
        with entry.open() as f:
            assert [b"a: 1\n", b"b: 2\n"] == list(f)
            assert f.raw is not None  # type: ignore[attr-defined]
    assert before == open_fds()


def test_an_unreadable_file_is_a_permission_error_naming_its_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file the caller may not read is reported as such, not as a file that changed."""
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "secret.yaml").write_text("x")
    real_open = os.open

    def refuse(path: str, flags: int, mode: int = 0o777, *, dir_fd: int | None = None) -> int:
        if path == "secret.yaml":
            raise PermissionError(13, "Permission denied", path)
        return real_open(path, flags, mode, dir_fd=dir_fd)

    monkeypatch.setattr(os, "open", refuse)
    walker = walk(tmp_path)
    entry = next(iter(walker))
    with pytest.raises(PermissionError) as info:
        entry.open_fd()
    assert "d/secret.yaml" == info.value.filename
    walker.close()


def _key(path: Path) -> tuple[int, int, int, int, int, int]:
    st = path.lstat()
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_mode)


def test_stat_key_is_the_file_s_key_now(tmp_path: Path) -> None:
    """stat_key is the lstat key of the file (a linked file's target), taken afresh at each call."""
    write_files(tmp_path, {"base/x.yaml": "x", "y.yaml": "y"})
    (tmp_path / "l").symlink_to("base/x.yaml")
    seen = {}
    for entry in walk(tmp_path):
        seen[entry.path] = entry.stat_key()
        if entry.path == "y.yaml":
            (tmp_path / "y.yaml").write_text("longer")
            assert _key(tmp_path / "y.yaml") == entry.stat_key()
    assert {
        "base/x.yaml": _key(tmp_path / "base/x.yaml"),
        "l": _key(tmp_path / "base/x.yaml"),
        "y.yaml": seen["y.yaml"],
    } == seen
    assert seen["y.yaml"] != _key(tmp_path / "y.yaml")


def test_runs_are_the_walk_a_directory_at_a_time(tmp_path: Path) -> None:
    """A walk's runs hold its entries' paths in order, their stat keys, and entries that open."""
    write_files(tmp_path, {"a/x": "ax", "a/y": "ay", "b/c/z": "z", "m": "m", "n": "n"})
    (tmp_path / "l").symlink_to("a/x")
    before = open_fds()
    runs = [
        (run.paths, run.stat_keys(), [_read_fd(e)[0] for e in run], _read_fd(run.entry(0))[0])
        for run in walk(tmp_path).runs()
    ]
    assert [
        (["a/x", "a/y"], [_key(tmp_path / "a/x"), _key(tmp_path / "a/y")], [b"ax", b"ay"], b"ax"),
        (["b/c/z"], [_key(tmp_path / "b/c/z")], [b"z"], b"z"),
        (["l"], [_key(tmp_path / "a/x")], [b"ax"], b"ax"),
        (["m", "n"], [_key(tmp_path / "m"), _key(tmp_path / "n")], [b"m", b"n"], b"m"),
    ] == runs
    assert [e.path for e in walk(tmp_path)] == [p for paths, *_ in runs for p in paths]
    assert before == open_fds()


def test_a_walk_is_gone_through_once(tmp_path: Path) -> None:
    """Entries or runs, not both; closing the walk ends its runs and frees their descriptors."""
    write_files(tmp_path, {"a/x": "x", "b/y": "y"})
    it = walk(tmp_path)
    next(it)
    with pytest.raises(RuntimeError, match="its entries or its runs"):
        it.runs()
    it.close()
    before = open_fds()
    other = walk(tmp_path)
    runs = other.runs()
    first = next(runs)
    assert ["a/x"] == first.paths
    assert "<WalkRun of 1 files, first 'a/x'>" == repr(first)
    with pytest.raises(RuntimeError, match="its entries or its runs"):
        next(other)
    second = next(runs)
    with pytest.raises(StaleEntryError, match="a/x"):
        first.stat_keys()  # the walk has left a/
    other.close()
    assert [] == list(runs)
    assert ([], [], []) == (second.paths, second.stat_keys(), list(second))  # closed: empty
    assert before == open_fds()
