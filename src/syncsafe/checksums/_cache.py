"""
[`ChecksumCache`][syncsafe.ChecksumCache]: per-file digests kept across runs, keyed on ``stat``.

The key is ``(device, inode, size, mtime_ns, ctime_ns, mode)``. Editing a
file changes its ctime (which no program can set back), so an edit changes
the key; the one hole is an edit within the same clock tick as the stat that
was cached, which leaves every field equal. That is git's "racy clean"
problem, and the cure is git's: an entry is only trusted when the file's
mtime and ctime are safely older than the moment hashing started, so that
any later edit must carry a later timestamp.

One edit moves no timestamp at all, and no cache keyed on ``stat`` (git's
included) can see it: a write through a shared memory mapping (``mmap``
with ``MAP_SHARED``) to a page that is already dirty. The kernel updates
mtime and ctime when a clean page is first written through the mapping, not
on later writes to it, nor on ``msync``.
[`ChecksumCache.verify`][syncsafe.checksums.ChecksumCache.verify] reads every file and reports the
entries such an edit made wrong.

This module owns the cache: its key and racy rule, its file format, and the
loops that use it (``hash_runs`` for a checksum, ``verify_entries`` for
``verify``); the checksum hands them the walk and reads nothing of the
cache's tables itself.
"""

from __future__ import annotations

import errno
import os
import stat
import struct
import time
import warnings
from operator import itemgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, cast, final

import xxhash

from syncsafe._fs import file_kind
from syncsafe.checksums._algorithms import BY_NAME
from syncsafe.checksums._read import CHUNK, read_digest
from syncsafe.walker import Listings, StatKey, stat_key

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

    from pathspec import PathSpec

    from syncsafe._fs import StrPath
    from syncsafe.checksums._algorithms import Algorithm
    from syncsafe.walker import WalkEntry, WalkRun

__all__ = [
    "RACY_MARGIN_NS",
    "ChecksumCache",
    "ChecksumCacheWarning",
    "Hashed",
    "StatKey",
    "TreeMemo",
    "hash_runs",
    "listings_of",
    "verify_entries",
]

RACY_MARGIN_NS: Final = 2_000_000_000
"""
How much older than the start of hashing a file's mtime and ctime must be
for its digest to be cached: two seconds, the coarsest timestamp granularity
in common use (FAT), which also covers the kernel's coarse file-time clock.
"""

_MAGIC: Final = b"syncsafe checksum cache\n"
_VERSION: Final = 1
_HEAD: Final = struct.Struct(">IqI")  # version, written_ns, number of sections
_SECTION: Final = struct.Struct(">HHQ")  # name length, digest size, entry count
_ENTRY: Final = struct.Struct(">QQQqqQ")  # dev, ino, size, mtime_ns, ctime_ns, mode
_TRAILER_SIZE: Final = 16  # xxh3-128 of everything before it
_LOCK_TIMEOUT: Final = 60.0
_MTIME: Final = itemgetter(3)
_CTIME: Final = itemgetter(4)


def _now_ns() -> int:
    """Wall-clock time; a module function so that tests can move the clock."""
    return time.time_ns()


class ChecksumCacheWarning(UserWarning):
    """A cache file was ignored because it is corrupt or not a syncsafe cache."""


@final
class TreeMemo:
    """
    The last run of a cache on one tree: every file walked, in order, and the result.

    Made only of a run in which every key was trusted (in the cache), and
    kept in memory only. *context* is whatever else decided the result (the
    root, the algorithm, the annotation key, the exclusions): a run that
    differs in it does not use the memo.
    """

    __slots__ = ("context", "digests", "keys", "paths", "result")

    def __init__(
        self,
        context: tuple[object, ...],
        paths: list[str],
        keys: list[StatKey],
        digests: list[bytes],
        result: object,
    ) -> None:
        self.context = context
        self.paths = paths
        self.keys = keys
        self.digests = digests
        self.result = result


