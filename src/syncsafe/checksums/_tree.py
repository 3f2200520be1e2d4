"""
[`checksum`][]: the digest of every file in a tree, read through the walker.

The walk ([`syncsafe.walker.walk`][syncsafe.walker.walk]) decides what is reachable and safe:
symlinks are followed while they stay inside the root, ``.git`` is pruned,
special files are skipped. Each file is then read through
[`open_fd`][syncsafe.walker.WalkEntry.open_fd], relative to the walker's open
descriptor of its directory, never by resolving its path again from the
root; that is both the safe way (no check-then-use gap) and the fast one.
A small file costs four system calls: open, fstat, one read, close; with
a [`ChecksumCache`][syncsafe.checksums.ChecksumCache] holding it, one: its stat.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterable, Iterator
from itertools import chain
from typing import TYPE_CHECKING, Any, Final, TypeAlias, cast, final

from pathspec import GitIgnoreSpec, PathSpec

from syncsafe.annotations import AnnotationKey
from syncsafe.checksums._algorithms import DEFAULT_ALGORITHM, Algorithm, get_algorithm
from syncsafe.checksums._cache import ChecksumCache, StatKey, TreeMemo
from syncsafe.checksums._format import path_bytes
from syncsafe.checksums._location import relative_inside
from syncsafe.checksums._sourceignore import EXCLUDE, IgnorePattern, decide, read_patterns
from syncsafe.checksums._value import Checksum
from syncsafe.errors import FileChangedWhileHashing, UnsafePathError
from syncsafe.paths import open_inside
from syncsafe.walker import WalkEntry, walk
from syncsafe.walker._entry import stat_key as _stat_key

if TYPE_CHECKING:
    from syncsafe._fs import StrPath

__all__ = ["SOURCEIGNORE", "checksum", "hash_stream", "verify_cache"]

SOURCEIGNORE: Final = ".sourceignore"
_CHUNK: Final = 1 << 20  # 1 MiB: large enough for full read speed, small enough to not matter


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


def _read_ignore(root: str, rel: str) -> bytes | None:
    """The bytes of the ``.sourceignore`` at *rel* inside *root*, or ``None`` if there is none."""
    try:
        with open_inside(root, rel) as file:
            return file.read()
    except FileNotFoundError:
        return None


def _components(path: str) -> tuple[bytes, ...]:
    """*path* (relative, POSIX) as the byte components Flux's matcher takes."""
    return tuple(path_bytes(path).split(b"/")) if path else ()


@final
class _GitOnlySpec(GitIgnoreSpec):
    """
    ``GitIgnoreSpec.from_lines([".git"])`` with a `match_file` that needs no regex.

    The walker asks the exclusion spec about every file; when ``.git`` is the
    only pattern (no ``.sourceignore``, no ``exclude``, the whole root), a
    component test answers exactly as the pattern does, at a fraction of the
    cost. ``tests/test_checksum_properties.py`` checks the two agree.
    """

    def __init__(self) -> None:
        super().__init__(GitIgnoreSpec.from_lines([".git"]).patterns)

    def match_file(self, file: StrPath, separators: object = None) -> bool:  # noqa: ARG002
        """Whether *file* is ``.git`` or inside one, at any depth."""
        path = file if type(file) is str else os.fspath(file)
        return ".git" in path and "/.git/" in f"/{path}/"  # the first test rules out most


