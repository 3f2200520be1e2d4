"""
Reading one file's digest: the one way the tree checksum and its cache read a file.

A file is read through the walker's [`open_fd`][syncsafe.walker.WalkEntry.open_fd]
(relative to the walker's descriptor of its directory, checked against the
listing), never by its path again. A small file is one `os.read` of size + 1
bytes: it returns exactly size bytes only if the file still ends where its
``fstat`` said, so growth is seen without another system call. A large file,
or one whose read did not end at its size, is streamed from its start
([`hash_stream`][syncsafe.checksums._read.hash_stream] raises if it changed).
"""

from __future__ import annotations

import io
import os
from typing import TYPE_CHECKING, Final, cast

from syncsafe.errors import FileChangedWhileHashing

if TYPE_CHECKING:
    from syncsafe.checksums._algorithms import Algorithm
    from syncsafe.walker import WalkEntry

__all__ = ["CHUNK", "hash_stream", "read_digest"]

CHUNK: Final = 1 << 20  # 1 MiB: large enough for full read speed, small enough to not matter


def hash_stream(
    file: object, size: int, path: str, algorithm: Algorithm, buffer: memoryview
) -> bytes:
    """
    The digest of *file*'s *size* bytes, read in chunks of ``len(buffer)``.

    Memory stays constant: the file is fed to the hash chunk by chunk, to
    its end. Raises [`FileChangedWhileHashing`][syncsafe.errors.FileChangedWhileHashing] when that
    end is not at *size* bytes: the file changed since its size was taken.
    """
    readinto = cast("io.BufferedIOBase", file).readinto
    hasher = algorithm.new()
    done = 0
    while got := readinto(buffer):
        hasher.update(buffer[:got])
        done += got
    if done != size:
        raise FileChangedWhileHashing(path, size, done)
    return hasher.digest()


def read_digest(
    entry: WalkEntry, algorithm: Algorithm, buffer: memoryview
) -> tuple[bytes, os.stat_result]:
    """
    The digest of the file *entry* names, and the stat it was read under.

    The stat is the ``fstat`` of the descriptor read from, taken after the
    open and before the read: a digest recorded under its key never names
    other content, since an edit after it moves the file's ctime. An entry
    that offers only ``path``, ``stat`` and ``open()`` is read through
    ``open()``, under its ``stat``. *buffer* is the chunk a large file is
    streamed through.
    """
    try:
        open_fd = entry.open_fd
    except AttributeError:  # an entry that offers only path, stat and open()
        return _read_opened(entry, algorithm, buffer)
    fd, st = open_fd()
    try:
        size = st.st_size
        if size < len(buffer) and len(data := os.read(fd, size + 1)) == size:
            return algorithm.oneshot(data), st
        os.lseek(fd, 0, os.SEEK_SET)  # large, or it changed since the fstat: stream, or raise
        with io.FileIO(fd, "rb", closefd=False) as file:
            return hash_stream(file, size, entry.path, algorithm, buffer), st
    finally:
        os.close(fd)


def _read_opened(
    entry: WalkEntry, algorithm: Algorithm, buffer: memoryview
) -> tuple[bytes, os.stat_result]:
    """[`read_digest`][] through the entry's ``open()``, for entries that offer nothing more."""
    st = entry.stat
    size = st.st_size
    with entry.open() as file:
        if size < len(buffer):
            # One read of size + 1 bytes, past the buffered layer, as from a descriptor.
            raw = cast("io.RawIOBase", getattr(file, "raw", file))
            if raw.readinto(buffer[: size + 1]) == size:
                return algorithm.oneshot(buffer[:size]), st
            file.seek(0)  # a short read, or the file changed: read it again, or raise
        return hash_stream(file, size, entry.path, algorithm, buffer), st
