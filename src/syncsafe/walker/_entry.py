"""
The entry handle of [`syncsafe.walker.walk`][], and its "was this file replaced?" checks.

A [`WalkEntry`][syncsafe.walker.WalkEntry] names a file the walk listed and reads it relative to
the walker's open descriptor of its directory;
[`WalkEntry.stat`][syncsafe.walker.WalkEntry.stat] and
[`WalkEntry.open_fd`][syncsafe.walker.WalkEntry.open_fd] check that what they reach is the regular
file the listing gave (its inode, on the directory's device, or the name stat-ed
again where those cannot tell). The rules of resolution (``..`` above the
root, absolute targets) are `syncsafe._fs`'s; the loop rule is the
walking engine's (``syncsafe.walker._engine``).
"""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Callable, Iterator
from itertools import repeat
from operator import attrgetter, itemgetter
from pathlib import Path
from stat import S_ISREG
from typing import TYPE_CHECKING, Any, BinaryIO, Final, TypeAlias, final

from syncsafe._fs import FILE_FLAGS, file_kind, identity
from syncsafe.errors import (
    SpecialFileError,
    StaleEntryError,
    UnsafePathError,
)

if TYPE_CHECKING:
    from syncsafe._fs import Dir
    from syncsafe.walker._engine import _Frame

# Sorting names as str gives their UTF-8 byte order unless a name holds an
# undecodable byte (a lone surrogate, from surrogateescape): then sort bytes.
_UTF8_FS: Final = sys.getfilesystemencoding().lower().replace("-", "") == "utf8"

StatKey: TypeAlias = tuple[int, int, int, int, int, int]
"""``(st_dev, st_ino, st_size, st_mtime_ns, st_ctime_ns, st_mode)``: a stat-keyed cache's key."""

stat_key: Final[Callable[[os.stat_result], StatKey]] = attrgetter(
    "st_dev", "st_ino", "st_size", "st_mtime_ns", "st_ctime_ns", "st_mode"
)
"""The `StatKey` of a stat result: an ``attrgetter``, so made in C with no Python frame."""


@final
class _FileRef:
    """Where a file reached through a link is: its physical directory, its name there, its stat."""

    __slots__ = ("name", "node", "st")

    def __init__(self, node: Dir, name: str, st: os.stat_result) -> None:
        self.node = node
        self.name = name
        self.st = st


# Where an entry's file is: listed in its own directory (the walker's _Frame of it),
# reached through a link (a _FileRef), or nowhere (hand-made).
_Ref: TypeAlias = "_Frame | _FileRef | None"


class _EntryType(type):
    """``WalkEntry(path, ref=None)``: the public constructor, for the odd hand-made entry."""

    def __call__(cls, path: str, ref: _Ref = None) -> Any:  # noqa: ANN401 - a WalkEntry
        return _new_entry(cls, (path, ref))


def _open_error(exc: OSError, path: str) -> Exception:
    """What a failed open of the listed file at *path* raises: *exc*, or what it means."""
    if isinstance(exc, FileNotFoundError):
        return exc
    if isinstance(exc, PermissionError):  # unreadable is not "changed": say so, with the path
        return PermissionError(exc.errno, exc.strerror, path)
    return UnsafePathError(path, f"changed since it was listed: {exc.strerror}")  # ELOOP: a link


