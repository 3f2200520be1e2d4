"""
The walking engine of [`syncsafe.walker.walk`][] and [`syncsafe.walker.scan`][].

``_Walker`` holds the descriptors of the directories on the walk's path,
lists each directory once, sorts it in byte order, checks its links and
hands out its files in runs of
[`WalkEntry`][syncsafe.walker.WalkEntry] made in C, or as
[`WalkRun`][syncsafe.walker.WalkRun] objects. ``_Walk`` is the iterator that
[`walk`][syncsafe.walker.walk] returns. What the walk knows of a directory it
listed (its listing, the inode numbers it gave, its entries' stats) is its
own (its ``_Frame``), not resolution's `Dir`; given
``syncsafe.walker._listings.Listings`` of earlier walks, it reuses
the listing of a directory whose stat is unchanged and checks its links again.

Of the path rules, the walker owns one: a directory link back to a directory
on the walk's path is an ancestor loop (``_Walker._accept_link``, with the
path's identities from ``_Walker._ancestors``), which only the walk can know.
Every other rule (a ``..`` above the root, absolute targets, the hop limit)
is `syncsafe._fs.resolve_from`'s, which ``_Walker._check`` calls for each link.
"""

from __future__ import annotations

import os
from bisect import bisect_left
from collections.abc import Callable, Generator, Iterable, Iterator
from itertools import chain, repeat
from operator import itemgetter
from stat import S_ISDIR, S_ISLNK, S_ISREG
from typing import Any, Final, Literal, TypeAlias, cast, final

import pathspec

from syncsafe._fs import (
    DIR_FLAGS,
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
    DanglingSymlinkError,
    SpecialFileError,
    SymlinkLoopError,
    UnsafePathError,
)
from syncsafe.walker._entry import _UTF8_FS, WalkEntry, WalkRun, _FileRef, _make
from syncsafe.walker._listings import Kept, Listings, dir_key

Policy = Literal["skip", "error"]

_WINDOW: Final = 128  # directory descriptors kept open on the current path, besides the root


@final
class _SubDir:
    """A subdirectory of the directory being listed, entered by *name*."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name


@final
class _DirLink:
    """A link to a directory inside the root: its physical directory and identity."""

    __slots__ = ("ident", "node")

    def __init__(self, node: Dir, ident: tuple[int, int]) -> None:
        self.node = node
        self.ident = ident


# What a directory's entry other than a regular file leads to, once checked: a
# file reached by a link is its entry's own ref, a _FileRef.
_Extra: TypeAlias = "_SubDir | _DirLink | _FileRef"

Order: TypeAlias = "Callable[[str], bytes] | None"
_Extras: TypeAlias = "list[tuple[str, _Extra]]"


@final
class _Frame:
    """
    The walker's state of a directory on its path: what it listed, and how far along it is.

    ``files`` are its regular files, sorted; ``extras`` its other entries
    (subdirectories, links), checked and sorted; ``i`` and ``j`` how many of
    each are handed out. Each [`WalkEntry`][syncsafe.walker.WalkEntry] of a file
    listed in it points here: ``listing`` is the listing of its regular files
    (kept for the inode numbers it gave: an entry's open checks that it
    opened the file listed, not one put in its place since), ``inodes`` those
    numbers by name (built from the listing when an entry is first opened or
    stat-ed), ``stats`` the files' stats its entries fetched, by name.
    Resolution's `Dir` holds none of this: only the walker lists directories.
    """

    __slots__ = (
        "built",
        "extras",
        "files",
        "i",
        "inodes",
        "j",
        "listing",
        "node",
        "order",
        "rel",
        "stats",
    )

    def __init__(self, node: Dir, rel: str) -> None:
        self.node = node
        self.rel = rel  # the path as reached, "" or ending in "/"
        self.files: list[str] = []  # regular files, sorted
        self.extras: _Extras = []  # (sort key, what): directories and links, sorted
        self.order: Order = None  # the sort key for this directory's names
        self.i = 0  # files[:i] handed out
        self.j = 0  # extras[:j] handed out
        self.built = False  # files holds the paths (a leaf directory), not the names
        self.listing: list[os.DirEntry[str]] = []
        self.inodes: dict[str, int] | None = None
        self.stats: dict[str, os.stat_result] | None = None


def _order(joined: str) -> Order:
    """
    The sort key giving byte order for names *joined* together: ``None`` (``str`` order) or bytes.

    Sorting names as ``str`` gives their UTF-8 byte order unless a name holds
    an undecodable byte (a lone surrogate, from surrogateescape) or the file
    system encoding is not UTF-8: then sort by `os.fsencode`.
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


