"""
Descriptor-based path resolution, and the path rules it applies.

The rules decided here, each in one function that every reader calls
([`syncsafe.paths`][syncsafe.paths], the walker, the checksum and the
overlay closure hold no copy):

- containment of a component path: a ``..`` above the root is a
  [`PathEscapeError`][syncsafe.errors.PathEscapeError] the moment it happens
  (`resolve_from`, through ``_escape``);
- absolute paths, a link's target or a caller's argument: refused unless
  allowed, and then only at or below the root's real path or the root as
  given, compared component by component (``_below_root``, called by
  `resolve_from` for links and by `relative_path` for arguments);
- the 40-link hop limit ([`SymlinkLoopError`][syncsafe.errors.SymlinkLoopError]
  without an ancestor, in `resolve_from`);
- the relative path of a location inside a root, given lexically or by its
  physical place (`relative_location`, which the checksum calls);
- the name inside a repository of a path that may no longer exist (a
  changed file that was deleted): its directory resolved physically, its last
  component taken as written (`name_inside`, which ``syncsafe affected`` calls).

One rule is not here: a directory link back to a directory the walk is in
(an ancestor loop) needs the walk's path, so the walker decides it
(``syncsafe.walker._engine._Walker._accept_link``), after this module has
resolved the link.

Everything here works relative to open directory descriptors, one component
at a time, and never hands a long path string to a system call: a directory
is entered with ``openat(parent_fd, name, O_DIRECTORY | O_NOFOLLOW)``, so a
component that is (or has just been swapped for) a symlink is never followed
by the kernel behind our back — it fails, and we read the link and apply our
own rules to its target. ``..`` is never handed to the kernel either: it pops
our own record of where we are, so a directory moved away under us cannot
take us above the root.

A `Dir` is one physical directory below the root, linked to its
parent. Its descriptor may be closed (``fd == -1``) and reopened later from
the nearest open ancestor by name, each step again with ``O_NOFOLLOW``, and
checked against the identity recorded when it was first opened. That is what
lets the walker keep a bounded number of descriptors in a tree 2,100 levels
deep.
"""

from __future__ import annotations

import ctypes
import errno
import os
import platform
import stat
import sys
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Final, Literal, TypeAlias, final

import attrs

from syncsafe.errors import (
    AbsoluteSymlinkError,
    PathEscapeError,
    SpecialFileError,
    SymlinkLoopError,
    UnsafePathError,
)

__all__ = [
    "DIR_FLAGS",
    "FILE_FLAGS",
    "MAX_SYMLINK_HOPS",
    "Dir",
    "Resolved",
    "Root",
    "StrPath",
    "checked_file",
    "close_dir",
    "ensure_fd",
    "file_kind",
    "identity",
    "name_inside",
    "open_resolved",
    "openat2_beneath",
    "read_link",
    "relative_location",
    "relative_path",
    "resolve_from",
]

MAX_SYMLINK_HOPS: Final = 40  # Linux's MAXSYMLINKS

StrPath: TypeAlias = "str | os.PathLike[str]"

_O_CLOEXEC: Final = getattr(os, "O_CLOEXEC", 0)
_O_NONBLOCK: Final = getattr(os, "O_NONBLOCK", 0)
# O_NONBLOCK on a directory or regular file changes nothing; on a FIFO that
# slipped in by a race it makes open() return at once instead of waiting for a
# writer. O_DIRECTORY makes open() fail on anything but a directory without
# opening it, so a FIFO or device is never opened by a directory step.
DIR_FLAGS: Final = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | _O_CLOEXEC | _O_NONBLOCK
FILE_FLAGS: Final = os.O_RDONLY | os.O_NOFOLLOW | _O_CLOEXEC | _O_NONBLOCK
# What open() says when O_NOFOLLOW meets a symlink (Linux: ELOOP, or ENOTDIR
# with O_DIRECTORY; FreeBSD: EMLINK), or when O_DIRECTORY meets a non-directory.
_NOT_A_PLAIN_DIR: Final = frozenset({errno.ELOOP, errno.EMLINK, errno.ENOTDIR})

