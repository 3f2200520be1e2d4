"""
Resolve and open paths inside a root, following symlinks only while they stay inside.

The incident's checks compared strings (``strings.HasPrefix(target, root)``:
``/repo-evil`` counts as inside ``/repo``), looked at one hop of a link, and
checked first and read later. Here containment is decided on path
components, after resolving every component physically — a symlink's target
is resolved where the link lives, before a later ``..`` applies, as the
kernel does — and opening happens relative to directory descriptors with
``O_NOFOLLOW`` per component, so what was checked is what is read.

The rules below are decided once, by the resolver that this module,
[`walk`][syncsafe.walker.walk] and [`checksum`][syncsafe.checksums.checksum]
all call, so the three cannot disagree; this module applies them to a path
you give. The walk adds one rule of its own, for links to a directory it is
already in (see [`walk`][syncsafe.walker.walk]).

- ``..`` that stays inside the root is fine; one above the root is a
  [`PathEscapeError`][syncsafe.errors.PathEscapeError] at once, even if a later
  component would come back in (``../repo/x`` only works at one location).
- A relative symlink is resolved from its own directory, by the same rules.
- An absolute symlink target, or an absolute *path* argument, is refused
  ([`AbsoluteSymlinkError`][syncsafe.errors.AbsoluteSymlinkError] for a link)
  unless ``allow_absolute=True``; then it must lie below the root's real path
  (or the root as given), compared component by component.
- At most 40 links per resolution, as Linux; more is a
  [`SymlinkLoopError`][syncsafe.errors.SymlinkLoopError].

What this module adds is how a file is opened: [`open_inside`][syncsafe.paths.open_inside]
first asks the kernel (``openat2(RESOLVE_BENEATH)``, which applies the same
rules) and takes the portable path for anything it refuses.

!!! note "Added in version 0.1.0"
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import BinaryIO

from syncsafe import _fs
from syncsafe._fs import (
    FILE_FLAGS,
    Root,
    StrPath,
    checked_file,
    open_resolved,
    relative_path,
    resolve_from,
)

__all__ = ["open_inside", "resolve"]


def resolve(
    root: StrPath, path: StrPath, *, strict: bool = True, allow_absolute: bool = False
) -> Path:
    """
    The absolute, physically resolved location of *path* inside *root*.

    *root* is resolved once with `os.path.realpath` (a checkout directory
    may itself be a symlink); the result is that real root or a path below
    it. *path* is relative to *root*; an absolute *path* is accepted only with
    *allow_absolute*, and only below the root.

    Raises [`PathEscapeError`][syncsafe.errors.PathEscapeError],
    [`AbsoluteSymlinkError`][syncsafe.errors.AbsoluteSymlinkError] or
    [`SymlinkLoopError`][syncsafe.errors.SymlinkLoopError] (all
    [`UnsafePathError`][syncsafe.errors.UnsafePathError]) as the module describes;
    `FileNotFoundError` when a component does not exist, or with
    ``strict=False`` resolves the rest of the path lexically, still confined to
    the root; `NotADirectoryError` when a file is used as a directory.

    It does **not** promise that the path still resolves there a moment later:
    to read, use [`open_inside`][syncsafe.paths.open_inside], which has no such gap.
    """
    with Root(root) as r:
        rel = relative_path(r, os.fspath(path), allow_absolute=allow_absolute)
        res = resolve_from(
            r, r.node, rel, label=os.fspath(path), strict=strict, allow_absolute=allow_absolute
        )
        try:
            names = res.names()
        finally:
            res.release()
        return Path(r.real, *names)


def open_inside(root: StrPath, path: StrPath, *, allow_absolute: bool = False) -> BinaryIO:
    """
    Open the regular file *path* inside *root* for reading, without a check-then-use gap.

    Every directory on the way is opened relative to its parent's descriptor
    with ``O_NOFOLLOW``; a component that is a symlink is read and its target
    resolved by [`resolve`][syncsafe.paths.resolve]'s rules; the file itself is opened with
    ``O_NOFOLLOW | O_NONBLOCK`` and ``fstat`` must say it is a regular file. A
    directory swapped for a symlink to outside between any two of these
    steps makes the open fail; it never reads outside content.

    On Linux 5.6+ a fast path first asks the kernel to resolve the parent
    directory with ``openat2(RESOLVE_BENEATH)``, which applies the same rules
    atomically; anything it refuses is retried on the portable path, which
    gives the precise error.

    Raises what [`resolve`][syncsafe.paths.resolve] raises, plus
    [`SpecialFileError`][syncsafe.errors.SpecialFileError] for a FIFO, socket or device
    (never opened for reading) and `IsADirectoryError` for a directory.
    The caller closes the file (use ``with``).
    """
    with Root(root) as r:
        rel = relative_path(r, os.fspath(path), allow_absolute=allow_absolute)
        label = os.fspath(path)
        fd = _open_fast(r, rel, label) if _fs.openat2_available else None
        if fd is None:
            fd = _open_portable(r, rel, label, allow_absolute=allow_absolute)
    try:
        return os.fdopen(fd, "rb")
    except BaseException:  # pragma: no cover - fdopen of a fresh descriptor does not fail
        os.close(fd)
        raise


def _open_fast(r: Root, rel: str, label: str) -> int | None:
    """The openat2 path: the parent by the kernel's RESOLVE_BENEATH, the name by hand."""
    head, _, name = rel.rpartition("/")
    if name in {"", ".", ".."}:
        return None
    parent = r.node.fd
    if head:
        opened = _fs.openat2_beneath(r.node.fd, head, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        if opened is None:
            return None
        parent = opened
    try:
        # lstat first: a FIFO or device is never opened, not even non-blocking.
        st = os.stat(name, dir_fd=parent, follow_symlinks=False)
        if not stat.S_ISREG(st.st_mode):
            return None  # a link to follow, or an error to report precisely
        try:
            fd = os.open(name, FILE_FLAGS, dir_fd=parent)
        except OSError:
            return None  # it changed since the lstat: let the portable path say how
        return checked_file(fd, label)
    except FileNotFoundError:
        return None
    finally:
        if parent != r.node.fd:
            os.close(parent)


def _open_portable(r: Root, rel: str, label: str, *, allow_absolute: bool) -> int:
    res = resolve_from(r, r.node, rel, label=label, strict=True, allow_absolute=allow_absolute)
    try:
        return open_resolved(res, label)
    finally:
        res.release()