@final
class ChecksumCache:
    """
    Per-file digests remembered in *file*, so that unchanged files are not read again.

    Pass it to [`checksum`][syncsafe.checksums.checksum]
    (``cache=ChecksumCache(".syncsafe-cache")``); the checksum loads it on first use and saves it
    when the run added entries. A digest is reused only for a file whose ``stat`` key is unchanged
    and whose mtime and ctime were at least `RACY_MARGIN_NS` older than
    the start of the run that hashed it (the racy-git rule); younger files are
    hashed every time until they age.

    What it cannot promise: that a file whose stat key is unchanged has
    unchanged bytes. Every edit through ``write`` moves the ctime, but a
    write through a shared memory mapping to a page that is already dirty
    moves neither mtime nor ctime (Linux sets them when a clean page is
    first written through the mapping; ``msync`` sets nothing), so the old
    digest is served until the file is written some other way. No cache
    keyed on ``stat`` can see that edit. [`verify`][syncsafe.checksums.ChecksumCache.verify] reads
    every file and names those whose cached digest is wrong (and drops the entries):
    run it where that matters, or run without a cache.

    Saving is atomic (temporary file, ``fsync``, ``rename``, then ``fsync`` of
    the directory) and happens under a lock file (``<file>.lock``), so
    concurrent processes never leave a torn cache: the last one to save wins.
    A cache file that is corrupt, truncated or not a syncsafe cache is
    ignored with a [`ChecksumCacheWarning`][syncsafe.checksums.ChecksumCacheWarning]
    and rewritten on save; nothing from it is trusted. So is a path that holds no regular file
    (a directory, a FIFO: opened without blocking and checked before
    anything is read) or cannot be read; a save that
    [`checksum`][syncsafe.checksums.checksum] cannot make is a warning too, never an
    exception, and the run's result stands. A saved cache holds the entries this object
    used or added, so that it does not grow without bound: use one cache
    file per tree.

    Kept between runs in one process (as a controller keeps it), it also
    remembers its last run on a tree, in memory: the files walked, in order,
    with their stat keys, and the result. A run whose files all have the
    same paths and stat keys, in the same order, returns that result without
    a lookup per file or a new encoding; that is what a poll that finds
    nothing changed costs, about a stat per file. It also keeps the listing
    of each directory, and does not read again one whose own stat is
    unchanged since (git's untracked cache; see ``docs/how-to/checksums.md``).

    Unlike a plain ``dict`` memo, it never trusts a key it cannot prove is
    stable, and unlike git's index it stores nothing but digests.
    """

    def __init__(self, file: StrPath) -> None:
        self.file = Path(file)
        self._entries: dict[str, dict[StatKey, bytes]] | None = None
        self._live: dict[str, dict[StatKey, bytes]] = {}
        self._dirty = False
        self.memo: TreeMemo | None = None
        """The last run on a tree, if every key in it was trusted (see the class docs)."""
        self.hits = 0
        """Digests reused since this object was made."""
        self.misses = 0
        """Files hashed since this object was made."""
        # The directory listings of its last run, for the next run of this
        # object (never saved): see listings_of.
        self._listings = Listings(ChecksumCache.start, RACY_MARGIN_NS)

    def __repr__(self) -> str:
        return f"ChecksumCache({str(self.file)!r})"

    # ------------------------------------------------------------------ use

    def _tables(self, algorithm: str) -> tuple[dict[StatKey, bytes], dict[StatKey, bytes]]:
        """The loaded entries of *algorithm*, and those this object has used (what a save keeps)."""
        if self._entries is None:
            self._entries = self._load()
        return self._entries.setdefault(algorithm, {}), self._live.setdefault(algorithm, {})

    def record(self, algorithm: str, key: StatKey, digest: bytes, started_ns: int) -> None:
        """
        Remember *digest* for stat *key* if the file is safely older than *started_ns*.

        *started_ns* is the wall-clock time at which the run began, before
        the file was stat-ed. A file modified less than
        `RACY_MARGIN_NS` before it is not cached.
        """
        if max(key[3], key[4]) + RACY_MARGIN_NS > started_ns:
            return
        entries, live = self._tables(algorithm)
        entries[key] = digest
        live[key] = digest
        self._dirty = True

    def forget(self, algorithm: str, key: StatKey) -> None:
        """Drop the entry for stat *key*, if any: the next run reads that file again."""
        if self._entries is None:
            self._entries = self._load()
        dropped = self._entries.get(algorithm, {}).pop(key, None)
        if self._live.get(algorithm, {}).pop(key, None) is not None or dropped is not None:
            self._dirty = True
            self.memo = None

    def verify(
        self,
        path: StrPath,
        *,
        root: StrPath | None = None,
        algorithm: str = "xxh3-128",
        exclude: Iterable[str] | PathSpec[Any] = (),
    ) -> tuple[str, ...]:
        """
        The files under *path* whose cached digest is not their content, now; their entries dropped.

        Every file is read, as [`checksum`][syncsafe.checksums.checksum] without a cache
        reads it (*path*, *root*, *algorithm* and *exclude* mean what they
        mean there), and its digest compared with the one this cache holds
        for its current stat key. A file whose key is not cached is not a
        finding: the next run reads it anyway. Returns the paths (relative to
        *root*, sorted by bytes) of the files that differ, which only an edit
        that left the stat key as it was can cause (see the class docs: an
        edit through a shared memory mapping); their entries are dropped and
        the cache is saved, so the next run reads them again. ``()`` means
        every cached digest of the tree is its file's.

        It costs what an uncached run costs: run it when a stat-keyed answer
        is not enough (before a release, on a schedule), not on every poll.
        """
        from syncsafe.checksums._tree import verify_cache  # noqa: PLC0415 - _tree imports this module

        return verify_cache(self, path, root=root, algorithm=algorithm, exclude=exclude)

    @staticmethod
    def start() -> int:
        """The wall-clock time a run starts at: pass it to [`record`][]."""
        return _now_ns()

    # ---------------------------------------------------------- persistence

    def save(self) -> None:
        """Write the entries used or added to the file, atomically, under the lock."""
        import filelock  # noqa: PLC0415 - only a save needs it; a checksum without a cache never

        from syncsafe._atomic import atomic_replace  # noqa: PLC0415 - as filelock

        data = self._encode(self._live, _now_ns())
        self.file.parent.mkdir(parents=True, exist_ok=True)
        with filelock.FileLock(f"{self.file}.lock", timeout=_LOCK_TIMEOUT):
            atomic_replace(self.file, data, mode=0o600)  # its owner's runs read it, no one else's
        self._dirty = False

    def save_if_changed(self) -> None:
        """
        [`save`][] when entries were added since the last save; never raises `OSError`.

        This is the save [`checksum`][syncsafe.checksums.checksum] makes. A cache that
        cannot be written (its path is a directory, its directory is not
        writable, the disk is full) must not fail a checksum whose result is
        already known: the failure is a
        [`ChecksumCacheWarning`][syncsafe.checksums.ChecksumCacheWarning], the file is left as it
        was, and the entries stay in memory, to be saved by a later run.
        """
        if not self._dirty:
            return
        try:
            self.save()
        except OSError as exc:
            warnings.warn(
                ChecksumCacheWarning(f"cannot save checksum cache {self.file}: {exc}"),
                stacklevel=2,
            )

    def _load(self) -> dict[str, dict[StatKey, bytes]]:
        try:
            data = _read_regular(self.file)
        except FileNotFoundError:
            return {}
        except OSError as exc:  # a directory, a FIFO, a device, no permission...
            problem: object = exc
        else:
            try:
                return self._decode(data)
            except ValueError as exc:
                problem = exc
        warnings.warn(
            ChecksumCacheWarning(f"ignoring checksum cache {self.file}: {problem}"),
            stacklevel=4,
        )
        return {}

    @staticmethod
    def _encode(entries: dict[str, dict[StatKey, bytes]], written_ns: int) -> bytes:
        parts = [_MAGIC, _HEAD.pack(_VERSION, written_ns, len(entries))]
        for name in sorted(entries):
            section = entries[name]
            raw = name.encode("ascii")
            parts.append(_SECTION.pack(len(raw), BY_NAME[name].digest_size, len(section)))
            parts.append(raw)
            # All keys, then all digests: each block reads back in one C call.
            parts.extend(_ENTRY.pack(*key) for key in section)
            parts.extend(section.values())
        body = b"".join(parts)
        return body + xxhash.xxh3_128_digest(body)

    @staticmethod
    def _decode(data: bytes) -> dict[str, dict[StatKey, bytes]]:
        """Parse a cache file; ``ValueError`` saying why when it cannot be trusted."""
        if not data.startswith(_MAGIC):
            msg = "not a syncsafe checksum cache"
            raise ValueError(msg)
        body, trailer = data[:-_TRAILER_SIZE], data[-_TRAILER_SIZE:]
        if len(data) < len(_MAGIC) + _HEAD.size + _TRAILER_SIZE or (
            xxhash.xxh3_128_digest(body) != trailer
        ):
            msg = "corrupt (its integrity digest does not match)"
            raise ValueError(msg)
        try:
            version, written_ns, sections = _HEAD.unpack_from(body, len(_MAGIC))
            if version != _VERSION:
                msg = f"format version {version} is not supported"
                raise ValueError(msg)
            at = len(_MAGIC) + _HEAD.size
            result: dict[str, dict[StatKey, bytes]] = {}
            for _ in range(sections):
                name_len, size, count = _SECTION.unpack_from(body, at)
                at += _SECTION.size
                name = body[at : at + name_len].decode("ascii")
                at += name_len
                if BY_NAME.get(name) is None or BY_NAME[name].digest_size != size:
                    msg = f"unknown algorithm section {name!r}"
                    raise ValueError(msg)
                split = at + count * _ENTRY.size
                end = split + count * size
                if end > len(body):
                    msg = "truncated entry"
                    raise ValueError(msg)
                view = memoryview(body)
                keys = cast("list[StatKey]", list(_ENTRY.iter_unpack(view[at:split])))
                digests = [d for (d,) in struct.Struct(f"{size}s").iter_unpack(view[split:end])]
                # The racy-git rule against the cache's own write time: an
                # entry not safely older than the save is never trusted.
                newest = written_ns - RACY_MARGIN_NS
                if keys and (max(map(_MTIME, keys)) > newest or max(map(_CTIME, keys)) > newest):
                    result[name] = {
                        key: digest
                        for key, digest in zip(keys, digests, strict=True)
                        if key[3] <= newest and key[4] <= newest
                    }
                else:  # all of them old enough, the usual case: no step per entry in Python
                    result[name] = dict(zip(keys, digests, strict=True))
                at = end
        except (struct.error, UnicodeDecodeError) as exc:
            msg = f"corrupt ({exc})"
            raise ValueError(msg) from None
        if at != len(body):
            msg = "corrupt (trailing bytes)"
            raise ValueError(msg)
        return result


