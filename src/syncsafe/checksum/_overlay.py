"""
:func:`overlay_checksum`: the digest of exactly the files ``kustomize build`` reads.

Starting from the overlay's kustomization file, every reference is followed
the way kustomize follows it: a reference is relative to the *physical*
directory of the kustomization that makes it (kustomize evaluates symlinks
on directories, then joins and cleans the path), a directory reference is
another kustomization, and a reference that does not exist locally but looks
like a URL or a git reference is remote. Every file is resolved and opened
with :func:`syncsafe.paths.resolve` and :func:`syncsafe.paths.open_inside`,
so nothing outside the root is ever read, and is named in the result by its
physical path relative to the root.
"""

from __future__ import annotations

import os
import posixpath
import re
from pathlib import Path
from typing import TYPE_CHECKING, Final

from syncsafe.annotations import AnnotationKey
from syncsafe.checksum._algorithms import DEFAULT_ALGORITHM, Algorithm, get_algorithm
from syncsafe.checksum._kustomize import (
    KUSTOMIZATION_NAMES,
    Chart,
    Reference,
    parse_kustomization,
)
from syncsafe.checksum._location import relative_inside
from syncsafe.checksum._tree import hash_stream
from syncsafe.checksum._value import Checksum
from syncsafe.errors import MalformedKustomization, RemoteReferenceRefused
from syncsafe.paths import open_inside, resolve
from syncsafe.walk import walk

if TYPE_CHECKING:
    from syncsafe._fs import StrPath

__all__ = ["overlay_checksum"]

# Certainly remote, whether or not a local path of that name exists.
_URL: Final = re.compile(r"^(?:[A-Za-z][A-Za-z0-9+.-]*://|git@|git::)")
# Remote when no such local path exists: kustomize tries the file system first.
_HOSTED: Final = re.compile(r"^(?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,}(?::\d+)?/")
_CHUNK: Final = 1 << 20


class _Closure:
    """The files and remotes reachable from one overlay, gathered once each."""

    def __init__(self, root: str, algorithm: Algorithm, *, allow_remote: bool) -> None:
        self.root = root
        self.real_root = Path(os.path.realpath(root))
        self.algorithm = algorithm
        self.allow_remote = allow_remote
        self.files: dict[str, bytes] = {}
        self.remote: set[str] = set()
        self.directories: set[str] = set()
        self.buffer = memoryview(bytearray(_CHUNK))

    def physical(self, rel: str) -> tuple[str, bool]:
        """*rel* resolved inside the root: its physical relative path and whether it is a dir."""
        resolved = resolve(self.root, rel)
        relative = resolved.relative_to(self.real_root).as_posix()
        return relative, resolved.is_dir()

    def add_remote(self, kustomization: str, reference: str) -> None:
        if not self.allow_remote:
            raise RemoteReferenceRefused(kustomization, reference)
        self.remote.add(reference)

    def add_file(self, rel: str) -> None:
        if rel in self.files:
            return
        with open_inside(self.root, rel) as file:
            size = os.fstat(file.fileno()).st_size
            self.files[rel] = hash_stream(file, size, rel, self.algorithm, self.buffer)

    def directory(self, rel: str, referrer: tuple[str, Reference] | None) -> None:
        """Read the kustomization in directory *rel* (physical) and follow it."""
        if rel in self.directories:
            return
        self.directories.add(rel)
        found: list[tuple[str, bytes]] = []
        seen: set[tuple[int, int]] = set()
        for name in KUSTOMIZATION_NAMES:
            candidate = name if rel == "." else f"{rel}/{name}"
            try:
                file = open_inside(self.root, candidate)
            except FileNotFoundError:
                continue
            with file:
                stat = os.fstat(file.fileno())
                if (stat.st_dev, stat.st_ino) in seen:  # one file, case-insensitive names
                    continue
                seen.add((stat.st_dev, stat.st_ino))
                found.append((candidate, file.read()))
        if not found:
            where = "the overlay" if referrer is None else referrer[1].value
            problem = (
                f"{where} ({rel}) has no kustomization file: "
                f"expected one of {', '.join(KUSTOMIZATION_NAMES)}"
            )
            if referrer is None:
                raise MalformedKustomization(rel, problem)
            parent, ref = referrer
            raise MalformedKustomization(parent, problem, ref.line, ref.column)
        if len(found) > 1:
            names = ", ".join(path for path, _ in found)
            raise MalformedKustomization(
                found[0][0],
                f"kustomize refuses a directory with several kustomization files: {names}",
            )
        path, data = found[0]
        self.files[path] = self.algorithm.oneshot(data)
        kustomization = parse_kustomization(data, path)
        for reference in kustomization.references:
            self.follow(rel, path, reference)
        for chart in kustomization.charts:
            self.chart(rel, path, kustomization.chart_home, chart)

    def follow(self, directory: str, kustomization: str, ref: Reference) -> None:
        """One reference made by *kustomization*, whose physical directory is *directory*."""
        value = ref.value
        if _URL.match(value):
            self.add_remote(kustomization, value)
            return
        if posixpath.isabs(value):
            raise MalformedKustomization(
                kustomization,
                f"{ref.field}: {value} is absolute; a reference must be relative to "
                "the kustomization so that it stays inside the checkout",
                ref.line,
                ref.column,
            )
        # kustomize joins and cleans the path lexically from the physical directory.
        target = posixpath.normpath(posixpath.join(directory, value))
        try:
            physical, is_dir = self.physical(target)
        except FileNotFoundError:
            if ref.kind == "resource" and _HOSTED.match(value):
                self.add_remote(kustomization, value)
                return
            raise MalformedKustomization(
                kustomization, f"{ref.field}: {value} does not exist", ref.line, ref.column
            ) from None
        if not is_dir:
            self.add_file(physical)
        elif ref.kind == "resource":
            self.directory(physical, (kustomization, ref))
        else:
            raise MalformedKustomization(
                kustomization,
                f"{ref.field}: {value} is a directory, a file is expected",
                ref.line,
                ref.column,
            )

    def chart(self, directory: str, kustomization: str, home: str, chart: Chart) -> None:
        """A helm chart: hashed when it is in the chart home, else remote (pulled)."""
        base = posixpath.normpath(posixpath.join(directory, home))
        candidates = [f"{base}/{chart.name}"]
        if chart.version:
            candidates.insert(0, f"{base}/{chart.name}-{chart.version}/{chart.name}")
        for candidate in candidates:
            try:
                physical, is_dir = self.physical(candidate)
            except FileNotFoundError:
                continue
            if is_dir:
                for entry in walk(self.real_root / physical):
                    rel = f"{physical}/{entry.path}"
                    with entry.open() as file:
                        digest = hash_stream(file, entry.size, rel, self.algorithm, self.buffer)
                    self.files[rel] = digest
                return
        if chart.repo is None:
            raise MalformedKustomization(
                kustomization,
                f"helm chart {chart.name} is neither in {base} nor given a repo",
                chart.line,
            )
        version = f"@{chart.version}" if chart.version else ""
        self.add_remote(kustomization, f"helm:{chart.repo}#{chart.name}{version}")