@final
class _Exclusion(PathSpec[Any]):
    """
    What the walker leaves out: ``.git``, what is outside the subtree, *exclude*, ``.sourceignore``.

    Only ``match_file`` is used (the walker asks about each file, and about
    each directory with a trailing ``/`` before it lists it). The subtree is
    a comparison of path components, never a pattern built from its name: a
    name is any bytes but NUL and ``/``, and a pattern would read some of
    them (``*``, a trailing space or tab) as syntax. *given* (the caller's
    ``exclude``, gitignore syntax by ``pathspec``) decides first when one of
    its patterns matches; otherwise the ``.sourceignore`` files do, by
    Flux's rules (`_sourceignore`): those at the root and above the
    subtree, read before the walk, and the one in each directory the walk
    enters, read when it is asked about that directory, so before any file
    below it. A directory they exclude is entered all the same while any of
    them has a ``!`` pattern, since Flux asks about every file and a ``!``
    can bring one back from inside it.
    """

    def __init__(
        self, root: str, sub: str, patterns: list[IgnorePattern], given: PathSpec[Any] | None
    ) -> None:
        super().__init__([])
        self.root = root
        self.sub = sub
        self.ignore = patterns
        self.given = given
        self.prune = not any(p.inclusion for p in patterns)
        self.entered: set[str] = set()

    def fingerprint(self) -> tuple[object, ...]:
        """What the spec matches before the walk reads a file below the subtree, as a value."""
        given = () if self.given is None else _fingerprint(self.given)
        return (self.sub, tuple((p.source, p.domain) for p in self.ignore), given)

    def match_file(self, file: StrPath, separators: object = None) -> bool:  # noqa: ARG002
        """Whether the walker leaves *file* (a directory with a trailing ``/``) out."""
        path = file if type(file) is str else os.fspath(file)
        is_dir = path.endswith("/")
        bare = path[:-1] if is_dir else path
        if ".git" in bare and "/.git/" in f"/{bare}/":
            return True
        sub = self.sub
        below = not sub or bare == sub or bare.startswith(sub + "/")
        if not below and not sub.startswith(bare + "/"):
            return True
        excluded = None if self.given is None else self.given.check_file(path).include
        if excluded is None:
            excluded = (
                bool(self.ignore)
                and (not is_dir or self.prune)
                and decide(self.ignore, _components(bare), is_dir=is_dir) == EXCLUDE
            )
        if is_dir and below and not excluded:
            self._enter(bare)
        return excluded

    def _enter(self, directory: str) -> None:
        """Add the patterns of *directory*'s ``.sourceignore``, if it has one, for what is below."""
        if directory in self.entered:  # asked again: its patterns are where they belong already
            return
        self.entered.add(directory)
        rel = f"{directory}/{SOURCEIGNORE}"
        try:
            # Most directories have none: a plain lstat says so for a fraction
            # of what open_inside costs. It reads nothing, so it needs no
            # containment; what exists is then opened the safe way.
            os.lstat(os.path.join(self.root, rel))  # noqa: PTH118 - one call, str paths
            found = _read_ignore(self.root, rel)
        except (UnsafePathError, OSError):  # not a file to read: the walk reports what it is
            return
        if found:
            added = read_patterns(found, _components(directory))
            self.ignore = [*self.ignore, *added]
            self.prune = self.prune and not any(p.inclusion for p in added)


def _exclusions(
    root: str, sub: str, exclude: Iterable[str] | PathSpec[Any]
) -> tuple[PathSpec[Any], _Scoped]:
    """The walker's exclusion spec, and a table for the ``.sourceignore`` files below *sub*."""
    patterns = read_patterns(_read_ignore(root, SOURCEIGNORE) or b"")
    if sub:  # the .sourceignore files in the directories between the root and sub
        parts = sub.split("/")
        for depth in range(1, len(parts)):
            directory = "/".join(parts[:depth])
            found = _read_ignore(root, f"{directory}/{SOURCEIGNORE}")
            if found is not None:
                patterns += read_patterns(found, _components(directory))
    if isinstance(exclude, PathSpec):
        given: PathSpec[Any] | None = exclude
    else:
        if isinstance(exclude, str):
            msg = "exclude must be an iterable of patterns, not one string"
            raise TypeError(msg)
        lines = list(exclude)
        given = GitIgnoreSpec.from_lines(lines) if lines else None
    if not patterns and given is None and not sub:
        return _GitOnlySpec(), {}
    return _Exclusion(root, sub, patterns, given), {}


def _ignored(path: str, scoped: _Scoped) -> bool:
    """Whether a ``.sourceignore`` below the subtree's top excludes the file *path*."""
    nested = [p for _, found in sorted(scoped.items(), key=_depth) for p in found]
    return decide(nested, _components(path), is_dir=False) == EXCLUDE


def _depth(item: tuple[str, list[IgnorePattern]]) -> int:
    return item[0].count("/")


