"""
[`checksum`][]: the digest of every file in a tree, read through the walker.

The walk ([`syncsafe.walker.walk`][syncsafe.walker.walk]) decides what is reachable and safe:
symlinks are followed while they stay inside the root, ``.git`` is pruned,
special files are skipped. Each file is then read through
[`open_fd`][syncsafe.walker.WalkEntry.open_fd], relative to the walker's open
descriptor of its directory, never by resolving its path again from the
root; that is both the safe way (no check-then-use gap) and the fast one.
A small file costs four system calls: open, fstat, one read, close
(`syncsafe.checksums._read`); with a
[`ChecksumCache`][syncsafe.checksums.ChecksumCache] holding it, one: its stat,
in the cache's own loop (`syncsafe.checksums._cache.hash_runs`), which
this module hands the walk's runs and what else decides the result.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from operator import methodcaller
from typing import TYPE_CHECKING, Any, Final, TypeAlias, cast, final

from pathspec import GitIgnoreSpec, PathSpec

from syncsafe.annotations import AnnotationKey
from syncsafe.checksums._algorithms import DEFAULT_ALGORITHM, Algorithm, get_algorithm
from syncsafe.checksums._cache import (
    ChecksumCache,
    StatKey,
    TreeMemo,
    hash_runs,
    listings_of,
    verify_entries,
)
from syncsafe.checksums._format import path_bytes
from syncsafe.checksums._location import relative_inside
from syncsafe.checksums._read import CHUNK, hash_stream, read_digest
from syncsafe.checksums._sourceignore import EXCLUDE, IgnorePattern, decide, read_patterns
from syncsafe.checksums._value import Checksum
from syncsafe.errors import UnsafePathError
from syncsafe.paths import open_inside
from syncsafe.walker import WalkEntry, WalkRun, remember, walk
from syncsafe.walker import stat_key as _stat_key

if TYPE_CHECKING:
    from syncsafe._fs import StrPath

__all__ = ["SOURCEIGNORE", "checksum", "hash_stream", "verify_cache"]

SOURCEIGNORE: Final = ".sourceignore"


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
    if type(spec) is _GitOnlySpec:  # it answers from the path alone: listings can be kept
        remember(entries, listings_of(cache))
    memo = cache.memo  # read once: another thread may replace it
    if memo is not None and memo.context != context:
        memo = None
    seen = _Seen(scoped, progress)
    hashed = hash_runs(cache, _runs(entries), algo, memo=memo, seen=seen)
    if memo is not None and hashed.memo_hit:  # every file as the memo has it: its result
        return cast("Checksum", memo.result)
    result = _result(algo, key, hashed.paths, hashed.digests, scoped)
    cache.memo = (
        TreeMemo(context, hashed.paths, hashed.keys, hashed.digests, result)
        if hashed.trusted
        else None
    )
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
    # Every file the walk reaches, even one a nested .sourceignore leaves out
    # of the result: a run hashes those too, so the cache may hold them.
    differ = verify_entries(cache, walk(base, exclude=spec), algo)
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
    """The paths and content digests of *entries*, every file read ([`read_digest`][])."""
    buffer = memoryview(bytearray(CHUNK))
    paths: list[str] = []
    digests: list[bytes] = []
    add_path, add_digest = paths.append, digests.append
    for entry in entries:
        rel = entry.path
        digest, st = read_digest(entry, algo, buffer)
        if rel.endswith(_NESTED_IGNORE):
            _scope(entry, rel, scoped)
        add_path(rel)
        add_digest(digest)
        if progress is not None:
            progress(rel, st.st_size)
    return paths, digests


_nested: Final = methodcaller("endswith", _NESTED_IGNORE)


@final
class _Seen:
    """
    What a cached run does with each run of files once hashed: progress, nested ``.sourceignore``.

    Called once per run (a directory's files), so a run without either costs
    one pass in C over its paths.
    """

    __slots__ = ("progress", "scoped")

    def __init__(self, scoped: _Scoped, progress: _Progress) -> None:
        self.scoped = scoped
        self.progress = progress

    def __call__(self, run: WalkRun, keys: Sequence[StatKey]) -> None:
        progress, paths = self.progress, run.paths
        if progress is None and not any(map(_nested, paths)):
            return
        for i, rel in enumerate(paths):
            if rel.endswith(_NESTED_IGNORE):
                _scope(run.entry(i), rel, self.scoped)
            if progress is not None:
                progress(rel, keys[i][2])


@final
class _EntryRun:
    """A run of one entry that offers only ``path``, ``stat`` and ``open()``, not the walker's."""

    __slots__ = ("_entry", "paths")

    def __init__(self, entry: WalkEntry) -> None:
        self._entry = entry
        self.paths = [entry.path]

    def stat_keys(self) -> list[StatKey]:
        """The entry's stat key, from its ``stat``."""
        return [_stat_key(self._entry.stat)]

    def entry(self, index: int) -> WalkEntry:
        """The entry itself."""
        return (self._entry,)[index]


def _runs(entries: Iterable[WalkEntry]) -> Iterator[WalkRun]:
    """The walk's runs ([`runs`][syncsafe.walker.walk]), or one run per entry of other entries."""
    runs = getattr(entries, "runs", None)
    if runs is not None:
        return cast("Iterator[WalkRun]", runs())
    return cast("Iterator[WalkRun]", map(_EntryRun, entries))


def _scope(entry: WalkEntry, rel: str, scoped: _Scoped) -> None:
    """Read a ``.sourceignore`` below the subtree's top: its patterns apply below its directory."""
    with entry.open() as file:
        data = file.read()
    directory = rel[: -len(_NESTED_IGNORE)]
    scoped[directory] = read_patterns(data, _components(directory))


def _parse_key(key: str | AnnotationKey) -> AnnotationKey:
    return key if isinstance(key, AnnotationKey) else AnnotationKey.parse(key)
