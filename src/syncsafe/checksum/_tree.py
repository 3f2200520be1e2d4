"""
:func:`checksum`: the digest of every file in a tree, read through the walker.

The walk (:func:`syncsafe.walk.walk`) decides what is reachable and safe:
symlinks are followed while they stay inside the root, ``.git`` is pruned,
special files are skipped. Each file is then read through
:meth:`~syncsafe.walk.WalkEntry.open`, relative to the walker's open
descriptor of its directory, never by resolving its path again from the
root; that is both the safe way (no check-then-use gap) and the fast one.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Final, cast, final

from pathspec import GitIgnoreSpec, PathSpec

from syncsafe.annotations import AnnotationKey
from syncsafe.checksum._algorithms import DEFAULT_ALGORITHM, Algorithm, get_algorithm
from syncsafe.checksum._cache import ChecksumCache, StatKey
from syncsafe.checksum._location import relative_inside
from syncsafe.checksum._value import Checksum
from syncsafe.errors import FileChangedWhileHashing
from syncsafe.paths import open_inside
from syncsafe.walk import walk

if TYPE_CHECKING:
    from syncsafe._fs import StrPath

__all__ = ["SOURCEIGNORE", "checksum", "hash_stream"]

SOURCEIGNORE: Final = ".sourceignore"
_CHUNK: Final = 1 << 20  # 1 MiB: large enough for full read speed, small enough to not matter


def hash_stream(
    file: object, size: int, path: str, algorithm: Algorithm, buffer: memoryview
) -> bytes:
    """
    The digest of *file*'s *size* bytes, read in chunks of ``len(buffer)``.

    Memory stays constant: the file is fed to the hash chunk by chunk, to
    its end. Raises :class:`~syncsafe.FileChangedWhileHashing` when that end
    is not at *size* bytes: the file changed since its size was taken.
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


def _escape(component: str) -> str:
    """*component* as a literal in a gitignore pattern."""
    out = "".join("\\" + c if c in "\\*?[" else c for c in component)
    return out[:-1] + "\\ " if out.endswith(" ") else out


def _only_below(sub: str) -> list[str]:
    """Patterns (gitignore syntax) that exclude everything but *sub* and what is under it."""
    lines: list[str] = []
    prefix = ""
    for component in sub.split("/"):
        lines.append(f"{prefix}/*")
        prefix += "/" + _escape(component)
        lines.append(f"!{prefix}")
    return lines


def _read_ignore(root: str, rel: str) -> list[str] | None:
    """The lines of the ``.sourceignore`` at *rel* inside *root*, or ``None`` if there is none."""
    try:
        with open_inside(root, rel) as file:
            return file.read().decode("utf-8", "surrogateescape").splitlines()
    except FileNotFoundError:
        return None


@final
class _GitOnlySpec(GitIgnoreSpec):
    """
    ``GitIgnoreSpec.from_lines([".git"])`` with a :meth:`match_file` that needs no regex.

    The walker asks the exclusion spec about every file; when ``.git`` is the
    only pattern (no ``.sourceignore``, no ``exclude``, the whole root), a
    component test answers exactly as the pattern does, at a fraction of the
    cost. ``tests/test_checksum_properties.py`` checks the two agree.
    """

    def __init__(self) -> None:
        super().__init__(GitIgnoreSpec.from_lines([".git"]).patterns)

    def match_file(self, file: StrPath, separators: object = None) -> bool:  # noqa: ARG002
        """Whether *file* is ``.git`` or inside one, at any depth."""
        return "/.git/" in f"/{os.fspath(file)}/"


def _exclusions(
    root: str, sub: str, exclude: Iterable[str] | PathSpec[Any]
) -> tuple[GitIgnoreSpec, dict[str, GitIgnoreSpec]]:
    """The walker's exclusion spec, and the ``.sourceignore`` specs scoped to directories."""
    lines = _read_ignore(root, SOURCEIGNORE) or []
    scoped: dict[str, GitIgnoreSpec] = {}
    if sub:  # the .sourceignore files in the directories between the root and sub
        parts = sub.split("/")
        for depth in range(1, len(parts)):
            directory = "/".join(parts[:depth])
            found = _read_ignore(root, f"{directory}/{SOURCEIGNORE}")
            if found is not None:
                scoped[directory] = GitIgnoreSpec.from_lines(found)
    if isinstance(exclude, PathSpec):
        given = list(exclude.patterns)
    else:
        if isinstance(exclude, str):
            msg = "exclude must be an iterable of patterns, not one string"
            raise TypeError(msg)
        given = list(GitIgnoreSpec.from_lines(list(exclude)).patterns)
    if not lines and not given and not sub:
        return _GitOnlySpec(), scoped
    # Last, so that no pattern above can re-include them: the subtree, and .git.
    tail = GitIgnoreSpec.from_lines([*(_only_below(sub) if sub else []), ".git"]).patterns
    patterns = [*GitIgnoreSpec.from_lines(lines).patterns, *given, *tail]
    return GitIgnoreSpec(patterns), scoped