@final
class WalkEntry(tuple[str, _Ref], metaclass=_EntryType):
    """
    One regular file reached by [`walk`][syncsafe.walker.walk].

    ``path`` is POSIX and relative to the root, as reached: through a
    symlinked directory the file appears under the link's name. Undecodable
    bytes in names come through `os.fsdecode` (surrogateescape).

    Like `os.DirEntry`, an entry is a live handle, not a value: it
    compares and hashes by identity and does not order; its [`stat`][syncsafe.walker.WalkEntry.stat]
    is fetched on first access (one ``fstatat`` relative to the walker's
    descriptor of the file's directory) and cached; [`open`][syncsafe.walker.WalkEntry.open] (and
    [`open_fd`][syncsafe.walker.WalkEntry.open_fd], the raw descriptor) is valid only until the walk
    leaves that directory — read each entry before asking for the next. Opening
    needs no stat: the file opened is checked against the inode number the
    directory listing gave.

    It is an immutable, light type rather than an attrs class, for speed: the
    walk makes one per file, in bulk, without running any Python code per
    entry, and an attrs instance alone cost a third of `os.walk`'s time
    per file (benchmark ``walk-10k``). Underneath it is a tuple subclass with
    no instance dictionary, as `os.stat_result` is; use its attributes,
    its tuple form is an implementation detail.

    What a stat-keyed cache needs is supported as such:
    [`stat_key`][syncsafe.walker.WalkEntry.stat_key] gives the file's key now
    (one ``fstatat``, not checked against the listing: a lookup key), and
    [`open_fd`][syncsafe.walker.WalkEntry.open_fd] the opened, checked file
    and the ``fstat`` to record a digest under. A walk's ``runs()`` gives a
    directory's files together ([`WalkRun`][syncsafe.walker.WalkRun]).
    """

    __slots__ = ()

    if TYPE_CHECKING:

        def __new__(cls, path: str, ref: _Ref = None) -> WalkEntry:
            """An entry for *path*; only [`walk`][] gives it a directory (*ref*) to read from."""

        @property
        def path(self) -> str:
            """The path relative to the root, as reached (POSIX)."""

    else:
        path = property(itemgetter(0), doc="The path relative to the root, as reached (POSIX).")

    __eq__ = object.__eq__
    __ne__ = object.__ne__
    __hash__ = object.__hash__

    def __lt__(self, other: object) -> bool:
        return NotImplemented

    __le__ = __gt__ = __ge__ = __lt__

    def __repr__(self) -> str:
        return f"WalkEntry(path={self[0]!r})"

    def _where(self) -> tuple[Dir, str, os.stat_result | None]:
        ref = self[1]
        if type(ref) is _FileRef:
            return ref.node, ref.name, ref.st
        if ref is None:
            msg = f"{self[0]}: this entry was not produced by syncsafe.walk()"
            raise ValueError(msg)
        name = self[0].rpartition("/")[2]  # a file listed in its own directory
        stats = ref.stats
        return ref.node, name, None if stats is None else stats.get(name)

    @property
    def real(self) -> Path:
        """The resolved physical location (absolute)."""
        node, name, _ = self._where()
        return Path(node.real(), name)

    @property
    def stat(self) -> os.stat_result:
        """
        The file's own ``lstat``: dev, ino, size, mtime_ns, ctime_ns, mode.

        For a file reached through a symlink, the stat of the target. Fetched
        on first access relative to the walker's directory descriptor (after
        the walk has moved on, by the physical path, which has no links in it)
        and cached. It must be a regular file with the inode the directory
        listing gave, else [`UnsafePathError`][syncsafe.errors.UnsafePathError]: the
        file was replaced since it was listed.
        """
        path, ref = self
        if type(ref) is _FileRef or ref is None:
            st = self._where()[2]
            assert st is not None  # noqa: S101 - a file reached through a link has its lstat
            return st
        name = path.rpartition("/")[2]  # a file listed in its own directory
        stats = ref.stats
        if stats is None:
            stats = ref.stats = {}
        elif (st := stats.get(name)) is not None:
            return st
        node = ref.node
        if node.fd >= 0:
            st = os.stat(name, dir_fd=node.fd, follow_symlinks=False)
        else:
            st = os.lstat(os.path.join(node.real(), name))  # noqa: PTH118 - a str is wanted
        inodes = ref.inodes
        if inodes is None:
            inodes = _inodes(ref)
        if not S_ISREG(st.st_mode):
            raise UnsafePathError(path, "changed since it was listed: not a regular file")
        if st.st_ino != inodes.get(name, 0) and inodes.get(name, 0) not in _UNKNOWN_INODES:
            raise UnsafePathError(path, "was replaced since it was listed")
        stats[name] = st
        return st

    def stat_key(self) -> StatKey:
        """
        The file's ``(st_dev, st_ino, st_size, st_mtime_ns, st_ctime_ns, st_mode)`` now.

        For a cache keyed on ``stat``: one ``fstatat`` relative to the walker's
        descriptor of the file's directory, taken at each call (never cached)
        and, unlike [`stat`][syncsafe.walker.WalkEntry.stat], not checked
        against the listing, which would cost half as much again as the call
        itself. So it may describe what the name holds now even if that is
        not the file listed (a symlink, a FIFO, another file renamed over it):
        a cache must record digests only under the key of a file it opened
        with [`open_fd`][syncsafe.walker.WalkEntry.open_fd] (that
        descriptor's ``fstat``), so such a key misses and the file is then
        opened and checked. For a file reached through a symlink it is the key
        of the target's ``lstat`` taken when the link was resolved. After the
        walk has moved past the entry's directory, the name is stat-ed by its
        physical path, as [`stat`][syncsafe.walker.WalkEntry.stat] does.

        !!! note "Added in version 0.1.0"
        """
        path, ref = self
        if type(ref) is _FileRef or ref is None:
            return stat_key(self.stat)
        name = path.rpartition("/")[2]  # a file listed in its own directory
        node = ref.node
        if node.fd >= 0:
            return stat_key(os.stat(name, dir_fd=node.fd, follow_symlinks=False))
        return stat_key(os.lstat(os.path.join(node.real(), name)))  # noqa: PTH118 - a str

    @property
    def size(self) -> int:
        """The size in bytes."""
        return self.stat.st_size

    @property
    def mode(self) -> int:
        """``st_mode`` of the file itself (after following links that stay inside)."""
        return self.stat.st_mode

    def open(self) -> BinaryIO:
        """
        The file, opened for reading relative to the walker's open directory descriptor.

        Opened and checked as [`open_fd`][syncsafe.walker.WalkEntry.open_fd] does, and
        buffered. After the walk has moved past the entry's directory it raises
        [`StaleEntryError`][syncsafe.errors.StaleEntryError].
        """
        fd, _ = self.open_fd()
        return io.BufferedReader(io.FileIO(fd, "rb"))

    def open_fd(self) -> tuple[int, os.stat_result]:
        """
        A raw descriptor of the file, opened as [`open`][] does, and its ``fstat``.

        For callers that read the file straight from the descriptor
        (`os.read`) and want its size without another system call; the
        caller closes the descriptor (`os.close`). The file is opened
        relative to the walker's open descriptor of its directory with
        ``O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC`` — never by
        resolving its path again from the root — and ``fstat`` must then say
        it is a regular file (else [`SpecialFileError`][syncsafe.errors.SpecialFileError])
        and the one that was listed: the inode number the directory listing
        gave, on the directory's device, or for a file reached through a
        symlink the device and inode its resolution found (else
        [`UnsafePathError`][syncsafe.errors.UnsafePathError]). Where the device differs
        from the directory's (a mount point, or an overlay file system that
        reports a lower layer's device) or the listing gave no inode number
        (some FUSE file systems), the name is stat-ed again and must still
        name the opened file. A symlink put in the file's place is refused;
        a file gone is `FileNotFoundError`. After the walk has moved
        past the entry's directory it raises
        [`StaleEntryError`][syncsafe.errors.StaleEntryError].
        """
        path, ref = self
        if type(ref) is _FileRef or ref is None:
            node, name, _ = self._where()
            listed = None
        else:
            node = ref.node
            name = path.rpartition("/")[2]  # a file listed in its own directory
            listed = ref
        if node.fd < 0:
            raise StaleEntryError(path)
        try:  # without following a link (O_NOFOLLOW); inline, as this runs once per file read
            fd = os.open(name, FILE_FLAGS, dir_fd=node.fd)
        except OSError as exc:
            error = _open_error(exc, path)
            if error is exc:
                raise
            raise error from exc
        try:
            st = os.fstat(fd)
            if listed is not None:  # the common case, checked inline
                ident = node.ident
                if ident is None:  # the directory's device, once per directory
                    ident = node.ident = identity(node.fd)
                inodes = listed.inodes
                if inodes is None:
                    inodes = _inodes(listed)
                if not (
                    S_ISREG(st.st_mode)
                    and st.st_ino == inodes.get(name, 0)
                    and st.st_dev == ident[0]
                ):
                    self._check(listed, name, st)
            else:
                self._check(None, name, st)
        except BaseException:
            os.close(fd)
            raise
        return fd, st

    def _check(self, listed: _Frame | None, name: str, st: os.stat_result) -> None:
        """
        Whether the file opened (*st*) is the one listed: return if so, else raise.

        *listed* is the state of the directory the file was listed in, or
        ``None`` for a file reached through a link.
        """
        path = self[0]
        if not S_ISREG(st.st_mode):
            if listed is not None and (listed.stats is None or name not in listed.stats):
                # compared with the listing alone, as the stat would have been
                raise UnsafePathError(path, "changed since it was listed: not a regular file")
            raise SpecialFileError(path, file_kind(st.st_mode))
        if listed is None:  # reached through a link: its resolution's lstat
            if not _same_file(st, self.stat):
                raise UnsafePathError(path, "was replaced since it was listed")
        else:
            self._confirm(listed, name, st)

    def _confirm(self, listed: _Frame, name: str, st: os.stat_result) -> None:
        """
        The slow check of [`open_fd`][]: the opened file is the listed one, or refuse it.

        Reached when the inode number differs from the listing's, or the
        device from the directory's. A known, different inode number is a
        replaced file. Otherwise the name, stat-ed again, must name the
        opened file, and so must the entry's stat if it was taken.
        """
        inode = (listed.inodes or _inodes(listed)).get(name, 0)
        known = listed.stats.get(name) if listed.stats is not None else None
        if (
            (st.st_ino != inode and inode not in _UNKNOWN_INODES)
            or not _same_file(st, os.stat(name, dir_fd=listed.node.fd, follow_symlinks=False))
            or (known is not None and not _same_file(st, known))
        ):
            raise UnsafePathError(self[0], "was replaced since it was listed")


