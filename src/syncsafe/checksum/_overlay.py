"""
:func:`overlay_checksum`: the digest of exactly the files ``kustomize build`` reads.

Starting from the overlay's kustomization file, every reference is followed
the way kustomize follows it: a reference is relative to the *physical*
directory of the kustomization that makes it (kustomize evaluates symlinks
on directories, then joins and cleans the path), a directory reference is
another kustomization, and a reference that does not exist locally but looks
like a URL or a git reference is remote. The root is opened once; every
reference is resolved from the descriptor of the directory that makes it, by
the rules of :mod:`syncsafe.paths`, every file is opened relative to the
directory descriptor its resolution ended in, and a local chart is walked
from the descriptor of its directory: no path is looked up twice, so
nothing outside the root is ever read, even while directories are swapped
for symlinks. A file is named in the result by its physical path relative
to the root.
"""

from __future__ import annotations

import os
import posixpath
import re
from typing import TYPE_CHECKING, Final

from syncsafe._fs import Dir, Resolved, Root, identity, open_resolved, resolve_from
from syncsafe.annotations import AnnotationKey
from syncsafe.checksum._algorithms import DEFAULT_ALGORITHM, Algorithm, get_algorithm
from syncsafe.checksum._kustomize import (
    KUSTOMIZATION_NAMES,
    Chart,
    Kustomization,
    PluginConfigs,
    Reference,
    parse_kustomization,
    parse_plugin_configs,
)
from syncsafe.checksum._location import relative_inside
from syncsafe.checksum._tree import hash_stream
from syncsafe.checksum._value import Checksum
from syncsafe.errors import MalformedKustomization, RemoteReferenceRefused
from syncsafe.walk import _walk

if TYPE_CHECKING:
    from syncsafe._fs import StrPath

__all__ = ["overlay_checksum"]

# Certainly remote, whether or not a local path of that name exists.
_URL: Final = re.compile(r"^(?:[A-Za-z][A-Za-z0-9+.-]*://|git@|git::)")
# Remote when no such local path exists: kustomize tries the file system first.
_HOSTED: Final = re.compile(r"^(?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,}(?::\d+)?/")
_CHUNK: Final = 1 << 20


