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

import os
import stat
import sys
from collections.abc import Callable, Generator, Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO, Final, Literal, final

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
    """Where an entry's file is: its physical directory, its name there, its stat once known."""

    __slots__ = ("name", "node", "st")

    def __init__(self, node: Dir, name: str, st: os.stat_result | None) -> None:
        self.node = node
        self.name = name
        self.st = st


@final
@attrs.frozen(eq=False, weakref_slot=False)
class WalkEntry:
    """
    One regular file reached by :func:`walk`.

    ``path`` is POSIX and relative to the root, as reached: through a
    symlinked directory the file appears under the link's name. Undecodable
    bytes in names come through :func:`os.fsdecode` (surrogateescape).

    Like :class:`os.DirEntry`, an entry is a live handle, not a value: it
    compares by identity; its :attr:`stat` is fetched on first access (one
    ``fstatat`` relative to the walker's descriptor of the file's directory)
    and cached; :meth:`open` is valid only until the walk leaves that
    directory — read each entry before asking for the next.
    """

    path: str
    # The file's physical directory (its name there is the last component of
    # ``path``), or, for a file reached through a link or once stat'ed, a
    # _FileRef. One slot, not three: an entry is built per file, and each
    # slot set costs as much as a system call's worth of the walk's budget.
    _ref: Dir | _FileRef | None = attrs.field(default=None, repr=False)

    def _where(self) -> _FileRef:
        ref = self._ref
        if isinstance(ref, _FileRef):
            return ref
        if ref is None:
            msg = f"{self.path}: this entry was not produced by syncsafe.walk()"
            raise ValueError(msg)
        return _FileRef(ref, self.path.rpartition("/")[2], None)

    @property
    def real(self) -> Path:
        """The resolved physical location (absolute)."""
        where = self._where()
        return Path(where.node.real(), where.name)

    @property
    def stat(self) -> os.stat_result:
        """
        The file's own ``lstat``: dev, ino, size, mtime_ns, ctime_ns, mode.

        For a file reached through a symlink, the stat of the target. Fetched
        on first access relative to the walker's directory descriptor (after
        the walk has moved on, by the physical path, which has no links in it)
        and cached.
        """
        where = self._where()
        st = where.st
        if st is None:
            node = where.node
            if node.fd >= 0:
                st = os.stat(where.name, dir_fd=node.fd, follow_symlinks=False)
            else:
                st = os.lstat(Path(node.real(), where.name))
            if not stat.S_ISREG(st.st_mode):
                raise UnsafePathError(self.path, "changed since it was listed: not a regular file")
            object.__setattr__(self, "_ref", _FileRef(node, where.name, st))
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

        ``O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC``, then ``fstat`` must
        say it is a regular file with the device and inode of :attr:`stat`,
        else :class:`~syncsafe.errors.UnsafePathError` (or
        :class:`~syncsafe.errors.SpecialFileError`). It never resolves the path
        again from the root. After the walk has moved past the entry's
        directory it raises :class:`~syncsafe.errors.StaleEntryError`.
        """
        where = self._where()
        node = where.node
        if node.fd < 0:
            raise StaleEntryError(self.path)
        expected = self.stat
        try:
            fd = os.open(where.name, FILE_FLAGS, dir_fd=node.fd)
        except FileNotFoundError:
            raise
        except OSError as exc:  # ELOOP: it is a symlink now
            raise UnsafePathError(
                self.path, f"changed since it was listed: {exc.strerror}"
            ) from exc
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            os.close(fd)
            raise SpecialFileError(self.path, file_kind(st.st_mode))
        if (st.st_dev, st.st_ino) != (expected.st_dev, expected.st_ino):
            os.close(fd)
            raise UnsafePathError(self.path, "was replaced since it was listed")
        return os.fdopen(fd, "rb")


_new = object.__new__
_set_path: Callable[[WalkEntry, str], None] = WalkEntry.__dict__["path"].__set__
_set_ref: Callable[[WalkEntry, Dir | _FileRef], None] = WalkEntry.__dict__["_ref"].__set__


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


@final
class _Frame:
    __slots__ = ("extra", "keys", "node", "pos", "rel")

    def __init__(
        self, node: Dir, rel: str, keys: list[str], extra: dict[str, tuple[Any, ...]]
    ) -> None:
        self.node = node
        self.rel = rel
        self.keys = keys
        self.extra = extra
        self.pos = 0


def _sort(keys: list[str]) -> None:
    joined = "".join(keys)
    if _UTF8_FS and joined.isascii():
        keys.sort()
        return
    if _UTF8_FS:
        try:
            joined.encode("utf-8")
        except UnicodeEncodeError:
            pass
        else:
            keys.sort()
            return
    keys.sort(key=os.fsencode)


Problem = Callable[[str, Exception], None]


def _raise(_: str, exc: Exception) -> None:
    raise exc


@final
class _Walker:
    def __init__(
        self,
        root: StrPath,
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
        self.idents: dict[tuple[int, int], str] = {}
        self.root: Root

    # ------------------------------------------------------------ the loop
    def entries(self) -> Generator[WalkEntry, None, None]:
        self.root = Root(self.root_arg)
        frames = self.frames
        try:
            self._push(self.root.node, "")
            while frames:
                frame = frames[-1]
                node = frame.node
                if node.fd < 0 and not self._reopen(frame):
                    continue
                keys, extra, rel, i = frame.keys, frame.extra, frame.rel, frame.pos
                if not extra:  # a directory of plain files: the common case
                    for key in keys:
                        # WalkEntry(rel + key, node) without attrs' frozen
                        # setattr per field: this line runs once per file.
                        entry = _new(WalkEntry)
                        _set_path(entry, rel + key)
                        _set_ref(entry, node)
                        yield entry
                    self._pop()
                    continue
                n = len(keys)
                while i < n:
                    key = keys[i]
                    i += 1
                    info = extra.get(key)
                    if info is None:
                        entry = _new(WalkEntry)
                        _set_path(entry, rel + key)
                        _set_ref(entry, node)
                        yield entry
                        continue
                    kind = info[0]
                    if kind == _LINK_FILE:
                        yield from self._link_file(rel + key, info)
                        continue
                    frame.pos = i
                    if kind == _DIR:
                        self._enter_dir(node, info[1], rel + key)
                    else:
                        self._enter_link(info[1], info[2], rel + key)
                    break
                else:
                    self._pop()
        finally:
            for frame in frames:
                close_dir(frame.node)
            frames.clear()
            self.root.close()

    # ----------------------------------------------------------- frames
    def _push(self, node: Dir, rel: str) -> None:
        assert node.ident is not None  # noqa: S101 - every frame's directory was fstat'ed
        self.idents[node.ident] = rel.rstrip("/") or "."  # before listing: a link to "." loops
        keys, extra = self._list(node, rel)
        index = len(self.frames)
        node.frame = index
        self.frames.append(_Frame(node, rel, keys, extra))
        if index - _WINDOW >= 1:  # keep the deepest _WINDOW open; the root always
            close_dir(self.frames[index - _WINDOW].node)

    def _pop(self) -> None:
        frame = self.frames.pop()
        node = frame.node
        node.frame = -1
        if node.ident is not None:
            self.idents.pop(node.ident, None)
        close_dir(node)

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
        st = os.fstat(fd)
        self._push(Dir(name, parent, fd, (st.st_dev, st.st_ino)), rel)

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

    def _link_file(self, path: str, info: tuple[Any, ...]) -> Iterator[WalkEntry]:
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
            yield WalkEntry(path, _FileRef(node, name, st))
        finally:
            for other in opened:
                close_dir(other)

    # ---------------------------------------------------------- listing
    def _list(self, node: Dir, rel: str) -> tuple[list[str], dict[str, tuple[Any, ...]]]:
        try:
            with os.scandir(node.fd) as it:
                listing = list(it)
        except OSError as exc:
            self.problem(rel.rstrip("/") or ".", exc)
            return [], {}
        keys = [e.name for e in listing if e.is_file(follow_symlinks=False)]
        match = self.match
        if match is not None:
            keys = [k for k in keys if not match(rel + k)]
        extra: dict[str, tuple[Any, ...]] = {}
        if len(keys) == len(listing):
            _sort(keys)
            return keys, extra
        others: list[str] = []
        for e in listing:
            if e.is_file(follow_symlinks=False):
                continue
            name = e.name
            if e.is_dir(follow_symlinks=False):
                if match is None or not match(rel + name + "/"):
                    extra[name + "/"] = (_DIR, name)
            elif match is None or not match(rel + name):
                others.append(name)
        _sort(others)
        for name in others:
            self._check(node, rel, name, extra)
        keys.extend(extra)
        _sort(keys)
        return keys, extra

    def _check(self, node: Dir, rel: str, name: str, extra: dict[str, tuple[Any, ...]]) -> None:
        """A symlink or special entry: resolve or reject it now, in name order."""
        path = rel + name
        try:
            st = os.stat(name, dir_fd=node.fd, follow_symlinks=False)
            if not stat.S_ISLNK(st.st_mode):
                if stat.S_ISREG(st.st_mode):  # it changed type since the listing
                    extra[name] = (_LINK_FILE, node, name, st)
                elif stat.S_ISDIR(st.st_mode):
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
            st = os.fstat(res.node.fd)
            ident = (st.st_dev, st.st_ino)
            ancestor = self.idents.get(ident)
            if ancestor is not None:
                self.problem(path, SymlinkLoopError(path, target, ancestor))
            elif self.match is None or not self.match(path + "/"):
                extra[name + "/"] = (_LINK_DIR, res.node, ident)
        else:
            fst = res.st
            assert fst is not None  # noqa: S101 - a "file" result has its lstat
            if stat.S_ISREG(fst.st_mode):
                extra[name] = (_LINK_FILE, res.node, res.name, fst)
            elif self.specials == "error":
                self.problem(path, SpecialFileError(path, file_kind(fst.st_mode)))


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
) -> Generator[WalkEntry, None, None]:
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
    ``for`` loop or close it (``contextlib.closing``) when stopping early.
    """
    spec = _spec(exclude)
    walker = _Walker(
        root,
        exclude=spec,
        specials=_policy("specials", specials),
        dangling=_policy("dangling", dangling),
        allow_absolute=allow_absolute,
        problem=_raise,
    )
    return walker.entries()


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
    for _ in walker.entries():
        pass
    findings.sort(key=lambda f: (os.fsencode(f.path), f.rule))
    return findings