def checksum(
    path: StrPath,
    *,
    root: StrPath | None = None,
    annotation_key: str | AnnotationKey | None = None,
    algorithm: str = DEFAULT_ALGORITHM,
    exclude: Iterable[str] | PathSpec[Any] = (),
    cache: ChecksumCache | None = None,
    progress: Callable[[str, int], object] | None = None,
) -> Checksum:
    """
    The checksum of every file under *path*, as kustomize would read them.

    *root* (default: *path* itself) is the boundary: symlinks are followed
    while they resolve inside it, and one that leaves it, loops or dangles is
    an error ([`PathEscapeError`][syncsafe.errors.PathEscapeError] and its kin), never silently
    dropped: a file the checksum cannot see is a change it cannot see.
    Paths in the result are relative to *root*, POSIX, as reached (a file
    under a symlinked directory appears under the link's name).

    Included: every regular file, hidden ones too (``configMapGenerator``
    reads ``.env``). Excluded: ``.git`` (directory or file, at any depth),
    whatever the ``.sourceignore`` files at and below *root* exclude (each
    relative to its directory, read and matched by Flux's rules, which are
    not git's: see ``docs/reference/checksum-format.md``), and *exclude*:
    gitignore-style patterns matched against the path relative to *root*,
    which decide first where one matches. Executable bits and empty directories do not enter
    the digest: kustomize renders neither.

    *annotation_key*, when given, is validated and written into the header,
    so the same tree checked for another annotation has another digest.
    *algorithm* is ``"xxh3-128"`` (default), ``"xxh3-64"`` or ``"sha256"``.
    *cache* reuses digests of files whose ``stat`` has not changed (see
    [`ChecksumCache`][syncsafe.checksums.ChecksumCache]); it is saved at the end when entries were
    added. *progress*, if given, is called with each file's path and size after it
    is hashed.

    Unlike ``dirhash`` or a loop over ``os.walk``, it never follows a link
    out of *root*, and its digest does not depend on where the tree is.
    """
    algo = get_algorithm(algorithm)
    key = None if annotation_key is None else str(_parse_key(annotation_key))
    base = os.fspath(path if root is None else root)
    sub = "" if root is None else relative_inside(root, path)
    spec, scoped = _exclusions(base, sub, exclude)
    entries = walk(base, exclude=spec)
    if cache is None:
        paths, digests = _hash_all(entries, algo, scoped, progress)
        return _result(algo, key, paths, digests, scoped)
    # What else decides the result, besides the files walked: the memo of
    # the last run is only for a run that agrees on all of it.
    context = (base, sub, algo.name, key, _fingerprint(spec), _scoped_fingerprint(scoped))
    memo = cache.memo  # read once: another thread may replace it
    if memo is not None and memo.context != context:
        memo = None
    paths, digests, keys, trusted = _hash_cached(entries, algo, scoped, progress, cache, memo=memo)
    if memo is not None and keys is memo.keys:  # every file as the memo has it: its result
        return cast("Checksum", memo.result)
    result = _result(algo, key, paths, digests, scoped)
    cache.memo = TreeMemo(context, paths, keys, digests, result) if trusted else None
    return result


def verify_cache(
    cache: ChecksumCache,
    path: StrPath,
    *,
    root: StrPath | None = None,
    algorithm: str = DEFAULT_ALGORITHM,
    exclude: Iterable[str] | PathSpec[Any] = (),
) -> tuple[str, ...]:
    """[`ChecksumCache.verify`][]: every file read, compared with its cached digest."""
    algo = get_algorithm(algorithm)
    base = os.fspath(path if root is None else root)
    sub = "" if root is None else relative_inside(root, path)
    spec, _ = _exclusions(base, sub, exclude)
    cached, _ = cache.tables(algo.name)
    buffer = memoryview(bytearray(_CHUNK))
    differ: list[str] = []
    # Every file the walk reaches, even one a nested .sourceignore leaves out
    # of the result: a run hashes those too, so the cache may hold them.
    for entry in walk(base, exclude=spec):
        fd, st = entry.open_fd()
        try:
            digest = _hash_fd(fd, st.st_size, entry.path, algo, buffer)
        finally:
            os.close(fd)
        key = _stat_key(st)
        known = cached.get(key)
        if known is not None and known != digest:
            differ.append(entry.path)
            cache.forget(algo.name, key)
    cache.save_if_changed()
    return tuple(sorted(differ, key=path_bytes))


def _result(
    algo: Algorithm, key: str | None, paths: list[str], digests: list[bytes], scoped: _Scoped
) -> Checksum:
    if scoped:
        kept = [i for i, p in enumerate(paths) if not _ignored(p, scoped)]
        paths, digests = [paths[i] for i in kept], [digests[i] for i in kept]
    return Checksum.from_hashed(algo, key, paths, digests, kind="tree")


def _fingerprint(spec: PathSpec[Any]) -> tuple[object, ...]:
    """What a spec matches, as a value: each pattern's polarity and regular expression."""
    if isinstance(spec, _Exclusion):
        return spec.fingerprint()
    return tuple(
        (p.include, None if getattr(p, "regex", None) is None else p.regex.pattern)
        for p in spec.patterns
    )


def _scoped_fingerprint(scoped: _Scoped) -> tuple[tuple[str, object], ...]:
    return tuple((directory, tuple(p.source for p in found)) for directory, found in scoped.items())


_Scoped: TypeAlias = "dict[str, list[IgnorePattern]]"
_Progress: TypeAlias = "Callable[[str, int], object] | None"
_NESTED_IGNORE: Final = "/" + SOURCEIGNORE