_KINDS: Final = {
    stat.S_IFIFO: "FIFO",
    stat.S_IFSOCK: "socket",
    stat.S_IFCHR: "character device",
    stat.S_IFBLK: "block device",
    stat.S_IFDIR: "directory",
    stat.S_IFLNK: "symlink",
    stat.S_IFREG: "regular file",
}


def file_kind(mode: int) -> str:
    """A human name for the file type in *mode*: ``"FIFO"``, ``"socket"``, ..."""
    return _KINDS.get(stat.S_IFMT(mode), "special file")


@final
class Dir:
    """
    One physical directory at or below the root; ``fd`` is -1 while closed.

    It holds what resolution needs and nothing more: what the walker knows of
    a directory it listed is the walker's own (``syncsafe.walker._engine``).
    """

    __slots__ = ("_real", "depth", "fd", "ident", "name", "parent")

    def __init__(
        self, name: str, parent: Dir | None, fd: int, ident: tuple[int, int] | None
    ) -> None:
        self.name = name
        self.parent = parent
        self.depth: int = 0 if parent is None else parent.depth + 1
        self.fd = fd
        self.ident = ident
        self._real: str | None = None

    def real(self) -> str:
        """The absolute physical path (built on demand, then cached)."""
        if self._real is None:
            parts: list[str] = []
            node: Dir | None = self
            while node is not None and node._real is None:  # noqa: SLF001 - same class
                parts.append(node.name)
                node = node.parent
            base = "" if node is None else node._real  # noqa: SLF001
            assert base is not None  # noqa: S101 - the root's is always set
            self._real = base + "".join("/" + p for p in reversed(parts))
        return self._real or "/"

    def rel(self) -> str:
        """The POSIX path relative to the root (``"."`` for the root)."""
        parts: list[str] = []
        node: Dir | None = self
        while node is not None and node.parent is not None:
            parts.append(node.name)
            node = node.parent
        return "/".join(reversed(parts)) or "."


def close_dir(node: Dir) -> None:
    """Close *node*'s descriptor if open."""
    if node.fd >= 0:
        fd, node.fd = node.fd, -1
        os.close(fd)


def identity(fd: int) -> tuple[int, int]:
    """The (device, inode) of the open file *fd*."""
    st = os.fstat(fd)
    return (st.st_dev, st.st_ino)


def ensure_fd(node: Dir, opened: list[Dir]) -> int:
    """
    *node*'s descriptor, reopening it (and closed ancestors) from the nearest open one.

    Each step is ``openat(parent, name, O_DIRECTORY | O_NOFOLLOW)``: a name that
    became a symlink fails instead of being followed. A reopened directory
    must be the one first seen there (same device and inode), else the tree
    changed under us and we refuse to go on. Every node opened here is
    appended to *opened*: the caller owns those descriptors.
    """
    if node.fd >= 0:
        return node.fd
    chain: list[Dir] = []
    cur: Dir | None = node
    while cur is not None and cur.fd < 0:
        chain.append(cur)
        cur = cur.parent
    for step in reversed(chain):
        parent = step.parent
        assert parent is not None  # noqa: S101 - the root is never closed while in use
        try:
            fd = os.open(step.name, DIR_FLAGS, dir_fd=parent.fd)
        except OSError as exc:
            raise UnsafePathError(step.rel(), "changed while in use (a directory moved)") from exc
        step.fd = fd
        opened.append(step)
        if step.ident is not None and identity(fd) != step.ident:
            raise UnsafePathError(step.rel(), "changed while in use (a directory was replaced)")
    return node.fd


