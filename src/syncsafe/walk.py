"""
A deterministic, loop-safe, escape-safe walk of a tree, and a findings report.

:func:`walk` yields one :class:`WalkEntry` per regular file reachable from the
root, in ascending byte order of its path (git's tree order), following
symlinks that stay inside the root by the rules of :mod:`syncsafe.paths` —
the same code decides. :func:`scan` walks everything and reports every unsafe
entry instead of raising, for pre-sync hooks (``syncsafe scan``).

How it differs from :func:`os.walk`: it never builds a path string longer
than one name for a system call — it holds directory descriptors and opens
each child relative to its parent with ``O_NOFOLLOW`` — so a tree deeper than
``PATH_MAX`` works and a directory swapped for a symlink mid-walk cannot
redirect it outside. It is iterative, so depth costs no recursion. It follows
directory symlinks only when they stay inside and do not lead back to a
directory it is already in (that is a :class:`~syncsafe.errors.SymlinkLoopError`,
not an endless walk). It never opens a FIFO, socket or device.

Descriptors: the walk holds the root's descriptor and those of at most 128
directories on its current path (the deepest ones). Going back up past
them, it reopens a directory from the nearest open ancestor, name by name
with ``O_NOFOLLOW``, and checks it is the same directory (device and inode)
it left; so a tree 2,100 levels deep needs no raised ``RLIMIT_NOFILE``.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import io
import os
import sys
from bisect import bisect_left
from collections.abc import Callable, Generator, Iterable, Iterator
from itertools import chain, repeat
from operator import itemgetter
from pathlib import Path
from stat import S_ISDIR, S_ISLNK, S_ISREG
from typing import TYPE_CHECKING, Any, BinaryIO, Final, Literal, TypeAlias, final

import attrs
import pathspec

from syncsafe._fs import (
    DIR_FLAGS,
    FILE_FLAGS,
    Dir,
    Resolved,
    Root,
    StrPath,
    close_dir,
    ensure_fd,
    file_kind,
    identity,
    read_link,
    resolve_from,
)
from syncsafe.errors import (
    AbsoluteSymlinkError,
    DanglingSymlinkError,
    PathEscapeError,
    SpecialFileError,
    StaleEntryError,
    SymlinkLoopError,
    UnsafePathError,
)

__all__ = ["Finding", "WalkEntry", "scan", "walk"]

Policy = Literal["skip", "error"]

_WINDOW: Final = 128  # directory descriptors kept open on the current path, besides the root
# Sorting names as str gives their UTF-8 byte order unless a name holds an
# undecodable byte (a lone surrogate, from surrogateescape): then sort bytes.
_UTF8_FS: Final = sys.getfilesystemencoding().lower().replace("-", "") == "utf8"


@final
class _FileRef:
    """Where a file reached through a link is: its physical directory, its name there, its stat."""

    __slots__ = ("name", "node", "st")

    def __init__(self, node: Dir, name: str, st: os.stat_result) -> None:
        self.node = node
        self.name = name
        self.st = st


_Ref: TypeAlias = "Dir | _FileRef | None"


class _EntryType(type):
    """``WalkEntry(path, ref=None)``: the public constructor, for the odd hand-made entry."""

    def __call__(cls, path: str, ref: _Ref = None) -> Any:  # noqa: ANN401 - a WalkEntry
        return _new_entry(cls, (path, ref))


def _open_listed(name: str, dir_fd: int, path: str) -> int:
    """Open the listed file *name* in *dir_fd* without following a link; errors name *path*."""
    try:
        return os.open(name, FILE_FLAGS, dir_fd=dir_fd)
    except FileNotFoundError:
        raise
    except PermissionError as exc:  # unreadable is not "changed": say so, with the path
        raise PermissionError(exc.errno, exc.strerror, path) from exc
    except OSError as exc:  # ELOOP: it is a symlink now
        raise UnsafePathError(path, f"changed since it was listed: {exc.strerror}") from exc


@final
class WalkEntry(tuple[str, _Ref], metaclass=_EntryType):
    """
    One regular file reached by :func:`walk`.

    ``path`` is POSIX and relative to the root, as reached: through a
    symlinked directory the file appears under the link's name. Undecodable
    bytes in names come through :func:`os.fsdecode` (surrogateescape).

    Like :class:`os.DirEntry`, an entry is a live handle, not a value: it
    compares and hashes by identity and does not order; its :attr:`stat` is
    fetched on first access (one ``fstatat`` relative to the walker's
    descriptor of the file's directory) and cached; :meth:`open` (and
    :meth:`open_fd`, the raw descriptor) is valid only until the walk leaves
    that directory — read each entry before asking for the next. Opening
    needs no stat: the file opened is checked against the inode number the
    directory listing gave.

    It is an immutable, light type rather than an attrs class, for speed: the
    walk makes one per file, in bulk, without running any Python code per
    entry, and an attrs instance alone cost a third of :func:`os.walk`'s time
    per file (benchmark ``walk-10k``). Underneath it is a tuple subclass with
    no instance dictionary, as :class:`os.stat_result` is; use its attributes,
    its tuple form is an implementation detail.
    """

    __slots__ = ()

    if TYPE_CHECKING:

        def __new__(cls, path: str, ref: _Ref = None) -> WalkEntry:
            """An entry for *path*; only :func:`walk` gives it a directory (*ref*) to read from."""

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
        if isinstance(ref, _FileRef):
            return ref.node, ref.name, ref.st
        if ref is None:
            msg = f"{self[0]}: this entry was not produced by syncsafe.walk()"
            raise ValueError(msg)
        name = self[0].rpartition("/")[2]  # a file listed in its own directory
        stats = ref.stats
        return ref, name, None if stats is None else stats.get(name)

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
        listing gave, else :class:`~syncsafe.errors.UnsafePathError`: the
        file was replaced since it was listed.
        """
        path, ref = self
        if type(ref) is not Dir:
            st = self._where()[2]
            assert st is not None  # noqa: S101 - a file reached through a link has its lstat
            return st
        name = path.rpartition("/")[2]  # a file listed in its own directory
        stats = ref.stats
        if stats is None:
            stats = ref.stats = {}
        elif (st := stats.get(name)) is not None:
            return st
        if ref.fd >= 0:
            st = os.stat(name, dir_fd=ref.fd, follow_symlinks=False)
        else:
            st = os.lstat(os.path.join(ref.real(), name))  # noqa: PTH118 - a str is wanted
        inodes = ref.inodes
        if inodes is None:
            inodes = _inodes(ref)
        if not S_ISREG(st.st_mode):
            raise UnsafePathError(path, "changed since it was listed: not a regular file")
        if st.st_ino != inodes.get(name, 0) and inodes.get(name, 0) not in _UNKNOWN_INODES:
            raise UnsafePathError(path, "was replaced since it was listed")
        stats[name] = st
        return st

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

        Opened and checked as :meth:`open_fd` does, and buffered. After the
        walk has moved past the entry's directory it raises
        :class:`~syncsafe.errors.StaleEntryError`.
        """
        fd, _ = self.open_fd()
        return io.BufferedReader(io.FileIO(fd, "rb"))

    def open_fd(self) -> tuple[int, os.stat_result]:
        """
        A raw descriptor of the file, opened as :meth:`open` does, and its ``fstat``.

        For callers that read the file straight from the descriptor
        (:func:`os.read`) and want its size without another system call; the
        caller closes the descriptor (:func:`os.close`). The file is opened
        relative to the walker's open descriptor of its directory with
        ``O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC`` — never by
        resolving its path again from the root — and ``fstat`` must then say
        it is a regular file (else :class:`~syncsafe.errors.SpecialFileError`)
        and the one that was listed: the inode number the directory listing
        gave, on the directory's device, or for a file reached through a
        symlink the device and inode its resolution found (else
        :class:`~syncsafe.errors.UnsafePathError`). Where the device differs
        from the directory's (a mount point, or an overlay file system that
        reports a lower layer's device) or the listing gave no inode number
        (some FUSE file systems), the name is stat-ed again and must still
        name the opened file. A symlink put in the file's place is refused;
        a file gone is :class:`FileNotFoundError`. After the walk has moved
        past the entry's directory it raises
        :class:`~syncsafe.errors.StaleEntryError`.
        """
        path, ref = self
        if type(ref) is Dir:
            node = ref
            name = path.rpartition("/")[2]  # a file listed in its own directory
        else:
            node, name, _ = self._where()
        if node.fd < 0:
            raise StaleEntryError(path)
        fd = _open_listed(name, node.fd, path)
        try:
            st = os.fstat(fd)
            if node is ref:  # the common case, checked inline
                ident = node.ident
                if ident is None:  # the directory's device, once per directory
                    ident = node.ident = identity(node.fd)
                inodes = node.inodes
                if inodes is None:
                    inodes = _inodes(node)
                if not (
                    S_ISREG(st.st_mode)
                    and st.st_ino == inodes.get(name, 0)
                    and st.st_dev == ident[0]
                ):
                    self._check(node, name, st)
            else:
                self._check(node, name, st)
        except BaseException:
            os.close(fd)
            raise
        return fd, st

    def _check(self, node: Dir, name: str, st: os.stat_result) -> None:
        """Whether the file opened (*st*) is the one listed: return if so, else raise."""
        path = self[0]
        if not S_ISREG(st.st_mode):
            stats = node.stats
            if node is self[1] and (stats is None or name not in stats):
                # compared with the listing alone, as the stat would have been
                raise UnsafePathError(path, "changed since it was listed: not a regular file")
            raise SpecialFileError(path, file_kind(st.st_mode))
        if node is not self[1]:  # reached through a link: its resolution's lstat
            if not _same_file(st, self.stat):
                raise UnsafePathError(path, "was replaced since it was listed")
        else:
            self._confirm(node, name, st)

    def _confirm(self, node: Dir, name: str, st: os.stat_result) -> None:
        """
        The slow check of :meth:`open_fd`: the opened file is the listed one, or refuse it.

        Reached when the inode number differs from the listing's, or the
        device from the directory's. A known, different inode number is a
        replaced file. Otherwise the name, stat-ed again, must name the
        opened file, and so must the entry's stat if it was taken.
        """
        listed = (node.inodes or _inodes(node)).get(name, 0)
        known = node.stats.get(name) if node.stats is not None else None
        if (
            (st.st_ino != listed and listed not in _UNKNOWN_INODES)
            or not _same_file(st, os.stat(name, dir_fd=node.fd, follow_symlinks=False))
            or (known is not None and not _same_file(st, known))
        ):
            raise UnsafePathError(self[0], "was replaced since it was listed")


# Inode numbers a directory listing gives when the file system does not know
# them (FUSE mounted without use_ino gives 0xffffffff; some give 0): then the
# opened file is checked against its name, stat-ed again, instead.
_UNKNOWN_INODES: Final = frozenset({0, 0xFFFFFFFF})


def _inodes(node: Dir) -> dict[str, int]:
    """The inode numbers the listing of *node* gave for its regular files, by name (no syscall)."""
    inodes = node.inodes = {e.name: e.inode() for e in node.listing or ()}
    return inodes


def _same_file(a: os.stat_result, b: os.stat_result) -> bool:
    return a.st_ino == b.st_ino and a.st_dev == b.st_dev


# type.__call__ bound to WalkEntry: makes an entry from a (path, ref) pair
# straight through tuple's own constructor, past the metaclass, in C.
_new_entry: Final = type.__call__
_make: Final[Callable[[tuple[str, _Ref]], WalkEntry]] = type.__call__.__get__(WalkEntry)


@final
@attrs.frozen
class Finding:
    """
    One unsafe entry found by :func:`scan`.

    ``rule`` is one of ``escape``, ``absolute-symlink``, ``symlink-loop``,
    ``dangling-symlink``, ``special-file``, ``unreadable-directory``,
    ``changed``; ``target`` the symlink's text where there is a link.
    """

    path: str
    rule: str
    target: str | None
    message: str


_DIR: Final = 0
_LINK_DIR: Final = 1
_LINK_FILE: Final = 2

Order: TypeAlias = "Callable[[str], bytes] | None"
_Extras: TypeAlias = "list[tuple[str, tuple[Any, ...]]]"


@final
class _Frame:
    """A directory on the walk's path: its sorted files, its other entries, how far along."""

    __slots__ = ("built", "extras", "files", "i", "j", "node", "order", "rel")

    def __init__(self, node: Dir, rel: str) -> None:
        self.node = node
        self.rel = rel  # the path as reached, "" or ending in "/"
        self.files: list[str] = []  # regular files, sorted
        self.extras: _Extras = []  # (sort key, what): directories and links, sorted
        self.order: Order = None  # the sort key for this directory's names
        self.i = 0  # files[:i] handed out
        self.j = 0  # extras[:j] handed out
        self.built = False  # files holds the paths (a leaf directory), not the names