def overlay_checksum(
    overlay: StrPath,
    *,
    root: StrPath,
    annotation_key: str | AnnotationKey | None = None,
    algorithm: str = DEFAULT_ALGORITHM,
    allow_remote: bool = True,
) -> Checksum:
    """
    The checksum of exactly the files ``kustomize build overlay`` reads, inside *root*.

    The overlay's kustomization file (``kustomization.yaml``,
    ``kustomization.yml`` or ``Kustomization``) is followed through
    ``resources``, ``bases``, ``components``, patches of every kind,
    generator inputs (``files``, including ``key=path``, ``envs``, ``env``),
    ``replacements``, ``openapi``, ``crds``, ``configurations``, generator,
    transformer and validator configurations, and ``helmCharts`` values
    files and local charts, recursively. A README beside a base, or another
    overlay, is not in the result: editing it cannot change what is built.

    Every path is resolved inside *root* (symlinks followed while they stay
    inside, :class:`~syncsafe.PathEscapeError` otherwise) and named by its
    physical location relative to *root*, so two overlays that share a base
    name its files the same way.

    Remote references (URLs, ``github.com/org/repo//path?ref=v1``, helm
    charts pulled from a repository) cannot be hashed: they are listed in
    ``.remote`` and enter the digest by name, or, with
    ``allow_remote=False``, raise :class:`~syncsafe.RemoteReferenceRefused`.
    A malformed kustomization raises :class:`~syncsafe.MalformedKustomization`
    naming the file and line; so does a reference to a file that does not exist.
    """
    algo = get_algorithm(algorithm)
    key = None
    if annotation_key is not None:
        key = str(
            annotation_key
            if isinstance(annotation_key, AnnotationKey)
            else AnnotationKey.parse(annotation_key)
        )
    root_s = os.fspath(root)
    closure = _Closure(root_s, algo, allow_remote=allow_remote)
    start, is_dir = closure.physical(relative_inside(root_s, overlay) or ".")
    if not is_dir:
        raise MalformedKustomization(start, "an overlay is a directory with a kustomization file")
    closure.directory(start, None)
    remote = tuple(sorted(closure.remote, key=str.encode))
    paths = list(closure.files)
    return Checksum.from_hashed(algo, key, paths, [closure.files[p] for p in paths], remote)