def _sorted(extra: dict[str, _Extra], order: Order) -> _Extras:
    """*extra*'s items sorted by key in byte order (see `_order`)."""
    if order is None:
        return sorted(extra.items(), key=_first)
    return sorted(extra.items(), key=lambda item: order(item[0]))


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
        listings: Listings | None = None,
    ) -> None:
        self.root_arg = root
        self.listings = listings  # directories listed by earlier walks (see _listings)
        self.match = None if exclude is None else exclude.match_file
        self.specials = specials
        self.dangling = dangling
        self.allow_absolute = allow_absolute
        self.problem = problem
        self.frames: list[_Frame] = []
        # The stack index of each directory that is one of the frames: a
        # directory reopened for a frame is kept open, one reopened on the way
        # to it is closed again unless it is a frame inside the window.
        self.on_path: dict[Dir, int] = {}
        # The directories on the walk's path, by identity, for the loop check;
        # filled in only when a directory link needs them (most walks never do).
        self.idents: dict[tuple[int, int], str] = {}
        self.registered = 0  # frames[:registered] are in idents
        self.run: list[str] = []  # the paths the current run of entries comes from
        self.batched = False  # hand out WalkRun objects (see _Walk.runs), not iterators
        self.started = False
        self.root: Root

    # ------------------------------------------------------------ the loop
    def runs(self) -> Generator[Iterable[WalkEntry], None, None]:
        """
        The entries in runs: a directory's files up to its next subdirectory or link.

        Each run is an iterator made in C, or with ``batched`` a
        [`WalkRun`][syncsafe.walker.WalkRun]. A walker walks once.

        The walk moves on (into a subdirectory, out of a finished directory)
        only when the next run is asked for, after the consumer has gone
        through this one: so each entry's directory is still open while the
        consumer holds it, as [`WalkEntry.open`][syncsafe.walker.WalkEntry.open] needs.
        """
        self.root = self._begin()
        try:
            self._push(self.root.node, "")
            yield from self._steps()
            if self.listings is not None:
                self.listings.end()  # a walk that finished: what it did not reach is gone
        finally:
            self.run = []
            for frame in self.frames:
                close_dir(frame.node)
            self.frames.clear()
            self.root.close()

    def _steps(self) -> Generator[Iterable[WalkEntry], None, None]:
        """The loop of [`runs`][]: the runs of the frame on top, until there is none."""
        frames = self.frames
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
            if type(info) is _SubDir:
                self._enter_dir(node, info.name, frame.rel + key)
            elif type(info) is _DirLink:
                self._enter_link(info.node, info.ident, frame.rel + key)
            else:
                assert type(info) is _FileRef  # noqa: S101 - the three kinds of _Extra
                yield from self._link_file(frame.rel + key, info)

    def _begin(self) -> Root:
        """The root, opened; a walker that walked already raises `RuntimeError`."""
        if self.started:
            msg = "a walk is gone through once: its entries or its runs, not both"
            raise RuntimeError(msg)
        self.started = True
        if self.listings is not None:
            self.listings.begin()
        given = self.root_arg
        return given if isinstance(given, Root) else Root(given)

    def _files(self, frame: _Frame, stop: int) -> Iterable[WalkEntry]:
        """
        The entries for ``frame.files[frame.i:stop]``, made as they are asked for.

        This is the walk's inner loop, and none of it runs Python code per
        file: the paths are cut from one joined string (a name never holds a
        NUL), and each entry is made in C from its path and directory.
        """
        files, i = frame.files, frame.i
        frame.i = stop
        rel = frame.rel
        names: list[str] | None
        if frame.built or not rel:
            if i or stop < len(files) or self.listings is not None:
                # A copy: close() empties the run's list, and a kept listing's must stay.
                paths = names = files[i:stop]
            else:
                paths = names = files
            if rel:
                names = None  # files holds the paths: WalkRun cuts the names if asked
        else:
            names = files[i:stop] if i or stop < len(files) else files
            paths = (rel + ("\0" + rel).join(names)).split("\0")
        self.run = paths
        if self.batched:
            return WalkRun(paths, frame, names)
        return map(_make, zip(paths, repeat(frame)))

    # ----------------------------------------------------------- frames
    def _push(self, node: Dir, rel: str) -> None:
        frames = self.frames
        index = len(frames)
        self.on_path[node] = index
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
        del self.on_path[node]
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
                if node not in self.on_path:
                    close_dir(node)
            self._pop()
            self.problem(frame.rel.rstrip("/") or ".", exc)
            return False
        low = len(self.frames) - _WINDOW
        on_path = self.on_path
        for node in opened:
            index = on_path.get(node, -1)
            if node is not frame.node and not (index >= low and index > 0):
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

    def _open_linked(self, node: Dir, label: str) -> list[Dir] | None:
        """
        Open a linked *node* (and the ancestors it needs): what was opened, or None.

        On failure what was opened is closed again and the problem reported under *label*.
        """
        opened: list[Dir] = []
        try:
            ensure_fd(node, opened)
        except (UnsafePathError, OSError) as exc:
            for other in opened:
                close_dir(other)
            self.problem(label, exc)
            return None
        return opened

    def _enter_link(self, target: Dir, ident: tuple[int, int], rel: str) -> None:
        node = Dir(target.name, target.parent, -1, ident)
        opened = self._open_linked(node, rel.rstrip("/"))
        if opened is None:
            return
        for other in opened:
            if other is not node:
                close_dir(other)
        self._push(node, rel)

    def _link_file(self, path: str, ref: _FileRef) -> Iterator[Iterable[WalkEntry]]:
        opened = self._open_linked(ref.node, path)
        if opened is None:
            return
        try:
            yield WalkRun([path], ref) if self.batched else iter((WalkEntry(path, ref),))
        finally:
            for other in opened:
                close_dir(other)

    # ---------------------------------------------------------- listing
    def _list(self, frame: _Frame) -> None:
        node, rel = frame.node, frame.rel
        listings = self.listings
        if listings is not None:  # a kept listing, if the directory's stat is unchanged
            key = dir_key(node.fd)
            if node.ident is None:
                node.ident = key[:2]
            kept = listings.get(rel, key)
            if kept is not None:
                self._relist(frame, kept)
                return
            listed_at = listings.clock()  # before the listing, as key is: see Listings.keep
        others: list[os.DirEntry[str]] = []
        aside: Callable[[os.DirEntry[str]], object] = others.append  # returns None
        try:
            with os.scandir(node.fd) as it:
                # One pass: the regular files, anything else put aside.
                listing = [e for e in it if e.is_file(follow_symlinks=False) or aside(e)]
        except OSError as exc:
            self.problem(rel.rstrip("/") or ".", exc)
            return
        frame.listing = listing  # for the inode numbers it gave (see _Frame)
        files = [e.name for e in listing]
        match = self.match
        subdirs: _Extras = []
        odd: list[str] = []
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
        else:
            joined = "".join(files) + "".join(e.name for e in others)
            frame.order = order = _order(joined)
            if match is not None:
                files = [k for k in files if not match(rel + k)]
            files.sort(key=order)
            frame.files = files
            subdirs, odd = self._list_others(frame, others)
        if listings is not None:
            kept = Kept(
                key,
                files=frame.files,
                built=frame.built,
                order=frame.order,
                subdirs=subdirs,
                odd=odd,
                listing=listing,
            )
            listings.keep(rel, kept, listed_at)

    def _relist(self, frame: _Frame, kept: Kept) -> None:
        """The listing *kept* of an unchanged directory; its links and odd entries checked again."""
        frame.files, frame.built, frame.order = kept.files, kept.built, kept.order
        frame.listing = kept.listing
        if not kept.odd:
            frame.extras = kept.subdirs
            return
        extra = dict(kept.subdirs)
        for name in kept.odd:
            self._check(frame.node, frame.rel, name, extra)
        frame.extras = _sorted(extra, frame.order)

    def _list_others(
        self, frame: _Frame, others: list[os.DirEntry[str]]
    ) -> tuple[_Extras, list[str]]:
        """
        The directory's entries other than regular files, into ``frame.extras``.

        Returns its subdirectories (as sorted extras) and the names of its
        other entries (sorted), which are checked here: what a kept listing
        holds of them.
        """
        node, rel, order, match = frame.node, frame.rel, frame.order, self.match
        subdirs: dict[str, _Extra] = {}
        odd: list[str] = []
        for e in others:
            name = e.name
            if e.is_dir(follow_symlinks=False):
                if match is None or not match(rel + name + "/"):
                    subdirs[name + "/"] = _SubDir(name)
            elif match is None or not match(rel + name):
                odd.append(name)
        odd.sort(key=order)
        if not odd:
            frame.extras = _sorted(subdirs, order)
            return frame.extras, odd
        extra = dict(subdirs)
        for name in odd:
            self._check(node, rel, name, extra)
        frame.extras = _sorted(extra, order)
        return _sorted(subdirs, order), odd

    def _check(self, node: Dir, rel: str, name: str, extra: dict[str, _Extra]) -> None:
        """A symlink or special entry: resolve or reject it now, in name order."""
        path = rel + name
        try:
            st = os.stat(name, dir_fd=node.fd, follow_symlinks=False)
            if not S_ISLNK(st.st_mode):
                if S_ISREG(st.st_mode):  # it changed type since the listing
                    extra[name] = _FileRef(node, name, st)
                elif S_ISDIR(st.st_mode):
                    extra[name + "/"] = _SubDir(name)
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
        self, res: Resolved, path: str, name: str, target: str, extra: dict[str, _Extra]
    ) -> None:
        """
        Take the link *path* (its text *target*) into *extra*, resolved to *res*, or report it.

        The resolution has already refused escapes and absolute targets. What
        is left is the ancestor-loop rule: a link to a directory the walk is in
        (one on its path, or the one being listed) would be walked without end,
        so it is a [`SymlinkLoopError`][syncsafe.errors.SymlinkLoopError] naming
        that directory; it is compared by identity (device, inode), not by
        name, so a link that reaches it by another way is caught too. Beside
        it, the ``dangling`` and ``specials`` policies for where a link ends.
        """
        if res.kind == "missing":
            if self.dangling == "error":
                self.problem(path, DanglingSymlinkError(path, target))
        elif res.kind == "dir":
            ident = identity(res.node.fd)
            ancestor = self._ancestors().get(ident)
            if ancestor is not None:
                self.problem(path, SymlinkLoopError(path, target, ancestor))
            elif self.match is None or not self.match(path + "/"):
                extra[name + "/"] = _DirLink(res.node, ident)
        else:
            fst = res.st
            assert fst is not None  # noqa: S101 - a "file" result has its lstat
            if S_ISREG(fst.st_mode):
                extra[name] = _FileRef(res.node, res.name, fst)
            elif self.specials == "error":
                self.problem(path, SpecialFileError(path, file_kind(fst.st_mode)))