def _order(joined: str) -> Order:
    """
    The sort key giving byte order for names *joined* together: ``None`` (``str`` order) or bytes.

    Sorting names as ``str`` gives their UTF-8 byte order unless a name holds
    an undecodable byte (a lone surrogate, from surrogateescape) or the file
    system encoding is not UTF-8: then sort by :func:`os.fsencode`.
    """
    if _UTF8_FS:
        if joined.isascii():
            return None
        try:
            joined.encode("utf-8")
        except UnicodeEncodeError:
            pass
        else:
            return None
    return os.fsencode


_first: Final = itemgetter(0)

Problem = Callable[[str, Exception], None]


def _raise(_: str, exc: Exception) -> None:
    raise exc


@final
class _Walker:
    def __init__(
        self,
        root: StrPath | Root,
        *,
        exclude: pathspec.PathSpec[Any] | None,
        specials: Policy,
        dangling: Policy,
        allow_absolute: bool,
        problem: Problem,
    ) -> None:
        self.root_arg = root
        self.match = None if exclude is None else exclude.match_file
        self.specials = specials
        self.dangling = dangling
        self.allow_absolute = allow_absolute
        self.problem = problem
        self.frames: list[_Frame] = []
        # The directories on the walk's path, by identity, for the loop check;
        # filled in only when a directory link needs them (most walks never do).
        self.idents: dict[tuple[int, int], str] = {}
        self.registered = 0  # frames[:registered] are in idents
        self.run: list[str] = []  # the names the current run of entries comes from
        self.root: Root

    # ------------------------------------------------------------ the loop
    def runs(self) -> Generator[Iterator[WalkEntry], None, None]:
        """
        The entries in runs: a directory's files up to its next subdirectory or link.

        The walk moves on (into a subdirectory, out of a finished directory)
        only when the next run is asked for, after the consumer has gone
        through this one: so each entry's directory is still open while the
        consumer holds it, as :meth:`WalkEntry.open` needs.
        """
        given = self.root_arg
        self.root = given if isinstance(given, Root) else Root(given)
        frames = self.frames
        try:
            self._push(self.root.node, "")
            while frames:
                frame = frames[-1]
                node = frame.node
                if node.fd < 0 and not self._reopen(frame):
                    continue
                files, extras, i, j = frame.files, frame.extras, frame.i, frame.j
                if j == len(extras):  # only files left: a leaf directory's whole listing
                    if i < len(files):
                        yield self._files(frame, len(files))
                    self._pop()
                    continue
                key, info = extras[j]
                frame.j = j + 1
                order = frame.order
                if order is None:
                    cut = bisect_left(files, key, i)
                else:
                    cut = bisect_left(files, order(key), i, key=order)
                if cut > i:  # the files that sort before this entry
                    yield self._files(frame, cut)
                kind = info[0]
                if kind == _DIR:
                    self._enter_dir(node, info[1], frame.rel + key)
                elif kind == _LINK_DIR:
                    self._enter_link(info[1], info[2], frame.rel + key)
                else:
                    yield from self._link_file(frame.rel + key, info)
        finally:
            self.run = []
            for frame in frames:
                close_dir(frame.node)
            frames.clear()
            self.root.close()

    def _files(self, frame: _Frame, stop: int) -> Iterator[WalkEntry]:
        """
        The entries for ``frame.files[frame.i:stop]``, made as they are asked for.

        This is the walk's inner loop, and none of it runs Python code per
        file: the paths are cut from one joined string (a name never holds a
        NUL), and each entry is made in C from its path and directory.
        """
        files, i = frame.files, frame.i
        names = files[i:stop] if i or stop < len(files) else files
        frame.i = stop
        rel = frame.rel
        if frame.built or not rel:
            paths = names
        else:
            paths = (rel + ("\0" + rel).join(names)).split("\0")
        self.run = paths
        return map(_make, zip(paths, repeat(frame.node)))

    # ----------------------------------------------------------- frames
    def _push(self, node: Dir, rel: str) -> None:
        frames = self.frames
        index = len(frames)
        node.frame = index
        frame = _Frame(node, rel)
        frames.append(frame)
        if index - _WINDOW >= 1:  # keep the deepest _WINDOW open; the root always
            old = frames[index - _WINDOW].node
            if old.ident is None:  # to check it is the same directory when reopened
                old.ident = identity(old.fd)
            close_dir(old)
        self._list(frame)

    def _pop(self) -> None:
        frames = self.frames
        frame = frames.pop()
        node = frame.node
        node.frame = -1
        if self.registered > len(frames):
            self.registered = len(frames)
            if node.ident is not None:
                self.idents.pop(node.ident, None)
        close_dir(node)

    def _ancestors(self) -> dict[tuple[int, int], str]:
        """The directories on the walk's path (the one being listed too), by identity."""
        frames = self.frames
        for frame in frames[self.registered :]:
            node = frame.node
            if node.ident is None:  # open: only frames past the window are closed, with theirs
                node.ident = identity(node.fd)
            self.idents[node.ident] = frame.rel.rstrip("/") or "."
        self.registered = len(frames)
        return self.idents

    def _reopen(self, frame: _Frame) -> bool:
        opened: list[Dir] = []
        try:
            ensure_fd(frame.node, opened)
        except (UnsafePathError, OSError) as exc:
            for node in opened:
                if node.frame < 0:
                    close_dir(node)
            self._pop()
            self.problem(frame.rel.rstrip("/") or ".", exc)
            return False
        low = len(self.frames) - _WINDOW
        for node in opened:
            if node is not frame.node and not (node.frame >= low and node.frame > 0):
                close_dir(node)
        return True

    def _enter_dir(self, parent: Dir, name: str, rel: str) -> None:
        try:
            fd = os.open(name, DIR_FLAGS, dir_fd=parent.fd)
        except OSError as exc:
            self.problem(rel.rstrip("/"), exc)
            return
        # Its identity is fetched from the descriptor when first needed: it
        # cannot change while the descriptor is open.
        self._push(Dir(name, parent, fd, None), rel)

    def _enter_link(self, target: Dir, ident: tuple[int, int], rel: str) -> None:
        node = Dir(target.name, target.parent, -1, ident)
        opened: list[Dir] = []
        try:
            ensure_fd(node, opened)
        except (UnsafePathError, OSError) as exc:
            for other in opened:
                close_dir(other)
            self.problem(rel.rstrip("/"), exc)
            return
        for other in opened:
            if other is not node:
                close_dir(other)
        self._push(node, rel)

    def _link_file(self, path: str, info: tuple[Any, ...]) -> Iterator[Iterator[WalkEntry]]:
        _, node, name, st = info
        opened: list[Dir] = []
        try:
            ensure_fd(node, opened)
        except (UnsafePathError, OSError) as exc:
            for other in opened:
                close_dir(other)
            self.problem(path, exc)
            return
        try:
            yield iter((WalkEntry(path, _FileRef(node, name, st)),))
        finally:
            for other in opened:
                close_dir(other)

    # ---------------------------------------------------------- listing
    def _list(self, frame: _Frame) -> None:
        node, rel = frame.node, frame.rel
        others: list[os.DirEntry[str]] = []
        aside: Callable[[os.DirEntry[str]], object] = others.append  # returns None
        try:
            with os.scandir(node.fd) as it:
                # One pass: the regular files, anything else put aside.
                listing = [e for e in it if e.is_file(follow_symlinks=False) or aside(e)]
        except OSError as exc:
            self.problem(rel.rstrip("/") or ".", exc)
            return
        # Kept for the inode numbers the listing gave: an entry's open() checks
        # that it opened the file listed, not one put in its place since.
        node.listing = listing
        files = [e.name for e in listing]
        match = self.match
        if not others:  # only regular files: build their paths now, and sort those
            if files:
                joined = rel + ("\0" + rel).join(files)  # a name never holds a NUL
                order = _order(joined)
                files = joined.split("\0")
                if match is not None:
                    files = [p for p in files if not match(p)]
                files.sort(key=order)
                frame.files = files
                frame.built = True
            return
        joined = "".join(files) + "".join(e.name for e in others)
        frame.order = order = _order(joined)
        if match is not None:
            files = [k for k in files if not match(rel + k)]
        files.sort(key=order)
        frame.files = files
        if others:  # subdirectories, links, special files
            self._list_others(frame, others)

    def _list_others(self, frame: _Frame, others: list[os.DirEntry[str]]) -> None:
        node, rel, order, match = frame.node, frame.rel, frame.order, self.match
        extra: dict[str, tuple[Any, ...]] = {}
        odd: list[str] = []
        for e in others:
            name = e.name
            if e.is_dir(follow_symlinks=False):
                if match is None or not match(rel + name + "/"):
                    extra[name + "/"] = (_DIR, name)
            elif match is None or not match(rel + name):
                odd.append(name)
        odd.sort(key=order)
        for name in odd:
            self._check(node, rel, name, extra)
        if order is None:
            frame.extras = sorted(extra.items(), key=_first)
        else:
            frame.extras = sorted(extra.items(), key=lambda item: order(item[0]))

    def _check(self, node: Dir, rel: str, name: str, extra: dict[str, tuple[Any, ...]]) -> None:
        """A symlink or special entry: resolve or reject it now, in name order."""
        path = rel + name
        try:
            st = os.stat(name, dir_fd=node.fd, follow_symlinks=False)
            if not S_ISLNK(st.st_mode):
                if S_ISREG(st.st_mode):  # it changed type since the listing
                    extra[name] = (_LINK_FILE, node, name, st)
                elif S_ISDIR(st.st_mode):
                    extra[name + "/"] = (_DIR, name)
                elif self.specials == "error":
                    self.problem(path, SpecialFileError(path, file_kind(st.st_mode)))
                return
            target = read_link(name, node.fd, path)
            res = resolve_from(
                self.root,
                node,
                target,
                label=path,
                strict=False,
                allow_absolute=self.allow_absolute,
                link=(path, target),
            )
        except (UnsafePathError, OSError) as exc:
            self.problem(path, exc)
            return
        try:
            self._accept_link(res, path, name, target, extra)
        finally:
            res.release()

    def _accept_link(
        self, res: Resolved, path: str, name: str, target: str, extra: dict[str, tuple[Any, ...]]
    ) -> None:
        if res.kind == "missing":
            if self.dangling == "error":
                self.problem(path, DanglingSymlinkError(path, target))
        elif res.kind == "dir":
            ident = identity(res.node.fd)
            ancestor = self._ancestors().get(ident)
            if ancestor is not None:
                self.problem(path, SymlinkLoopError(path, target, ancestor))
            elif self.match is None or not self.match(path + "/"):
                extra[name + "/"] = (_LINK_DIR, res.node, ident)
        else:
            fst = res.st
            assert fst is not None  # noqa: S101 - a "file" result has its lstat
            if S_ISREG(fst.st_mode):
                extra[name] = (_LINK_FILE, res.node, res.name, fst)
            elif self.specials == "error":
                self.problem(path, SpecialFileError(path, file_kind(fst.st_mode)))