class _Closure:
    """
    The files and remotes reachable from one overlay, gathered once each.

    The root is opened once; every kustomization directory is kept as a
    :class:`~syncsafe._fs.Dir` (its identity recorded, its descriptor closed
    between uses and reopened by ``O_NOFOLLOW`` steps from its parent, checked
    to be the same directory); every reference is resolved from that node
    and every file opened relative to the directory descriptor the
    resolution ended in. No path string is walked again after a check, so a
    directory swapped for a symlink meanwhile is refused, never followed.
    """

    def __init__(self, root: Root, algorithm: Algorithm, *, allow_remote: bool) -> None:
        self.root = root
        self.algorithm = algorithm
        self.allow_remote = allow_remote
        self.files: dict[str, bytes] = {}
        self.remote: set[str] = set()
        self.directories: set[str] = set()
        self.parsed: dict[str, tuple[Dir, Kustomization]] = {}
        self.buffer = memoryview(bytearray(_CHUNK))

    def resolve(self, start: Dir, path: str, label: str) -> Resolved:
        """*path* resolved from directory *start*; the caller releases the result."""
        return resolve_from(self.root, start, path, label=label, strict=True, allow_absolute=False)

    def add_remote(self, kustomization: str, reference: str, reason: str | None = None) -> None:
        if not self.allow_remote:
            raise RemoteReferenceRefused(kustomization, reference, reason)
        self.remote.add(reference)

    def read(self, res: Resolved, label: str) -> tuple[bytes, os.stat_result]:
        """The whole content of the file *res* ends at, and its ``fstat``."""
        with os.fdopen(open_resolved(res, label), "rb") as file:
            return file.read(), os.fstat(file.fileno())

    def add_file(self, res: Resolved, label: str) -> None:
        rel = "/".join(res.names())
        if rel in self.files:
            return
        with os.fdopen(open_resolved(res, label), "rb") as file:
            size = os.fstat(file.fileno()).st_size
            self.files[rel] = hash_stream(file, size, rel, self.algorithm, self.buffer)

    def kustomization_files(self, node: Dir, rel: str) -> list[tuple[str, bytes]]:
        """The kustomization files in directory *node* (at *rel*), with their content."""
        found: list[tuple[str, bytes]] = []
        seen: set[tuple[int, int]] = set()
        for name in KUSTOMIZATION_NAMES:
            candidate = name if rel == "." else f"{rel}/{name}"
            try:
                at = self.resolve(node, name, candidate)
            except FileNotFoundError:
                continue
            try:
                data, stat = self.read(at, candidate)
            finally:
                at.release()
            if (stat.st_dev, stat.st_ino) in seen:  # one file, case-insensitive names
                continue
            seen.add((stat.st_dev, stat.st_ino))
            found.append((candidate, data))
        return found

    def directory(self, res: Resolved, referrer: tuple[str, Reference] | None) -> None:
        """Read the kustomization in the directory *res* resolved to, and follow it."""
        node = res.node
        rel = node.rel()
        try:
            if rel in self.directories:
                return
            self.directories.add(rel)
            if node.ident is None:  # so that reopening it later checks it is still this one
                node.ident = identity(node.fd)
            found = self.kustomization_files(node, rel)
        finally:
            res.release()  # reopened from its parent, and checked, when next needed
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
        self.parsed[rel] = (node, kustomization)
        self.named(node, path, kustomization, kustomization.chart_home)

    def named(
        self, directory: Dir, display: str, named: Kustomization | PluginConfigs, home: str
    ) -> None:
        """Follow what a kustomization, or a set of plugin configs it lists, names."""
        for reference in named.references:
            self.follow(directory, display, reference)
        for chart in named.charts:
            self.chart(directory, display, chart.home or home, chart)
        for plugin in named.unhashable:
            self.add_remote(display, plugin.reference, plugin.reason)

    def configs(self, directory: Dir, data: bytes, display: str) -> None:
        """The plugin configs in *data* (file *display*), listed by *directory*'s kustomization."""
        self.named(directory, display, parse_plugin_configs(data, display), "charts")

    def configs_made_by(self, listing: Dir, rel: str) -> None:
        """
        The plugin configs a kustomization directory (*rel*) in a plugin list makes.

        kustomize builds it and configures each resource as a plugin, with the
        loader of the kustomization that lists it: their paths are relative to
        *listing*. Its resource files, through its resource directories, are read.
        """
        pending, seen = [rel], {rel}
        while pending:
            node, kustomization = self.parsed[pending.pop()]
            for ref in kustomization.references:
                if ref.field != "resources" or _URL.match(ref.value):
                    continue
                value = posixpath.normpath(ref.value)
                label = posixpath.normpath(posixpath.join(node.rel(), ref.value))
                try:
                    res = self.resolve(node, value, label)
                except FileNotFoundError:
                    continue  # remote: listed already
                physical = "/".join(res.names())
                try:
                    if res.kind == "dir":
                        if physical not in seen and physical in self.parsed:
                            seen.add(physical)
                            pending.append(physical)
                        continue
                    data, _ = self.read(res, label)
                finally:
                    res.release()
                self.configs(listing, data, physical)

    def follow(self, directory: Dir, kustomization: str, ref: Reference) -> None:
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
        # kustomize joins and cleans the path lexically from the physical directory;
        # the resolution starts at that directory's node, whose parents are physical.
        clean = posixpath.normpath(value)
        base = directory.rel()
        label = posixpath.normpath(posixpath.join(base, value))
        try:
            res = self.resolve(directory, clean, label)
        except FileNotFoundError:
            if ref.kind != "file" and _HOSTED.match(value):
                self.add_remote(kustomization, value)
                return
            raise MalformedKustomization(
                kustomization,
                f"{ref.field}: {value} does not exist{_relative_to(directory, kustomization)}",
                ref.line,
                ref.column,
            ) from None
        if res.kind != "dir" and ref.kind == "plugin":
            physical = "/".join(res.names())
            try:
                data, _ = self.read(res, label)
            finally:
                res.release()
            self.files[physical] = self.algorithm.oneshot(data)
            self.configs(directory, data, physical)
        elif res.kind != "dir":
            try:
                self.add_file(res, label)
            finally:
                res.release()
        elif ref.kind != "file":
            physical = "/".join(res.names())
            self.directory(res, (kustomization, ref))
            if ref.kind == "plugin":
                self.configs_made_by(directory, physical)
        else:
            res.release()
            raise MalformedKustomization(
                kustomization,
                f"{ref.field}: {value} is a directory, a file is expected",
                ref.line,
                ref.column,
            )

    def chart(self, directory: Dir, kustomization: str, home: str, chart: Chart) -> None:
        """A helm chart: hashed when it is in the chart home, else remote (pulled)."""
        base = posixpath.normpath(posixpath.join(directory.rel(), home))
        candidates = [f"{home}/{chart.name}"]
        if chart.version:
            candidates.insert(0, f"{home}/{chart.name}-{chart.version}/{chart.name}")
        for candidate in candidates:
            label = posixpath.normpath(posixpath.join(directory.rel(), candidate))
            try:
                res = self.resolve(directory, posixpath.normpath(candidate), label)
            except FileNotFoundError:
                continue
            try:
                if res.kind != "dir":
                    continue
                # The walk's root is the directory just resolved, opened from its
                # descriptor: the name is not looked up again.
                below = Root.below(res.node)
                physical = "/".join(res.names())
            finally:
                res.release()
            for entry in _walk(below, None):
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


def _relative_to(directory: Dir, display: str) -> str:
    """For a path named by a plugin config file: the directory it is relative to."""
    rel = directory.rel()
    if posixpath.dirname(display) == ("" if rel == "." else rel):
        return ""
    return f" (relative to {directory.rel()}, whose kustomization lists this config)"


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
    transformer and validator configurations and the files each builtin
    plugin config names (inline configs too), and ``helmCharts`` values
    files and local charts, recursively (the reference's table lists every
    field). A README beside a base, or another
    overlay, is not in the result: editing it cannot change what is built.

    Every path is resolved inside *root* (symlinks followed while they stay
    inside, :class:`~syncsafe.PathEscapeError` otherwise) and named by its
    physical location relative to *root*, so two overlays that share a base
    name its files the same way.

    Remote references (URLs, ``github.com/org/repo//path?ref=v1``, helm
    charts pulled from a repository) cannot be hashed, nor can exec and
    container (KRM function) plugins: they are listed in ``.remote`` and
    enter the digest by name, or, with ``allow_remote=False``, raise
    :class:`~syncsafe.RemoteReferenceRefused` (with the reason).
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
    rel = relative_inside(root_s, overlay) or "."
    with Root(root_s) as opened:
        closure = _Closure(opened, algo, allow_remote=allow_remote)
        start = closure.resolve(opened.node, rel, rel)
        if start.kind != "dir":
            start.release()
            physical = "/".join(start.names())
            raise MalformedKustomization(
                physical, "an overlay is a directory with a kustomization file"
            )
        closure.directory(start, None)
    remote = tuple(sorted(closure.remote, key=str.encode))
    paths = list(closure.files)
    return Checksum.from_hashed(algo, key, paths, [closure.files[p] for p in paths], remote)