@final
class _Walk(chain[WalkEntry]):
    """
    What [`walk`][syncsafe.walker.walk] returns: an iterator of entries that can be closed early.

    It hands out each run of entries from C (see ``_Walker._files``) and asks the
    walker for the next run only when one is used up. A ``chain`` rather than
    a generator or a class with a Python ``__next__``: either would run Python
    code per file, a cost benchmark ``walk-10k`` (``benchmarks/bench_walk.py``)
    measures against `os.walk`.
    """

    __slots__ = ("_batches", "_runs", "_walker")

    _runs: Generator[Iterable[WalkEntry], None, None]
    _batches: Generator[Iterable[WalkEntry], None, None] | None
    _walker: _Walker

    def __new__(cls, walker: _Walker) -> _Walk:
        """The walk of *walker*: its runs of entries, chained."""
        runs = walker.runs()
        self = super().from_iterable(runs)  # chain's C constructor, for this class
        assert isinstance(self, _Walk)  # noqa: S101 - from_iterable makes the subclass
        self._runs = runs
        self._batches = None
        self._walker = walker
        return self

    def runs(self) -> Iterator[WalkRun]:
        """
        The same walk, a [`WalkRun`][syncsafe.walker.WalkRun] (a directory's files) at a time.

        For a caller that handles a directory's files in one pass (a cache
        that stats them all, then looks them up). Go through a walk's entries
        or its runs, not both: the second raises `RuntimeError`. Closing the
        walk ends its runs too.

        !!! note "Added in version 0.1.0"
        """
        walker = self._walker
        if walker.started:
            msg = "a walk is gone through once: its entries or its runs, not both"
            raise RuntimeError(msg)
        walker.batched = True
        self._batches = batches = walker.runs()
        return cast("Iterator[WalkRun]", batches)

    def close(self) -> None:
        """Stop the walk: release its directory descriptors; no more entries come."""
        # The run being handed out is a C iterator over the list walker.run
        # (see _Walker._files), which the chain holds and closing the runs
        # cannot reach: emptying the list ends it, so no entry of a directory
        # already closed comes after close().
        self._walker.run.clear()
        self._runs.close()
        if self._batches is not None:
            self._batches.close()


def remember(walk: Iterable[WalkEntry], listings: Listings) -> None:
    """
    Let *walk*, not yet started, reuse and keep directory listings in *listings*.

    For the checksum's kept cache (``syncsafe.checksums._tree``), and only
    for a walk whose exclusion answers from the path alone (see
    [`Listings`][syncsafe.walker._listings.Listings]). Anything but a walk
    that `walk` made is left as it is.
    """
    if type(walk) is _Walk and not walk._walker.started:  # noqa: SLF001 - this module's class
        walk._walker.listings = listings  # noqa: SLF001


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
