"""
What a walk remembers of a tree's directory listings between walks: git's untracked cache.

A directory's own stat changes when an entry is added, removed or renamed in
it, or a link in it is replaced (each rewrites the directory), so a
directory whose ``(st_dev, st_ino, st_mtime_ns, st_ctime_ns)`` is the one it
had when it was listed still holds the entries that listing found: the walk
need not read it again. [`Listings`][syncsafe.walker._listings.Listings]
keeps those listings, as the walking engine sorted and filtered them.

What it never keeps: what the entries are now. A file's content changes no
directory's stat, so every file is still stat-ed each walk; a link's target
may change meaning when another directory changes, so every link is still
read, resolved and checked for loops each walk; only the names and kinds the
listing found are reused. The racy-git rule applies to directories as to
files: a directory modified within the timestamp granularity of the moment
it was listed (``margin_ns`` before it, or later) may change again without
its stat moving, so its listing is not kept, and it is read again next time.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeAlias, final

if TYPE_CHECKING:
    from syncsafe.walker._engine import Order, _Extras

__all__ = ["DirKey", "Kept", "Listings", "dir_key"]

DirKey: TypeAlias = tuple[int, int, int, int]
"""A directory's ``(st_dev, st_ino, st_mtime_ns, st_ctime_ns)``."""


def dir_key(fd: int) -> DirKey:
    """The `DirKey` of the open directory *fd*: one ``fstat``."""
    st = os.fstat(fd)
    return (st.st_dev, st.st_ino, st.st_mtime_ns, st.st_ctime_ns)


@final
class Kept:
    """
    One directory's listing as the walk sorted and filtered it, and the stat it was listed under.

    ``files`` and ``built`` are the walk's frame's (its regular files, sorted,
    as names or, in a leaf directory, as paths); ``subdirs`` its
    subdirectories as sorted extras; ``odd`` the names of its other entries
    (links, special files), sorted, to be checked again each walk;
    ``listing`` the directory entries of its regular files (their inode
    numbers). Nothing here is changed once kept.
    """

    __slots__ = ("built", "files", "key", "listing", "odd", "order", "subdirs")

    def __init__(
        self,
        key: DirKey,
        *,
        files: list[str],
        built: bool,
        order: Order,
        subdirs: _Extras,
        odd: list[str],
        listing: list[os.DirEntry[str]],
    ) -> None:
        self.key = key
        self.files = files
        self.built = built
        self.order = order
        self.subdirs = subdirs
        self.odd = odd
        self.listing = listing


@final
class Listings:
    """
    The listings of a tree's directories, kept between walks of it (in memory only).

    Keyed by the directory's path as the walk reached it, and used only for
    the same directory (device and inode) with the same mtime and ctime. Only
    for walks whose exclusion answers from the path alone, always the same
    way: what a listing kept is already filtered by it. *clock* is the
    wall-clock time in nanoseconds, *margin_ns* the timestamp granularity
    the racy-git rule allows for. What a finished walk did not reach (a
    directory removed, renamed, or now excluded) is forgotten; a walk that
    stops early forgets nothing.
    """

    __slots__ = ("clock", "kept", "margin_ns", "seen")

    def __init__(self, clock: Callable[[], int], margin_ns: int) -> None:
        self.clock = clock
        self.margin_ns = margin_ns
        self.kept: dict[str, Kept] = {}  # as the last finished walk left them
        self.seen: dict[str, Kept] = {}  # what the walk under way kept

    def begin(self) -> None:
        """A walk starts."""
        self.seen = {}

    def end(self) -> None:
        """The walk finished: what it kept is all that is kept."""
        self.kept, self.seen = self.seen, {}

    def get(self, rel: str, key: DirKey) -> Kept | None:
        """The listing kept of the directory at *rel* if its stat is still *key*."""
        kept = self.kept.get(rel)
        if kept is None or kept.key != key:
            return None
        self.seen[rel] = kept
        return kept

    def keep(self, rel: str, kept: Kept, listed_at: int) -> None:
        """
        Keep *kept*, listed at *listed_at* (taken before the listing), unless it is racy.

        Its key was taken before the listing too: a change after that moves
        the directory's stat, or, within one tick of the clock, leaves it
        younger than *margin_ns* before *listed_at*, and then it is not kept.
        """
        if max(kept.key[2], kept.key[3]) + self.margin_ns <= listed_at:
            self.seen[rel] = kept