@final
class Root:
    """The root: ``realpath`` once, opened once, the top of every `Dir` chain."""

    __slots__ = ("abs_parts", "node", "parts", "real")

    def __init__(self, root: StrPath) -> None:
        self.real = os.path.realpath(root)
        fd = os.open(self.real, os.O_RDONLY | os.O_DIRECTORY | _O_CLOEXEC)
        self.node = Dir("", None, fd, identity(fd))
        self.node._real = self.real.rstrip("/")  # noqa: SLF001 - "" for "/" itself
        self.parts = _components(self.real)
        # lexical on purpose: the root as the caller spelled it, links unresolved
        self.abs_parts = _components(os.path.abspath(root))  # noqa: PTH100

    @classmethod
    def below(cls, node: Dir) -> Root:
        """
        A root at *node*, a directory of an open root, on a descriptor of its own.

        The directory is opened relative to *node*'s descriptor, never by its
        path: what the caller resolved is what the new root is, even if its
        name was swapped for a symlink since. The caller closes the new root.
        """
        opened: list[Dir] = []
        try:
            fd = os.open(".", DIR_FLAGS, dir_fd=ensure_fd(node, opened))
        finally:
            for step in opened:
                close_dir(step)
        new = cls.__new__(cls)
        new.real = node.real()
        new.node = Dir("", None, fd, identity(fd))
        new.node._real = new.real.rstrip("/")  # noqa: SLF001 - as in __init__
        new.parts = new.abs_parts = _components(new.real)
        return new

    def close(self) -> None:
        """Close the root's descriptor."""
        close_dir(self.node)

    def __enter__(self) -> Root:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _components(path: str) -> tuple[str, ...]:
    return tuple(c for c in path.split("/") if c not in {"", "."})


Kind = Literal["dir", "file", "missing"]


@final
# Slotted and never changed, but not frozen: a frozen attrs __init__ costs about
# 0.5 us more per resolution, one per link a walk meets (bench_walk's
# walk-10k-interleaved ratio: 1.50 and 1.49 frozen, 1.47 and 1.47 not, one run).
@attrs.define
class Resolved:
    """
    Where a resolution ended.

    ``kind`` is ``"dir"`` (``node`` is the directory, its descriptor open),
    ``"file"`` (anything that is not a directory: ``node`` is the parent, open,
    ``name`` the entry in it and ``st`` its ``lstat``) or ``"missing"``
    (non-strict only: ``node`` is the deepest existing directory and ``rest``
    the remaining components, applied lexically and still inside the root).
    ``owned`` says whether the caller must close ``node``'s descriptor.
    """

    kind: Kind
    node: Dir
    owned: bool
    name: str = ""
    st: os.stat_result | None = None
    rest: tuple[str, ...] = ()

    def names(self) -> tuple[str, ...]:
        """The physical components from the root to where the resolution ended."""
        parts: list[str] = []
        cur: Dir | None = self.node
        while cur is not None and cur.parent is not None:
            parts.append(cur.name)
            cur = cur.parent
        parts.reverse()
        if self.kind == "file":
            parts.append(self.name)
        return (*parts, *self.rest)

    def release(self) -> None:
        """Close the result's descriptor if the caller owns it."""
        if self.owned:
            close_dir(self.node)


_Source = tuple[str, str] | None  # (the link, as a path relative to the root; its target)


def _join(node: Dir, name: str) -> str:
    rel = node.rel()
    return name if rel == "." else f"{rel}/{name}"