@final
class WalkRun:
    """
    Files of one directory that [`walk`][syncsafe.walker.walk] hands out together, in order.

    What a walk's [`runs`][syncsafe.walker.walk] gives, for a caller that
    handles a directory's files together and wants no Python code to run per
    file: a directory's regular files up to its next subdirectory or link (or
    the one file a link to a file reaches). ``paths`` are the files' paths,
    as [`WalkEntry.path`][syncsafe.walker.WalkEntry.path] gives them (do not
    change the list); [`stat_keys`][syncsafe.walker.WalkRun.stat_keys] their
    stat keys, in one pass; iterating the run, or
    [`entry`][syncsafe.walker.WalkRun.entry], gives their
    [`WalkEntry`][syncsafe.walker.WalkEntry] objects, to open a file through
    the same checks as the walk's own entries. Like those, a run is valid only
    until the walk moves on: use it before asking for the next.

    !!! note "Added in version 0.1.0"
    """

    __slots__ = ("_names", "_ref", "paths")

    def __init__(self, paths: list[str], ref: _Ref, names: list[str] | None = None) -> None:
        self.paths = paths
        self._ref = ref
        self._names = names  # the files' names in their directory, when the walker has them

    def __repr__(self) -> str:
        first = self.paths[0] if self.paths else None
        return f"<WalkRun of {len(self.paths)} files, first {first!r}>"

    def __len__(self) -> int:
        return len(self.paths)

    def __iter__(self) -> Iterator[WalkEntry]:
        """The run's entries, made in C as the walk makes them."""
        return map(_make, zip(self.paths, repeat(self._ref)))

    def entry(self, index: int) -> WalkEntry:
        """The [`WalkEntry`][syncsafe.walker.WalkEntry] of ``paths[index]``."""
        return _make((self.paths[index], self._ref))

    def stat_keys(self) -> list[StatKey]:
        """
        [`WalkEntry.stat_key`][syncsafe.walker.WalkEntry.stat_key] of each file, in order.

        One ``fstatat`` per file relative to the walker's descriptor of the
        directory, and nothing else: one comprehension over the names, with
        no Python function called per file (the ``fstatat`` is what benchmark
        ``checksum-10000-files-cache-interleaved``'s ``warm_kept`` spends per
        file; ``map`` over a ``functools.partial`` of `os.stat` measured
        slower, as the partial merges its keywords at each call). Raises
        [`StaleEntryError`][syncsafe.errors.StaleEntryError] after the walk has moved
        past the directory; after the walk was closed, the run is empty.
        """
        ref = self._ref
        if type(ref) is _FileRef or ref is None or not self.paths:  # one file, or the walk closed
            return [entry.stat_key() for entry in self]
        fd = ref.node.fd
        if fd < 0:
            raise StaleEntryError(self.paths[0])
        names = self._names
        if names is None:  # the paths share their directory's prefix: cut it off, in C
            first = self.paths[0]
            cut = itemgetter(slice(len(first) - len(first.rpartition("/")[2]), None))
            names = self._names = list(map(cut, self.paths))
        lstat = os.lstat
        return [stat_key(lstat(name, dir_fd=fd)) for name in names]


# Inode numbers a directory listing gives when the file system does not know
# them (FUSE mounted without use_ino gives 0xffffffff; some give 0): then the
# opened file is checked against its name, stat-ed again, instead.
_UNKNOWN_INODES: Final = frozenset({0, 0xFFFFFFFF})


def _inodes(listed: _Frame) -> dict[str, int]:
    """The inode numbers *listed*'s listing gave for its regular files, by name (no syscall)."""
    inodes = listed.inodes = {e.name: e.inode() for e in listed.listing}
    return inodes


def _same_file(a: os.stat_result, b: os.stat_result) -> bool:
    return a.st_ino == b.st_ino and a.st_dev == b.st_dev


# type.__call__ bound to WalkEntry: makes an entry from a (path, ref) pair
# straight through tuple's own constructor, past the metaclass, in C.
_new_entry: Final = type.__call__
_make: Final[Callable[[tuple[str, _Ref]], WalkEntry]] = type.__call__.__get__(WalkEntry)