def _hash_all(
    entries: Iterable[WalkEntry], algo: Algorithm, scoped: _Scoped, progress: _Progress
) -> tuple[list[str], list[bytes]]:
    """
    The paths and content digests of *entries*, every file read.

    This is the loop that runs once per file, so it does the least: one
    open ([`open_fd`][syncsafe.walker.WalkEntry.open_fd], whose ``fstat`` gives
    the size), and for a small file one `os.read` of size + 1 bytes:
    it returns exactly size bytes only if the file still ends where its
    ``fstat`` said, so growth is seen without another system call.
    """
    buffer = memoryview(bytearray(_CHUNK))
    paths: list[str] = []
    digests: list[bytes] = []
    add_path, add_digest = paths.append, digests.append
    oneshot, read, close = algo.oneshot, os.read, os.close
    for entry in entries:
        rel = entry.path
        try:
            open_fd = entry.open_fd
        except AttributeError:  # an entry that offers only stat and open()
            size = entry.stat.st_size
            digest = _hash_entry(entry, size, algo, buffer)
        else:
            fd, st = open_fd()
            try:
                size = st.st_size
                if size < _CHUNK and len(data := read(fd, size + 1)) == size:
                    digest = oneshot(data)  # _hash_fd's first case, inline
                else:  # large, or it changed since the fstat: stream it, or raise
                    if size < _CHUNK:
                        os.lseek(fd, 0, os.SEEK_SET)
                    with io.FileIO(fd, "rb", closefd=False) as file:
                        digest = hash_stream(file, size, rel, algo, buffer)
            finally:
                close(fd)
        if rel.endswith(_NESTED_IGNORE):
            _scope(entry, rel, scoped)
        add_path(rel)
        add_digest(digest)
        if progress is not None:
            progress(rel, size)
    return paths, digests


def _hash_cached(  # noqa: PLR0915 - one loop, inlined on purpose
    entries: Iterable[WalkEntry],
    algo: Algorithm,
    scoped: _Scoped,
    progress: _Progress,
    cache: ChecksumCache,
    *,
    memo: TreeMemo | None,
) -> tuple[list[str], list[bytes], list[StatKey], bool]:
    """
    `_hash_all` with *cache*: a file whose stat key is cached is not even opened.

    A hit costs one ``fstatat`` relative to the walker's directory
    descriptor, made here rather than through
    [`stat`][syncsafe.walker.WalkEntry.stat], whose checks against the listing
    (a regular file, the inode listed) cost half as much again as the call
    itself and are not needed for a lookup: a key is only ever recorded
    from the ``fstat`` of an opened regular file, so a name that became a
    link, a FIFO or a directory has a key that misses, and a miss is opened
    and checked as `_hash_all` does. A file renamed or linked over a
    listed name misses too, on Linux, where that moves its ctime; where it
    does not, it is a hit with that file's digest: what the name now holds.
    A miss is read as
    `_hash_all` reads it, and its digest recorded under the key of
    the ``fstat`` taken after the open, before the read: an edit after that
    moves the file's ctime, so the key never names other content (within
    one clock tick, the racy-git rule in
    [`ChecksumCache.record`][syncsafe.checksums.ChecksumCache.record] keeps it out).

    With the *memo* of the cache's last run on this tree (same root,
    algorithm, key and exclusions), each file is first compared with the
    memo's file at the same place in the walk: while path and stat key are
    the memo's, there is nothing to look up, and if every file is, the
    memo's own key list comes back, which the caller takes to mean "the
    memo's result". The first file that differs ends the comparison; the
    files before it take their digests from the memo, the rest are looked
    up.

    Returns the paths, their digests, their stat keys, and whether every
    one of those keys is now in the cache (a memo may be made of the run).
    """
    started = ChecksumCache.start()
    name = algo.name
    cached, live = cache.tables(name)
    buffer = memoryview(bytearray(_CHUNK))
    lookup = cached.get
    misses = 0
    trusted = True
    walked = iter(entries)
    rest: Iterable[WalkEntry] = walked
    paths: list[str] = []
    digests: list[bytes] = []
    keys: list[StatKey] = []
    if memo is not None:
        same, first = _follow(walked, memo, scoped, progress)
        if first is None and same == len(memo.keys):  # every file as the memo has it
            cache.hits += same
            return memo.paths, memo.digests, memo.keys, True
        paths, digests, keys = _memo_prefix(memo, same, live)
        if first is not None:  # stat-ed again below: one system call, once
            rest = chain((first,), walked)
    for entry in rest:
        rel = entry.path
        stat_key_now = _key_of(entry)
        size = stat_key_now[2]
        digest = lookup(stat_key_now)
        if digest is not None:
            live[stat_key_now] = digest
        else:
            misses += 1
            try:
                open_fd = entry.open_fd
            except AttributeError:  # an entry that offers only stat and open()
                digest = _hash_entry(entry, size, algo, buffer)
            else:
                fd, st = open_fd()
                try:
                    size = st.st_size
                    digest = _hash_fd(fd, size, rel, algo, buffer)
                finally:
                    os.close(fd)
                stat_key_now = _stat_key(st)
            cache.record(name, stat_key_now, digest, started)
            trusted = trusted and stat_key_now in cached
        if rel.endswith(_NESTED_IGNORE):
            _scope(entry, rel, scoped)
        paths.append(rel)
        digests.append(digest)
        keys.append(stat_key_now)
        if progress is not None:
            progress(rel, size)
    cache.hits += len(paths) - misses
    cache.misses += misses
    cache.save_if_changed()
    return paths, digests, keys, trusted


