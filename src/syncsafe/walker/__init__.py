"""
A deterministic, loop-safe, escape-safe walk of a tree, and a findings report.

[`walk`][syncsafe.walker.walk] yields one [`WalkEntry`][syncsafe.walker.WalkEntry] per regular file
reachable from the root, in ascending byte order of its path (git's tree order), following
symlinks that stay inside the root by the rules of [`syncsafe.paths`][syncsafe.paths],
decided by the same code, and one rule of its own: no ancestor loops (below).
[`scan`][syncsafe.walker.scan] walks everything and reports every unsafe
entry instead of raising, for pre-sync hooks (``syncsafe scan``).

How it differs from `os.walk`: it never builds a path string longer
than one name for a system call — it holds directory descriptors and opens
each child relative to its parent with ``O_NOFOLLOW`` — so a tree deeper than
``PATH_MAX`` works and a directory swapped for a symlink mid-walk cannot
redirect it outside. It is iterative, so depth costs no recursion. It follows
directory symlinks only when they stay inside and do not lead back to a
directory it is already in (that is a [`SymlinkLoopError`][syncsafe.errors.SymlinkLoopError],
not an endless walk). It never opens a FIFO, socket or device.

Descriptors: the walk holds the root's descriptor and those of at most 128
directories on its current path (the deepest ones). Going back up past
them, it reopens a directory from the nearest open ancestor, name by name
with ``O_NOFOLLOW``, and checks it is the same directory (device and inode)
it left; so a tree 2,100 levels deep needs no raised ``RLIMIT_NOFILE``.

!!! note "Added in version 0.1.0"
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Final, final

import attrs

from syncsafe.errors import (
    AbsoluteSymlinkError,
    DanglingSymlinkError,
    PathEscapeError,
    SpecialFileError,
    SymlinkLoopError,
    UnsafePathError,
)
from syncsafe.walker._engine import Policy, _policy, _raise, _spec, _Walk, _Walker
from syncsafe.walker._engine import remember as remember
from syncsafe.walker._entry import StatKey as StatKey
from syncsafe.walker._entry import WalkEntry, WalkRun
from syncsafe.walker._entry import stat_key as stat_key
from syncsafe.walker._listings import Listings as Listings

# Beyond __all__, for the checksum and its cache (syncsafe.checksums), which
# read a walk only through this module: the stat key, the listings a kept
# cache reuses (remember), and walk_root, a walk from a Root already open.
# Not part of the public API.

if TYPE_CHECKING:
    import pathspec

    from syncsafe._fs import Root, StrPath

__all__ = ["Finding", "WalkEntry", "WalkRun", "scan", "walk"]


@final
@attrs.frozen
class Finding:
    """
    One unsafe entry found by [`scan`][syncsafe.walker.scan].

    ``rule`` is one of ``escape``, ``absolute-symlink``, ``symlink-loop``,
    ``dangling-symlink``, ``special-file``, ``unreadable-directory``,
    ``changed``; ``target`` the symlink's text where there is a link.
    """

    path: str
    rule: str
    target: str | None
    message: str


def walk(
    root: StrPath,
    *,
    exclude: Iterable[str] | pathspec.PathSpec[Any] = (),
    specials: Policy = "skip",
    dangling: Policy = "error",
    allow_absolute: bool = False,
) -> _Walk:
    """
    One [`WalkEntry`][syncsafe.WalkEntry] per regular file reachable from *root*, sorted by path.

    Ascending byte order of ``.path``, which is git's tree order: siblings
    sorted by their bytes, a directory as if its name ended in ``/``.
    Symlinks that stay inside the root are followed (a symlinked
    directory's files appear under the link's name);
    one that leaves it raises [`PathEscapeError`][syncsafe.errors.PathEscapeError], an
    absolute one [`AbsoluteSymlinkError`][syncsafe.errors.AbsoluteSymlinkError] (unless
    *allow_absolute*), a directory link back to a directory the walk is in,
    or a chain of more than 40 links, [`SymlinkLoopError`][syncsafe.errors.SymlinkLoopError].
    A directory's links and special files are checked when the walk enters
    it, in name order, before its first entry is yielded.

    *exclude*: gitignore-style patterns (or a ready `pathspec.PathSpec`)
    matched against the path relative to the root as reached, a directory with
    a trailing ``/``; an excluded directory is never opened.

    *specials*: FIFOs, sockets and devices are never opened; ``"skip"``
    (default) leaves them out, ``"error"`` raises
    [`SpecialFileError`][syncsafe.errors.SpecialFileError].

    *dangling*: a symlink whose target inside the root does not exist raises
    [`DanglingSymlinkError`][syncsafe.errors.DanglingSymlinkError] by default (``"error"``):
    a tree that references a missing file is not the tree its author meant,
    and skipping the link silently would hide that. ``"skip"`` leaves it out.

    Unreadable directories raise `PermissionError`. The walk holds
    directory descriptors until it is exhausted or closed; use it in a
    ``for`` loop or close it (its ``close()``, or ``contextlib.closing``)
    when stopping early. It returns an iterator, not a generator: the entries
    of a directory are handed out from C, so the walk's cost per file stays
    close to `os.walk`'s. Its ``runs()`` gives the same walk a directory's
    files at a time, each a [`WalkRun`][syncsafe.walker.WalkRun]: go through
    its entries or its runs, not both.
    """
    return walk_root(root, _spec(exclude), specials, dangling, allow_absolute=allow_absolute)


def walk_root(
    root: StrPath | Root,
    spec: pathspec.PathSpec[Any] | None,
    specials: Policy = "skip",
    dangling: Policy = "error",
    *,
    allow_absolute: bool = False,
) -> _Walk:
    """[`walk`][syncsafe.walker.walk], also from a `Root` already open (the walk closes it)."""
    walker = _Walker(
        root,
        exclude=spec,
        specials=_policy("specials", specials),
        dangling=_policy("dangling", dangling),
        allow_absolute=allow_absolute,
        problem=_raise,
    )
    return _Walk(walker)


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

    Walks the whole tree as [`walk`][syncsafe.walker.walk] does and reports, instead of raising,
    escapes, absolute links, loops, dangling links, special files and
    unreadable directories, each with the path as reached, the link's target
    and the rule. Nothing is opened but directories. An empty list means
    [`walk`][syncsafe.walker.walk] would succeed with ``specials="error"``.
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