@final
class Hashed:
    """What a run through a cache found: each file's path, digest and stat key, in walk order."""

    __slots__ = ("digests", "keys", "memo_hit", "paths", "trusted")

    def __init__(
        self,
        paths: list[str],
        digests: list[bytes],
        keys: list[StatKey],
        *,
        trusted: bool,
        memo_hit: bool,
    ) -> None:
        self.paths = paths
        self.digests = digests
        self.keys = keys
        self.trusted = trusted  # every key is in the cache now: a memo may be made of the run
        self.memo_hit = memo_hit  # every file as the memo has it: the memo's result stands


def hash_runs(
    cache: ChecksumCache,
    runs: Iterable[WalkRun],
    algorithm: Algorithm,
    *,
    memo: TreeMemo | None,
    seen: Callable[[WalkRun, Sequence[StatKey]], object],
) -> Hashed:
    """
    The digests of the files of *runs*, through *cache*: a file whose key is cached is not opened.

    Each run (a directory's files, [`WalkRun`][syncsafe.walker.WalkRun]) is
    stat-ed in one pass ([`stat_keys`][syncsafe.walker.WalkRun.stat_keys]) and
    looked up in one pass: no Python code runs per file that hits, which is
    what benchmark ``checksum-10000-files-cache-interleaved`` (``warm_kept``)
    measures. The keys are raw ``fstatat`` results, not checked against the
    listing: a key is only ever recorded from the ``fstat`` of an opened
    regular file, so a name that became a link, a FIFO or a directory has a
    key that misses, and a miss is read through
    [`read_digest`][syncsafe.checksums._read.read_digest], opened and checked,
    and recorded under the key of the descriptor it was read from (an edit
    after that moves the file's ctime, so the key never names other content;
    within one clock tick, the racy-git rule in
    [`ChecksumCache.record`][syncsafe.checksums.ChecksumCache.record] keeps it
    out). A file renamed or linked over a listed name misses too, on Linux,
    where that moves its ctime; where it does not, it is a hit with that
    file's digest: what the name now holds.

    With the *memo* of the cache's last run on this tree, each run is first
    compared with the memo's files at the same place in the walk: while its
    paths and stat keys are the memo's, there is nothing to look up, and if
    every file is, ``memo_hit`` says the memo's result stands. The first run
    that differs ends the comparison; the files before it take their
    digests from the memo, the rest are looked up. *seen* is called with
    each run and its keys once its files are hashed (while the walk is still
    in the run's directory).
    """
    state = _CachedRun(cache, algorithm, memo)
    for run in runs:
        keys = run.stat_keys()
        if not state.follow(run, keys):
            state.look_up(run, keys)
        seen(run, keys)
    return state.finish()