def resolve_from(  # noqa: C901, PLR0912, PLR0915 - one loop, one case per kind of component
    root: Root,
    start: Dir,
    path: str,
    *,
    label: str,
    strict: bool,
    allow_absolute: bool,
    link: _Source = None,
) -> Resolved:
    """
    Resolve *path* (relative, ``/``-separated) from directory *start*.

    The kernel's rules, with ours on top: a symlink's target is resolved
    relative to the link's directory before any later ``..`` applies; a ``..``
    above the root is a [`PathEscapeError`][syncsafe.errors.PathEscapeError] at once, even if a
    later component would come back in; an absolute target is an
    [`AbsoluteSymlinkError`][syncsafe.errors.AbsoluteSymlinkError] unless *allow_absolute* (then it
    must name a place below the root, as ``_below_root`` decides); more than 40 links is a
    [`SymlinkLoopError`][syncsafe.errors.SymlinkLoopError]. A missing component raises
    `FileNotFoundError` when *strict*; otherwise the rest is applied
    lexically, still confined to the root. *label* names *path* in errors;
    *link* says that *path* is the target of that symlink (one hop already).
    """
    queue: deque[tuple[str, _Source]] = deque((c, link) for c in path.split("/"))
    opened: list[Dir] = []
    cur = start
    hops = 0 if link is None else 1
    lexical: list[str] | None = None  # set once a component is missing (non-strict)
    result: Resolved | None = None
    if link is not None and link[1].startswith("/"):
        queue.clear()
        cur = _absolute(root, link, queue, allow_absolute=allow_absolute)
    try:
        while queue:
            comp, source = queue.popleft()
            if comp in {"", "."}:
                continue
            if comp == "..":
                if lexical:
                    lexical.pop()
                elif cur.parent is None:
                    raise _escape(label, source)
                else:
                    cur = cur.parent
                continue
            if lexical is not None:
                lexical.append(comp)
                continue
            parent_fd = ensure_fd(cur, opened)
            try:
                fd = os.open(comp, DIR_FLAGS, dir_fd=parent_fd)
            except OSError as exc:
                if exc.errno not in _NOT_A_PLAIN_DIR and exc.errno != errno.ENOENT:
                    raise
                try:
                    st = os.stat(comp, dir_fd=parent_fd, follow_symlinks=False)
                except FileNotFoundError:
                    st = None
            else:
                child = Dir(comp, cur, fd, None)
                opened.append(child)
                cur = child
                continue
            if st is not None and stat.S_ISLNK(st.st_mode):
                hops += 1
                where = _join(cur, comp)
                target = read_link(comp, parent_fd, where)
                if hops > MAX_SYMLINK_HOPS:
                    raise SymlinkLoopError(where, target)
                here = (where, target)
                if target.startswith("/"):
                    cur = _absolute(root, here, queue, allow_absolute=allow_absolute)
                else:
                    queue.extendleft((c, here) for c in reversed(target.split("/")))
                continue
            if st is not None and stat.S_ISDIR(st.st_mode):  # not a directory a moment ago
                raise UnsafePathError(_join(cur, comp), "changed while in use (became a directory)")
            # Missing, or a file with more to come ('file/x', 'file/.' and 'file/'
            # all need a directory): an error when strict, else the rest is lexical.
            if st is None or queue:
                if strict:
                    raise _not_there(_join(cur, comp), label, missing=st is None)
                lexical = [comp]
                continue
            result = Resolved("file", cur, owned=cur in opened, name=comp, st=st)
        if result is None:
            ensure_fd(cur, opened)
            kind: Kind = "dir" if lexical is None else "missing"
            result = Resolved(kind, cur, owned=cur in opened, rest=tuple(lexical or ()))
        return result
    finally:
        keep = None if result is None else result.node
        for node in opened:
            if node is not keep:
                close_dir(node)


def _not_there(where: str, label: str, *, missing: bool) -> OSError:
    if missing:
        return FileNotFoundError(errno.ENOENT, f"{where} does not exist", label)
    return NotADirectoryError(errno.ENOTDIR, f"{where} is not a directory", label)


def checked_file(fd: int, label: str) -> int:
    """*fd* if it is a regular file; otherwise close it and raise."""
    mode = os.fstat(fd).st_mode
    if stat.S_ISREG(mode):
        return fd
    os.close(fd)
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(errno.EISDIR, "Is a directory", label)
    raise SpecialFileError(label, file_kind(mode))


