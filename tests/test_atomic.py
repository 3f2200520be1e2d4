from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from _files import open_fds
from syncsafe import _atomic
from syncsafe._atomic import atomic_replace, atomic_replace_open

pytestmark = pytest.mark.timeout(30)


class Injected(Exception):
    """The failure a test puts in the middle of a write."""


@pytest.fixture
def umask() -> Iterator[int]:
    """A umask of 027 for the test (restored after it): group may read, others nothing."""
    old = os.umask(0o027)
    try:
        yield 0o027
    finally:
        os.umask(old)


def chunked(chunks: list[bytes], between: Callable[[], None]) -> Callable[[int], None]:
    """A writer of *chunks*, one ``write`` each, calling *between* after each."""

    def write(fd: int) -> None:
        for chunk in chunks:
            os.write(fd, chunk)
            between()

    return write


def test_the_file_is_replaced_whole_and_no_temporary_file_stays(tmp_path: Path) -> None:
    """The new bytes are the file's, at its path, and the directory holds nothing else."""
    target = tmp_path / "out.json"
    target.write_bytes(b"old, and longer than the new content\n")
    atomic_replace(target, b"new\n")
    assert b"new\n" == target.read_bytes()
    assert ["out.json"] == [p.name for p in tmp_path.iterdir()]


def test_an_exception_mid_write_leaves_the_old_file_and_no_temporary_one(tmp_path: Path) -> None:
    """A writer that raises after writing half: the old content stays, the temp file goes."""
    target = tmp_path / "out.prom"
    target.write_bytes(b"old\n")
    fds = open_fds()

    def fail() -> None:
        raise Injected

    with pytest.raises(Injected):
        atomic_replace(target, chunked([b"half"], fail))
    assert b"old\n" == target.read_bytes()
    assert ["out.prom"] == [p.name for p in tmp_path.iterdir()]
    assert fds == open_fds()


def test_a_failed_rename_leaves_the_old_file_and_no_temporary_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rename refused (a full disk, no permission): the same, and the error surfaces."""
    target = tmp_path / "cache"
    target.write_bytes(b"old")
    fds = open_fds()

    def fail(_source: str, _target: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="No space left"):
        atomic_replace(target, b"new")
    assert b"old" == target.read_bytes()
    assert ["cache"] == [p.name for p in tmp_path.iterdir()]
    assert fds == open_fds()


def test_a_fixed_temporary_name_is_reused_and_a_leftover_truncated(tmp_path: Path) -> None:
    """With *temp*, a killed writer's leftover is overwritten from its start, then renamed."""
    target = tmp_path / "app.ceiling"
    leftover = tmp_path / "app.ceiling.tmp"
    leftover.write_bytes(b"a killed writer's much longer leftover")
    atomic_replace(target, b"7\n", temp=os.fspath(leftover))
    assert b"7\n" == target.read_bytes()
    assert ["app.ceiling"] == [p.name for p in tmp_path.iterdir()]


def test_the_temporary_file_is_hidden_and_not_of_the_targets_kind(tmp_path: Path) -> None:
    """While it is written, its name starts with a dot and ends in .tmp: no *.prom glob sees it."""
    target = tmp_path / "stale.prom"
    seen: list[str] = []
    atomic_replace(
        target, chunked([b"x 1\n"], lambda: seen.extend(p.name for p in tmp_path.iterdir()))
    )
    [name] = seen
    assert name.startswith(".stale.prom.")
    assert name.endswith(".tmp")
    assert not Path(name).match("*.prom")


@pytest.mark.usefixtures("umask")
@pytest.mark.parametrize(
    ("mode", "umask_applies", "expected"),
    [
        (0o666, True, 0o640),  # as open(2) creates a file
        (0o600, True, 0o600),
        (0o644, False, 0o644),  # whatever the umask: a reader of another user
        (0o604, False, 0o604),
    ],
)
def test_the_new_file_has_the_mode_asked_for(
    tmp_path: Path, mode: int, *, umask_applies: bool, expected: int
) -> None:
    """*mode* less the umask, or with ``umask=False`` exactly *mode*, from before the rename."""
    target = tmp_path / "out"
    modes: list[int] = []

    def write(fd: int) -> None:
        os.write(fd, b"x")

    real_replace = os.replace

    def spy_replace(source: str, destination: str) -> None:
        modes.append(stat.S_IMODE(Path(source).stat().st_mode))
        real_replace(source, destination)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(os, "replace", spy_replace)
        atomic_replace(target, write, mode=mode, umask=umask_applies)
    assert [expected] == modes  # never seen at its path with other permissions
    assert expected == stat.S_IMODE(target.stat().st_mode)