def _ignored(path: str, scoped: dict[str, GitIgnoreSpec]) -> bool:
    """Whether a ``.sourceignore`` below the root excludes *path*."""
    for directory, spec in scoped.items():
        if path.startswith(directory + "/") and spec.match_file(path[len(directory) + 1 :]):
            return True
    return False


def checksum(  # noqa: C901, PLR0912, PLR0915 - the per-file loop, kept in one place for speed
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
    an error (:class:`~syncsafe.PathEscapeError` and its kin), never silently
    dropped: a file the checksum cannot see is a change it cannot see.
    Paths in the result are relative to *root*, POSIX, as reached (a file
    under a symlinked directory appears under the link's name).

    Included: every regular file, hidden ones too (``configMapGenerator``
    reads ``.env``). Excluded: ``.git`` (directory or file, at any depth),
    whatever the ``.sourceignore`` files at and below *root* exclude
    (gitignore syntax, each relative to its directory, as Flux reads them),
    and *exclude*: gitignore-style patterns matched against the path
    relative to *root*. Executable bits and empty directories do not enter
    the digest: kustomize renders neither.

    *annotation_key*, when given, is validated and written into the header,
    so the same tree checked for another annotation has another digest.
    *algorithm* is ``"xxh3-128"`` (default), ``"xxh3-64"`` or ``"sha256"``.
    *cache* reuses digests of files whose ``stat`` has not changed (see
    :class:`ChecksumCache`); it is saved at the end when entries were added.
    *progress*, if given, is called with each file's path and size after it
    is hashed.

    Unlike ``dirhash`` or a loop over ``os.walk``, it never follows a link
    out of *root*, and its digest does not depend on where the tree is.
    """
    algo = get_algorithm(algorithm)
    key = None if annotation_key is None else str(_parse_key(annotation_key))
    base = os.fspath(path if root is None else root)
    sub = "" if root is None else relative_inside(root, path)
    spec, scoped = _exclusions(base, sub, exclude)
    started = ChecksumCache.start()
    buffer = memoryview(bytearray(_CHUNK))
    chunk = _CHUNK
    oneshot = algo.oneshot
    name = algo.name
    paths: list[str] = []
    digests: list[bytes] = []
    cached: dict[StatKey, bytes] = {}
    live: dict[StatKey, bytes] = {}
    if cache is not None:
        cached, live = cache.tables(name)
    hits = 0
    # The loop below runs once per file: it touches each entry's stat once
    # and reads a small file with one readinto, straight into one buffer.
    for entry in walk(base, exclude=spec):
        rel = entry.path
        stat = entry.stat
        size = stat.st_size
        digest = None
        stat_key = None
        if cache is not None:
            stat_key = (
                stat.st_dev,
                stat.st_ino,
                size,
                stat.st_mtime_ns,
                stat.st_ctime_ns,
                stat.st_mode,
            )
            digest = cached.get(stat_key)
            if digest is not None:
                live[stat_key] = digest
                hits += 1
        if digest is None:
            with entry.open() as file:
                if size < chunk:
                    # One read of size + 1 bytes, past the buffered layer: it
                    # returns exactly size bytes only if the file still ends
                    # where its stat said, so growth is seen without a syscall.
                    raw = cast("io.RawIOBase", getattr(file, "raw", file))
                    if raw.readinto(buffer[: size + 1]) == size:
                        digest = oneshot(buffer[:size])
                    else:  # a short read, or the file changed: read it again, or raise
                        file.seek(0)
                        digest = hash_stream(file, size, rel, algo, buffer)
                else:
                    digest = hash_stream(file, size, rel, algo, buffer)
            if stat_key is not None:
                cache.record(name, stat_key, digest, started)  # type: ignore[union-attr]
        if rel.endswith(SOURCEIGNORE) and rel != SOURCEIGNORE and rel.endswith("/" + SOURCEIGNORE):
            # Its patterns apply to its own directory's subtree: applied after the walk.
            with entry.open() as file:
                lines = file.read().decode("utf-8", "surrogateescape").splitlines()
            scoped[rel[: -len(SOURCEIGNORE) - 1]] = GitIgnoreSpec.from_lines(lines)
        paths.append(rel)
        digests.append(digest)
        if progress is not None:
            progress(rel, size)
    if cache is not None:
        cache.hits += hits
        cache.misses += len(paths) - hits
        cache.save_if_changed()
    if scoped:
        kept = [i for i, p in enumerate(paths) if not _ignored(p, scoped)]
        paths, digests = [paths[i] for i in kept], [digests[i] for i in kept]
    return Checksum.from_hashed(algo, key, paths, digests)


def _parse_key(key: str | AnnotationKey) -> AnnotationKey:
    return key if isinstance(key, AnnotationKey) else AnnotationKey.parse(key)