@final
class _CachedRun:
    """The state of [`hash_runs`][syncsafe.checksums._cache.hash_runs]: what it found so far."""

    __slots__ = (
        "algorithm",
        "at",
        "buffer",
        "cache",
        "cached",
        "digests",
        "keys",
        "live",
        "memo",
        "misses",
        "paths",
        "started",
        "trusted",
    )

    def __init__(self, cache: ChecksumCache, algorithm: Algorithm, memo: TreeMemo | None) -> None:
        self.cache = cache
        self.algorithm = algorithm
        self.cached, self.live = cache._tables(algorithm.name)  # noqa: SLF001 - the cache's loop
        self.started = ChecksumCache.start()
        self.memo = memo  # None once a run differs from it
        self.at = 0  # the memo's files matched so far, while following it
        self.paths: list[str] = []
        self.digests: list[bytes] = []
        self.keys: list[StatKey] = []
        self.misses = 0
        self.trusted = True  # every key recorded so far is in the cache
        self.buffer: memoryview | None = None  # for a miss: made on the first one

    def follow(self, run: WalkRun, keys: list[StatKey]) -> bool:
        """Whether *run* is the memo's next files (paths and keys); if not, stop following it."""
        memo = self.memo
        if memo is None:
            return False
        at = self.at
        end = at + len(keys)
        if memo.keys[at:end] == keys and memo.paths[at:end] == run.paths:
            self.at = end
            return True
        self._leave()
        return False

    def _leave(self) -> None:
        """Stop following the memo: its files matched so far are this run's first."""
        memo, at = self.memo, self.at
        assert memo is not None  # noqa: S101 - left once, while following
        self.memo = None
        self.paths, self.digests, self.keys = memo.paths[:at], memo.digests[:at], memo.keys[:at]
        self.live.update(zip(self.keys, self.digests, strict=True))

    def look_up(self, run: WalkRun, keys: list[StatKey]) -> None:
        """Each file of *run* by its key; a miss read, and its digest recorded under its fstat."""
        found = list(map(self.cached.get, keys))
        if None not in found:  # every file a hit: nothing per file in Python
            self.live.update(zip(keys, cast("list[bytes]", found), strict=True))
        else:
            for i, digest in enumerate(found):
                if digest is None:
                    found[i] = self._miss(run, i, keys)
                else:
                    self.live[keys[i]] = digest
        self.paths += run.paths
        self.digests += cast("list[bytes]", found)
        self.keys += keys

    def _miss(self, run: WalkRun, i: int, keys: list[StatKey]) -> bytes:
        """Read the *i*-th file of *run*; its key becomes its descriptor's, and is recorded."""
        self.misses += 1
        if self.buffer is None:
            self.buffer = memoryview(bytearray(CHUNK))
        digest, st = read_digest(run.entry(i), self.algorithm, self.buffer)
        keys[i] = key = stat_key(st)
        self.cache.record(self.algorithm.name, key, digest, self.started)
        self.trusted = self.trusted and key in self.cached
        return digest

    def finish(self) -> Hashed:
        """What the run found; the cache's counters moved and the cache saved if it grew."""
        cache, memo = self.cache, self.memo
        if memo is not None:  # followed to the end
            if self.at == len(memo.keys):
                cache.hits += self.at
                return Hashed(memo.paths, memo.digests, memo.keys, trusted=True, memo_hit=True)
            self._leave()  # the walk had fewer files than the memo
        cache.hits += len(self.paths) - self.misses
        cache.misses += self.misses
        cache.save_if_changed()
        return Hashed(self.paths, self.digests, self.keys, trusted=self.trusted, memo_hit=False)