def test_the_file_and_then_its_directory_are_fsynced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The new file is fsynced before the rename, and the directory that names it after it."""
    target = tmp_path / "out"
    events: list[str] = []
    fsync, replace = os.fsync, os.replace
    directory = tmp_path.stat()

    def spy_fsync(fd: int) -> None:
        held = os.fstat(fd)
        if stat.S_ISDIR(held.st_mode):
            assert (directory.st_dev, directory.st_ino) == (held.st_dev, held.st_ino)
            events.append("fsync directory")
        else:
            events.append("fsync file")
        fsync(fd)

    def spy_replace(source: str, destination: str) -> None:
        events.append("rename")
        replace(source, destination)

    monkeypatch.setattr(os, "fsync", spy_fsync)
    monkeypatch.setattr(os, "replace", spy_replace)
    atomic_replace(target, b"x")
    assert ["fsync file", "rename", "fsync directory"] == events
    events.clear()
    atomic_replace(target, b"y", durable=False)
    assert ["rename"] == events


def test_a_relative_path_fsyncs_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bare file name is in the working directory, which is the one fsynced."""
    monkeypatch.chdir(tmp_path)
    synced: list[str] = []
    monkeypatch.setattr(_atomic, "fsync_directory", synced.append)
    atomic_replace("out", b"x")
    assert ["."] == synced
    assert b"x" == (tmp_path / "out").read_bytes()


def test_the_open_variant_keeps_the_new_file_open_for_reading_and_writing(tmp_path: Path) -> None:
    """``atomic_replace_open`` returns the renamed file's fd, open O_RDWR."""
    target = tmp_path / "app.state"
    fd = atomic_replace_open(target, b"0123", durable=False)
    try:
        assert (os.fstat(fd).st_ino) == target.stat().st_ino
        os.pwrite(fd, b"ab", 1)
        assert b"0ab3" == os.pread(fd, 16, 0)
    finally:
        os.close(fd)
    assert b"0ab3" == target.read_bytes()


@given(
    old=st.binary(max_size=64),
    chunks=st.lists(st.binary(min_size=1, max_size=64), min_size=1, max_size=8),
)
def test_a_reader_never_sees_a_partial_file(
    tmp_path_factory: pytest.TempPathFactory, old: bytes, chunks: list[bytes]
) -> None:
    """Read after every chunk written: always the old content, whole; at the end the new, whole."""
    directory = tmp_path_factory.mktemp("atomic")
    target = directory / "out"
    target.write_bytes(old)
    seen: list[bytes] = []
    atomic_replace(target, chunked(chunks, lambda: seen.append(target.read_bytes())))
    assert [old] * len(chunks) == seen
    assert b"".join(chunks) == target.read_bytes()
    assert [target] == list(directory.iterdir())


def test_a_taken_temporary_name_is_never_written_through(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A name that exists (a planted file or link) is skipped for another; never opened."""
    target = tmp_path / "out"
    names = iter([b"\x00" * 6, b"\x01" * 6])
    monkeypatch.setattr(os, "urandom", lambda _: next(names))
    planted = tmp_path / f".out.{'00' * 6}.tmp"
    planted.write_bytes(b"planted")
    atomic_replace(target, b"new")
    assert b"new" == target.read_bytes()
    assert b"planted" == planted.read_bytes()
    assert sorted([".out.000000000000.tmp", "out"]) == sorted(p.name for p in tmp_path.iterdir())


def test_no_free_temporary_name_is_an_error_that_names_the_target(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every name tried taken: FileExistsError naming the target, and nothing written."""
    target = tmp_path / "out"
    monkeypatch.setattr(os, "urandom", lambda _: b"\x00" * 6)
    (tmp_path / f".out.{'00' * 6}.tmp").write_bytes(b"planted")
    with pytest.raises(FileExistsError, match=f"{target}: no unused temporary name"):
        atomic_replace(target, b"new")
    assert not target.exists()


def test_a_failed_directory_fsync_surfaces_and_leaves_no_fd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rename is done but not durable: the error reaches the caller, no fd is left open."""
    target = tmp_path / "out"
    fds = open_fds()

    def fail(_path: str) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(_atomic, "fsync_directory", fail)
    with pytest.raises(OSError, match="Input/output error"):
        atomic_replace(target, b"new")
    assert b"new" == target.read_bytes()
    assert fds == open_fds()