def open_resolved(res: Resolved, label: str) -> int:
    """
    A descriptor of the regular file where *res* ended, opened relative to its directory.

    The name is opened with ``O_NOFOLLOW | O_NONBLOCK`` in the directory
    descriptor the resolution holds, and ``fstat`` must say it is a regular
    file: nothing is looked up again by a path string. Raises
    `IsADirectoryError` for a directory and
    [`SpecialFileError`][syncsafe.errors.SpecialFileError] for a FIFO, socket or device
    (never opened); [`UnsafePathError`][syncsafe.errors.UnsafePathError] when the name
    became a symlink since it was resolved. The caller closes the descriptor.
    """
    if res.kind == "dir":
        raise IsADirectoryError(errno.EISDIR, "Is a directory", label)
    st = res.st
    assert st is not None  # noqa: S101 - a "file" result always has its lstat
    if not stat.S_ISREG(st.st_mode):
        raise SpecialFileError(label, file_kind(st.st_mode))
    try:
        fd = os.open(res.name, FILE_FLAGS, dir_fd=res.node.fd)
    except OSError as exc:
        if exc.errno in {errno.ELOOP, errno.EMLINK}:
            raise UnsafePathError(label, "changed while being opened") from exc
        raise
    return checked_file(fd, label)


def read_link(name: str, dir_fd: int, where: str) -> str:
    """The text of symlink *name* in *dir_fd*; one that stopped being a link is a change."""
    try:
        return os.readlink(name, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno != errno.EINVAL:
            raise
        raise UnsafePathError(where, "changed while in use (no longer a symlink)") from exc


def _escape(label: str, source: _Source) -> PathEscapeError:
    """The escape of *label*, or of the link *source* when a link's target led out."""
    if source is None:
        return PathEscapeError(label)
    return PathEscapeError(*source)


def _below_root(root: Root, path: str, source: _Source, *, allow_absolute: bool) -> tuple[str, ...]:
    """
    The components of the absolute *path* below *root*, or the error the rules give.

    *path* is the target of the link *source*, or (*source* ``None``) a
    caller's argument. Refused unless *allow_absolute*; then it must lie at
    or below the root's real path or the root as given, compared component
    by component and only up to the root: a ``..`` in that stretch would make
    the comparison lexical, so it counts as out. A ``..`` after it is left to
    `resolve_from`, which stops it at the root.
    """
    if not allow_absolute:
        if source is None:
            raise UnsafePathError(path, "is absolute: give a path relative to the root")
        raise AbsoluteSymlinkError(*source)
    rest = _inside(root, path)
    if rest is None:
        raise _escape(path, source)
    return rest


def _inside(root: Root, path: str) -> tuple[str, ...] | None:
    """The components of the absolute *path* after the root's (real or as given), or ``None``."""
    parts = _components(path)
    for base in (root.parts, root.abs_parts):
        if parts[: len(base)] == base:
            return parts[len(base) :]
    return None


def _absolute(
    root: Root, link: tuple[str, str], queue: deque[tuple[str, _Source]], *, allow_absolute: bool
) -> Dir:
    """Restart at the root for *link*'s absolute target (queued below it), or raise."""
    rest = _below_root(root, link[1], link, allow_absolute=allow_absolute)
    queue.extendleft((c, link) for c in reversed(rest))
    return root.node


def relative_path(root: Root, path: str, *, allow_absolute: bool) -> str:
    """
    A caller's *path* inside *root* as a path relative to it (``"."`` for the root).

    A relative *path* is returned as it is, for `resolve_from` to judge; an
    absolute one is refused unless *allow_absolute*, and must lie below the
    root (``_below_root``).
    """
    if not path.startswith("/"):
        return path
    return "/".join(_below_root(root, path, None, allow_absolute=allow_absolute)) or "."


def relative_location(root: Root, path: str) -> str:
    """
    Where *path* (absolute, or relative to the working directory) is inside *root*: POSIX, relative.

    *path* is taken lexically (`os.path.abspath`) when it is written at or
    below the root, so that it keeps the names it is reached by
    (``repo/overlays/prod`` under ``repo``); otherwise by its physical place
    (`os.path.realpath`: ``/real/checkout/overlays/prod`` under a symlinked
    ``repo``); else it is a [`PathEscapeError`][syncsafe.errors.PathEscapeError]
    naming *path* and, when it differs, its physical place. Either way the
    result is then resolved from the root component by component (strict), so
    a link on the way that leaves the root raises, as does a missing path.
    """
    lexical = os.path.abspath(path)  # noqa: PTH100 - lexical on purpose, as above
    rest = _inside(root, lexical)
    if rest is None:
        physical = os.path.realpath(path)
        rest = _inside(root, physical)
        if rest is None:
            raise PathEscapeError(path, None if physical == lexical else physical)
    rel = "/".join(rest) or "."
    resolve_from(root, root.node, rel, label=rel, strict=True, allow_absolute=False).release()
    return rel


def name_inside(root: str, path: str) -> str:
    """
    The name of *path* (absolute, or relative to the working directory) inside *root*: POSIX.

    For a path that need not exist (a file a change deleted): its directory is
    resolved physically (`os.path.realpath`), its last component is taken as
    written, and the result must be *root* (``.``) or below the root's real
    path, else [`PathEscapeError`][syncsafe.errors.PathEscapeError] names *path*
    and its physical place. Nothing is opened: the name is for matching, not
    for reading.
    """
    where = Path(path).absolute()
    physical = Path(os.path.realpath(where.parent), where.name)
    real_root = Path(os.path.realpath(root))
    if physical != real_root and not physical.is_relative_to(real_root):
        raise PathEscapeError(path, str(physical))
    return physical.relative_to(real_root).as_posix()


# ----------------------------------------------------------- openat2 fast path

_SYS_OPENAT2: Final = 437  # the same number on every Linux architecture since 5.6
_RESOLVE_NO_MAGICLINKS: Final = 0x02
_RESOLVE_BENEATH: Final = 0x08


class _OpenHow(ctypes.Structure):
    _fields_ = (
        ("flags", ctypes.c_uint64),
        ("mode", ctypes.c_uint64),
        ("resolve", ctypes.c_uint64),
    )


def _load_syscall() -> Callable[..., int] | None:
    if sys.platform != "linux" or platform.machine() not in {
        "x86_64",
        "aarch64",
        "arm64",
        "riscv64",
        "ppc64le",
        "s390x",
    }:
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        call: Callable[..., int] = libc.syscall
    except (OSError, AttributeError):  # pragma: no cover - no libc symbol table
        return None
    return call


_syscall = _load_syscall()
openat2_available: bool = _syscall is not None


def openat2_beneath(dir_fd: int, path: str, flags: int) -> int | None:
    """
    Open *path* below *dir_fd* with ``openat2(RESOLVE_BENEATH)``; ``None`` if that fails.

    The kernel refuses any step that leaves *dir_fd* — a ``..`` above it, an
    absolute link, even an escape that later comes back — in one atomic walk.
    Any failure (including "not supported here") returns ``None``: the caller
    then takes the portable path, which gives the precise error.
    """
    global openat2_available  # noqa: PLW0603 - a process-wide capability, learned once
    if not openat2_available or _syscall is None:
        return None
    how = _OpenHow(flags, 0, _RESOLVE_BENEATH | _RESOLVE_NO_MAGICLINKS)
    fd: int = _syscall(
        ctypes.c_long(_SYS_OPENAT2),
        ctypes.c_int(dir_fd),
        ctypes.c_char_p(os.fsencode(path)),
        ctypes.byref(how),
        ctypes.c_size_t(ctypes.sizeof(how)),
    )
    if fd < 0:
        if ctypes.get_errno() in {errno.ENOSYS, errno.EPERM, errno.E2BIG}:
            openat2_available = False  # pragma: no cover - old kernel or seccomp
        return None
    return fd