def listings_of(cache: ChecksumCache) -> Listings:
    """
    The directory listings *cache* keeps in memory for its next run on a tree.

    A kept cache object lists again only the directories whose own stat
    changed since its last run (git's untracked cache), with the racy-git
    rule applied to directories as to files: a directory modified within
    `RACY_MARGIN_NS` of its listing is listed again. The cache file holds
    none of it: a new object, or another process, lists every directory.
    """
    return cache._listings  # noqa: SLF001 - the cache's own


def verify_entries(
    cache: ChecksumCache, entries: Iterable[WalkEntry], algorithm: Algorithm
) -> tuple[str, ...]:
    """[`ChecksumCache.verify`][]'s loop: the paths of *entries* whose cached digest is wrong."""
    cached, _ = cache._tables(algorithm.name)  # noqa: SLF001 - the cache's own loop
    buffer = memoryview(bytearray(CHUNK))
    differ: list[str] = []
    for entry in entries:
        digest, st = read_digest(entry, algorithm, buffer)
        key = stat_key(st)
        known = cached.get(key)
        if known is not None and known != digest:
            differ.append(entry.path)
            cache.forget(algorithm.name, key)
    cache.save_if_changed()
    return tuple(differ)


def _read_regular(path: Path) -> bytes:
    """
    The bytes of the regular file at *path*; `OSError` if it is anything else.

    Opened with ``O_NONBLOCK``, so that a FIFO in its place cannot hang the
    open (a plain ``open`` for reading waits for a writer), and checked with
    ``fstat`` on the opened descriptor before anything is read, so that a
    FIFO, a device or a directory is refused rather than read from.
    ``O_NONBLOCK`` changes nothing for a regular file.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise OSError(errno.EINVAL, f"a {file_kind(mode)}, not a regular file", str(path))
        with os.fdopen(os.dup(fd), "rb") as file:
            return file.read()
    finally:
        os.close(fd)
