"""
Replacing a file whole: a temporary file beside it, written, fsynced, renamed over it.

The one place that writes a file so that a reader, or a crash, never finds
half of it: the Prometheus textfile, the checksum cache, the checksum
manifest the CLI writes and the guard's ceiling and state files all go
through `atomic_replace` (the guard's state file through
`atomic_replace_open`, which keeps the new file open). What this module does not do: lock. Two
writers of one path each replace it whole, and the last rename wins; a
caller that must not lose a write holds its own lock around the call.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable
from typing import Final

__all__ = ["atomic_replace", "atomic_replace_open", "fsync_directory"]

Content = bytes | Callable[[int], object]
"""The new file's bytes, or a function that writes them to the fd it is given."""

_NAMES_TRIED: Final = 100  # unique temporary names tried before giving up, as tempfile's loop


def atomic_replace(
    path: str | os.PathLike[str],
    content: Content,
    *,
    mode: int = 0o666,
    umask: bool = True,
    temp: str | None = None,
    durable: bool = True,
) -> None:
    """
    Replace the file at *path* with *content*: a reader sees the old file or the new, whole.

    The content goes to a temporary file in *path*'s directory, which is
    renamed over *path* (``rename(2)`` replaces a name in one step). With
    *durable* (the default) the temporary file is fsynced before the rename,
    so that a crash cannot leave *path* naming an empty file, and the
    directory after it, so that the rename itself survives a crash. On any
    failure, the temporary file is removed and *path* is as it was.

    *mode* is the new file's permissions, less the process's umask as
    ``open(2)`` applies it; with ``umask=False``, exactly *mode* whatever
    the umask (a file another user must read, such as a textfile that
    node_exporter reads as ``nobody``). *temp* is a fixed temporary path for
    writers that already exclude each other (under a lock): a leftover from
    a killed writer is truncated and reused rather than left to pile up.
    Without it, the temporary file gets a new hidden name, ``.<name>.<random>.tmp``,
    which no ``*.prom``, ``*.json`` or other glob of *path*'s kind matches.
    """
    os.close(atomic_replace_open(path, content, mode=mode, umask=umask, temp=temp, durable=durable))


def atomic_replace_open(
    path: str | os.PathLike[str],
    content: Content,
    *,
    mode: int = 0o666,
    umask: bool = True,
    temp: str | None = None,
    durable: bool = True,
) -> int:
    """
    As `atomic_replace`, and the new file stays open: its fd.

    Opened for reading and writing (``O_RDWR``); the caller closes it. For a
    file that is replaced whole once and then written in place through the
    same descriptor, as the guard's state file is.
    """
    target = os.fspath(path)
    fd, name = _create(target, temp, mode)
    try:
        if not umask:
            os.fchmod(fd, mode)  # before the rename: the file never shows at its path without it
        if callable(content):
            content(fd)
        else:
            _write_all(fd, content)
        if durable:
            os.fsync(fd)
        os.replace(name, target)  # noqa: PTH105 - str paths: the guard's are built once
    except BaseException:
        os.close(fd)
        _unlink_quietly(name)
        raise
    if durable:
        try:
            fsync_directory(os.path.dirname(target) or ".")  # noqa: PTH120 - as above
        except BaseException:
            os.close(fd)
            raise
    return fd


def fsync_directory(path: str | os.PathLike[str]) -> None:
    """Make the names in the directory *path* durable: a rename, a new file (a no-op on Windows)."""
    if sys.platform == "win32":  # pragma: no cover - a directory cannot be opened there
        return
    directory = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def _create(target: str, temp: str | None, mode: int) -> tuple[int, str]:
    """A new temporary file for *target*, open for reading and writing, and its path."""
    flags = os.O_RDWR | os.O_CREAT | os.O_CLOEXEC
    if temp is not None:
        return os.open(temp, flags | os.O_TRUNC, mode), temp
    head, tail = os.path.split(target)
    for _ in range(_NAMES_TRIED):
        # O_EXCL: a name someone else made in the meantime is never written through.
        name = os.path.join(head, f".{tail}.{os.urandom(6).hex()}.tmp")  # noqa: PTH118 - str
        try:
            return os.open(name, flags | os.O_EXCL, mode), name
        except FileExistsError:  # 48 random bits: only ever a name made on purpose
            continue
    msg = f"{target}: no unused temporary name beside it after {_NAMES_TRIED} tries"
    raise FileExistsError(msg)


def _write_all(fd: int, data: bytes) -> None:
    """Write all of *data* at *fd*'s offset: ``write(2)`` may take less than it is given."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _unlink_quietly(path: str) -> None:
    """Remove the temporary file at *path*, if it is there (a failed write's leftover)."""
    with contextlib.suppress(OSError):
        os.unlink(path)  # noqa: PTH108 - a str path