@final
class _Walk(chain[WalkEntry]):
    """
    What :func:`walk` returns: an iterator of entries that can be closed early.

    It hands out each run of entries from C (see ``_Walker._files``) and asks the
    walker for the next run only when one is used up.
    """

    __slots__ = ("_runs", "_walker")

    _runs: Generator[Iterator[WalkEntry], None, None]
    _walker: _Walker

    def close(self) -> None:
        """Stop the walk: release its directory descriptors; no more entries come."""
        self._walker.run.clear()
        self._runs.close()


def _spec(exclude: Iterable[str] | pathspec.PathSpec[Any]) -> pathspec.PathSpec[Any] | None:
    if isinstance(exclude, pathspec.PathSpec):
        return exclude
    if isinstance(exclude, str):
        msg = "exclude must be an iterable of patterns or a PathSpec, not a single string"
        raise TypeError(msg)
    lines = list(exclude)
    return pathspec.GitIgnoreSpec.from_lines(lines) if lines else None


def _policy(name: str, value: str) -> Policy:
    if value not in {"skip", "error"}:
        msg = f"{name} must be 'skip' or 'error', not {value!r}"
        raise ValueError(msg)
    return "skip" if value == "skip" else "error"


def walk(
    root: StrPath,
    *,
    exclude: Iterable[str] | pathspec.PathSpec[Any] = (),
    specials: Policy = "skip",
    dangling: Policy = "error",
    allow_absolute: bool = False,
) -> _Walk:
    """
    One :class:`WalkEntry` per regular file reachable from *root*, sorted by path.

    Ascending byte order of ``.path``, which is git's tree order: siblings
    sorted by their bytes, a directory as if its name ended in ``/``.
    Symlinks that stay inside the root are followed (a symlinked
    directory's files appear under the link's name);
    one that leaves it raises :class:`~syncsafe.errors.PathEscapeError`, an
    absolute one :class:`~syncsafe.errors.AbsoluteSymlinkError` (unless
    *allow_absolute*), a directory link back to a directory the walk is in,
    or a chain of more than 40 links, :class:`~syncsafe.errors.SymlinkLoopError`.
    A directory's links and special files are checked when the walk enters
    it, in name order, before its first entry is yielded.

    *exclude*: gitignore-style patterns (or a ready :class:`pathspec.PathSpec`)
    matched against the path relative to the root as reached, a directory with
    a trailing ``/``; an excluded directory is never opened.

    *specials*: FIFOs, sockets and devices are never opened; ``"skip"``
    (default) leaves them out, ``"error"`` raises
    :class:`~syncsafe.errors.SpecialFileError`.

    *dangling*: a symlink whose target inside the root does not exist raises
    :class:`~syncsafe.errors.DanglingSymlinkError` by default (``"error"``):
    a tree that references a missing file is not the tree its author meant,
    and skipping the link silently would hide that. ``"skip"`` leaves it out.

    Unreadable directories raise :class:`PermissionError`. The walk holds
    directory descriptors until it is exhausted or closed; use it in a
    ``for`` loop or close it (its ``close()``, or ``contextlib.closing``)
    when stopping early. It returns an iterator, not a generator: the entries
    of a directory are handed out from C, so the walk's cost per file stays
    close to :func:`os.walk`'s.
    """
    return _walk(root, _spec(exclude), specials, dangling, allow_absolute=allow_absolute)