def _follow(
    entries: Iterator[WalkEntry], memo: TreeMemo, scoped: _Scoped, progress: _Progress
) -> tuple[int, WalkEntry | None]:
    """
    How many of *entries*, from the start, are the memo's files; and the first that is not.

    A file is the memo's if it has the path and the stat key of the memo's
    file at the same place in the walk. Nothing is looked up: this loop is
    what a run that finds nothing changed costs, a stat per file. The entry
    that differs is handed back unconsumed (``None`` if none did).
    """
    known_paths, known_keys = memo.paths, memo.keys
    count = len(known_keys)
    same = 0
    for entry in entries:
        rel = entry.path
        key = _key_of(entry)
        if same == count or rel != known_paths[same] or key != known_keys[same]:
            return same, entry
        same += 1
        if rel.endswith(_NESTED_IGNORE):
            _scope(entry, rel, scoped)
        if progress is not None:
            progress(rel, key[2])
    return same, None


def _memo_prefix(
    memo: TreeMemo, count: int, live: dict[StatKey, bytes]
) -> tuple[list[str], list[bytes], list[StatKey]]:
    """The memo's first *count* files (paths, digests, keys), kept live in the cache."""
    keys = memo.keys[:count]
    digests = memo.digests[:count]
    live.update(zip(keys, digests, strict=True))
    return memo.paths[:count], digests, keys


def _key_of(entry: WalkEntry) -> StatKey:
    """*entry*'s stat key now: [`stat_key`][syncsafe.walker.WalkEntry.stat_key], or its stat's."""
    try:
        key = entry.stat_key
    except AttributeError:  # an entry that offers only path, stat and open()
        return _stat_key(entry.stat)
    return key()


def _hash_fd(fd: int, size: int, rel: str, algo: Algorithm, buffer: memoryview) -> bytes:
    """
    The digest of the *size* bytes of the file open at *fd* (at offset 0), as `_hash_all`.

    A small file in one read of size + 1 bytes; a large one, or one whose
    read did not end at *size*, streamed from its start in chunks of
    ``len(buffer)`` (`hash_stream` raises if it changed).
    """
    if size < len(buffer):
        data = os.read(fd, size + 1)
        if len(data) == size:
            return algo.oneshot(data)
        os.lseek(fd, 0, os.SEEK_SET)
    with io.FileIO(fd, "rb", closefd=False) as file:
        return hash_stream(file, size, rel, algo, buffer)


def _hash_entry(entry: WalkEntry, size: int, algo: Algorithm, buffer: memoryview) -> bytes:
    """The digest of *entry* read through its ``open()``: for entries that offer nothing more."""
    with entry.open() as file:
        if size < len(buffer):
            # One read of size + 1 bytes, past the buffered layer: it returns
            # exactly size bytes only if the file still ends where its stat said.
            raw = cast("io.RawIOBase", getattr(file, "raw", file))
            if raw.readinto(buffer[: size + 1]) == size:
                return algo.oneshot(buffer[:size])
            file.seek(0)  # a short read, or the file changed: read it again, or raise
        return hash_stream(file, size, entry.path, algo, buffer)


def _scope(entry: WalkEntry, rel: str, scoped: _Scoped) -> None:
    """Read a ``.sourceignore`` below the subtree's top: its patterns apply below its directory."""
    with entry.open() as file:
        data = file.read()
    directory = rel[: -len(_NESTED_IGNORE)]
    scoped[directory] = read_patterns(data, _components(directory))


def _parse_key(key: str | AnnotationKey) -> AnnotationKey:
    return key if isinstance(key, AnnotationKey) else AnnotationKey.parse(key)