def _walk(
    root: StrPath | Root,
    spec: pathspec.PathSpec[Any] | None,
    specials: Policy = "skip",
    dangling: Policy = "error",
    *,
    allow_absolute: bool = False,
) -> _Walk:
    """:func:`walk`, also from a :class:`~syncsafe._fs.Root` already open (the walk closes it)."""
    walker = _Walker(
        root,
        exclude=spec,
        specials=_policy("specials", specials),
        dangling=_policy("dangling", dangling),
        allow_absolute=allow_absolute,
        problem=_raise,
    )
    runs = walker.runs()
    it = _Walk.from_iterable(runs)
    assert isinstance(it, _Walk)  # noqa: S101 - from_iterable makes the subclass
    it._runs = runs  # noqa: SLF001 - set once, here
    it._walker = walker  # noqa: SLF001
    return it


_RULES: Final[tuple[tuple[type[Exception], str], ...]] = (
    (PathEscapeError, "escape"),
    (AbsoluteSymlinkError, "absolute-symlink"),
    (SymlinkLoopError, "symlink-loop"),
    (DanglingSymlinkError, "dangling-symlink"),
    (SpecialFileError, "special-file"),
    (UnsafePathError, "changed"),
)


def _finding(path: str, exc: Exception) -> Finding:
    for kind, rule in _RULES:
        if isinstance(exc, kind):
            return Finding(path, rule, getattr(exc, "target", None), str(exc))
    return Finding(path, "unreadable-directory", None, f"{path}: {exc}")


def scan(
    root: StrPath,
    *,
    exclude: Iterable[str] | pathspec.PathSpec[Any] = (),
    allow_absolute: bool = False,
) -> list[Finding]:
    """
    Every unsafe entry under *root*, sorted by path; never raises for one.

    Walks the whole tree as :func:`walk` does and reports, instead of raising,
    escapes, absolute links, loops, dangling links, special files and
    unreadable directories, each with the path as reached, the link's target
    and the rule. Nothing is opened but directories. An empty list means
    :func:`walk` would succeed with ``specials="error"``.
    Raises only if *root* itself cannot be opened.
    """
    findings: list[Finding] = []

    def record(path: str, exc: Exception) -> None:
        findings.append(_finding(path, exc))

    walker = _Walker(
        root,
        exclude=_spec(exclude),
        specials="error",
        dangling="error",
        allow_absolute=allow_absolute,
        problem=record,
    )
    for _ in walker.runs():  # the findings come while listing; no entry need be made
        pass
    findings.sort(key=lambda f: (os.fsencode(f.path), f.rule))
    return findings
