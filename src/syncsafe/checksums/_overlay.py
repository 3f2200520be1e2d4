"""
[`overlay_checksum`][]: the digest of exactly the files ``kustomize build`` reads.

Starting from the overlay's kustomization file, every reference is followed
the way kustomize follows it: a reference is relative to the *physical*
directory of the kustomization that makes it (kustomize evaluates symlinks
on directories, then joins and cleans the path), a directory reference is
another kustomization, and a reference that does not exist locally but looks
like a URL or a git reference is remote. The root is opened once; every
reference is resolved from the descriptor of the directory that makes it, by
the rules of [`syncsafe.paths`][syncsafe.paths], every file is opened relative to the
directory descriptor its resolution ended in, and a local chart is walked
from the descriptor of its directory: no path is looked up twice, so
nothing outside the root is ever read, even while directories are swapped
for symlinks. A file is named in the result by its physical path relative
to the root.
"""

from __future__ import annotations

import errno
import os
import posixpath
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from stat import S_ISDIR
from typing import TYPE_CHECKING, Final, Literal, final

from syncsafe._fs import (
    DIR_FLAGS,
    Dir,
    Resolved,
    Root,
    identity,
    open_resolved,
    resolve_from,
)
from syncsafe._kustomization import (
    KUSTOMIZATION_NAMES,
    Chart,
    Kustomization,
    PluginConfigs,
    Reference,
    parse_kustomization,
    parse_plugin_configs,
)
from syncsafe.annotations import AnnotationKey
from syncsafe.checksums._algorithms import DEFAULT_ALGORITHM, Algorithm, get_algorithm
from syncsafe.checksums._location import relative_inside
from syncsafe.checksums._tree import hash_stream
from syncsafe.checksums._value import Checksum
from syncsafe.errors import MalformedKustomization, RemoteReferenceRefused, UnsafePathError
from syncsafe.walker import walk_root

if TYPE_CHECKING:
    from syncsafe._fs import StrPath

__all__ = ["GENERATE_MODES", "LOAD_RESTRICTORS", "Generate", "LoadRestrictor", "overlay_checksum"]

Generate = Literal["flux"]
"""How a directory without a kustomization file is built: ``"flux"``, as Flux does."""
GENERATE_MODES: Final[tuple[Generate, ...]] = ("flux",)
"""
The values of ``overlay_checksum(generate=...)`` other than ``None``.

``flux`` is Flux's kustomize-controller: an overlay directory with no
kustomization file is built from a kustomization generated from the
``.yaml`` and ``.yml`` files under it (see
[`overlay_checksum`][syncsafe.checksums.overlay_checksum]).
"""

LoadRestrictor = Literal["root-only", "none"]
"""kustomize's load restrictor: ``LoadRestrictionsRootOnly`` or ``LoadRestrictionsNone``."""
LOAD_RESTRICTORS: Final[tuple[LoadRestrictor, ...]] = ("root-only", "none")
"""
The values of ``overlay_checksum(load_restrictor=...)``, the default first.

``root-only`` is kustomize's ``LoadRestrictionsRootOnly`` (its default, and
Argo CD's); ``none`` is ``LoadRestrictionsNone`` (what Flux builds with).
"""

# Certainly remote, whether or not a local path of that name exists.
_URL: Final = re.compile(r"^(?:[A-Za-z][A-Za-z0-9+.-]*://|git@|git::)")
# Remote when no such local path exists: kustomize tries the file system first.
_HOSTED: Final = re.compile(r"^(?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,}(?::\d+)?/")
_CHUNK: Final = 1 << 20


@final
class _Frame:
    """A kustomization being followed: its directory and the steps left to take."""

    __slots__ = ("after", "rel", "steps")

    def __init__(self, rel: str, steps: Iterator[None], after: Callable[[], None] | None) -> None:
        self.rel = rel
        self.steps = steps
        self.after = after


class _Closure:
    """
    The files and remotes reachable from one overlay, gathered once each.

    The root is opened once; every kustomization directory is kept as a
    `Dir` (its identity recorded, its descriptor closed
    between uses and reopened by ``O_NOFOLLOW`` steps from its parent, checked
    to be the same directory); every reference is resolved from that node
    and every file opened relative to the directory descriptor the
    resolution ended in. No path string is walked again after a check, so a
    directory swapped for a symlink meanwhile is refused, never followed.

    The kustomizations being built form an explicit stack, not a recursion,
    so a chain of bases of any length is followed; a base that is, or
    contains, one on the stack is a cycle, as kustomize says.
    """

    def __init__(
        self,
        root: Root,
        algorithm: Algorithm,
        *,
        allow_remote: bool,
        root_only: bool = True,
        generate: Generate | None = None,
    ) -> None:
        self.root = root
        self.root_only = root_only
        self.generate = generate
        self.algorithm = algorithm
        self.allow_remote = allow_remote
        self.files: dict[str, bytes] = {}
        self.remote: set[str] = set()
        self.directories: set[str] = set()
        self.parsed: dict[str, tuple[Dir, Kustomization]] = {}
        self.stack: list[_Frame] = []
        self.buffer = memoryview(bytearray(_CHUNK))

    def run(self, start: Resolved) -> None:
        """Follow the overlay at *start* and everything it reaches."""
        self.enter(start, None, None)
        stack = self.stack
        while stack:
            frame = stack[-1]
            if next(frame.steps, _DONE) is _DONE:
                stack.pop()
                if frame.after is not None:
                    frame.after()

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

    def restrict(self, res: Resolved, directory: Dir, kustomization: str, ref: Reference) -> None:
        """
        Under ``root-only``, refuse a file whose physical place is not in or below *directory*.

        kustomize's ``LoadRestrictionsRootOnly`` (its default, and Argo CD's):
        every file it loads (resources, patches, generator inputs, values
        files, plugin configs) must resolve, links followed, in or below the
        directory of the kustomization that names it. Bases and components
        are kustomizations of their own and are not restricted; neither is a
        chart directory, which helm reads.
        """
        if not self.root_only:
            return
        rel = directory.rel()
        physical = "/".join(res.names())
        if rel == "." or physical.startswith(rel + "/"):
            return
        res.release()
        raise MalformedKustomization(
            kustomization,
            f"{ref.field}: security; file {ref.value} ({physical}) is not in or below {rel}: "
            "kustomize refuses it by default (load_restrictor='root-only'); "
            "Flux builds with 'none'",
            ref.line,
            ref.column,
        )

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
            except UnsafePathError as exc:
                raise exc.with_referrer(f"the kustomization file of {rel}") from None
            try:
                if at.kind == "dir":
                    raise MalformedKustomization(
                        candidate, "is a directory: a kustomization file must be a file"
                    )
                physical = "/".join(at.names())
                if self.root_only and rel != "." and not physical.startswith(rel + "/"):
                    raise MalformedKustomization(
                        candidate,
                        f"security; it is a link to {physical}, not in or below {rel}: "
                        "kustomize refuses it by default (load_restrictor='root-only')",
                    )
                try:
                    data, stat = self.read(at, candidate)
                except UnsafePathError as exc:
                    raise exc.with_referrer(f"the kustomization file of {rel}") from None
            finally:
                at.release()
            if (stat.st_dev, stat.st_ino) in seen:  # one file, case-insensitive names
                continue
            seen.add((stat.st_dev, stat.st_ino))
            found.append((candidate, data))
        return found

    def cycle(self, rel: str, referrer: tuple[str, Reference]) -> None:
        """Raise if directory *rel* is, or contains, a kustomization being built, as kustomize."""
        for frame in self.stack:
            built = frame.rel
            if rel in {".", built} or built.startswith(rel + "/"):
                chain = " -> ".join([*(f.rel for f in self.stack), rel])
                parent, ref = referrer
                what = "is" if rel == built else f"contains {built}, which is"
                raise MalformedKustomization(
                    parent,
                    f"{ref.field}: {ref.value}: cycle detected: {rel} {what} being built ({chain})",
                    ref.line,
                    ref.column,
                )

    def missing(self, rel: str, referrer: tuple[str, Reference] | None) -> MalformedKustomization:
        """The error for directory *rel*, which has no kustomization file."""
        where = "the overlay" if referrer is None else referrer[1].value
        problem = (
            f"{where} ({rel}) has no kustomization file: "
            f"expected one of {', '.join(KUSTOMIZATION_NAMES)}"
        )
        if referrer is None:
            if self.generate is None:
                problem += (
                    "; Flux builds such a directory from the manifests under it: "
                    "pass generate='flux' (--flux on the command line) to hash that"
                )
            return MalformedKustomization(rel, problem)
        parent, ref = referrer
        return MalformedKustomization(parent, problem, ref.line, ref.column)

    def enter(
        self,
        res: Resolved,
        referrer: tuple[str, Reference] | None,
        after: Callable[[], None] | None,
    ) -> None:
        """Read the kustomization in the directory *res* resolved to; push it to be followed."""
        node = res.node
        rel = node.rel()
        generated: tuple[str, Kustomization] | None = None
        try:
            if referrer is not None:
                self.cycle(rel, referrer)
            if rel in self.directories:
                found = None
            else:
                self.directories.add(rel)
                if node.ident is None:  # so that reopening it later checks it is the same
                    node.ident = identity(node.fd)
                found = self.kustomization_files(node, rel)
                if not found and referrer is None and self.generate == "flux":
                    generated = _flux_kustomization(node, rel)
        finally:
            res.release()  # reopened from its parent, and checked, when next needed
        if found is None:  # followed already
            if after is not None:
                after()
            return
        if not found and generated is not None:
            display, kustomization = generated
            self.parsed[rel] = (node, kustomization)
            steps = self.steps(node, display, kustomization, kustomization.chart_home)
            self.stack.append(_Frame(rel, steps, after))
            return
        if not found:
            raise self.missing(rel, referrer)
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
        steps = self.steps(node, path, kustomization, kustomization.chart_home)
        self.stack.append(_Frame(rel, steps, after))

    def steps(
        self, directory: Dir, display: str, named: Kustomization | PluginConfigs, home: str
    ) -> Iterator[None]:
        """Follow what a kustomization, or a set of plugin configs it lists, names, step by step."""
        for reference in named.references:
            self.follow(directory, display, reference)
            yield  # a base it entered is on the stack now: the loop follows it first
        for chart in named.charts:
            self.chart(directory, display, chart.home or home, chart)
        for plugin in named.unhashable:
            self.add_remote(display, plugin.reference, plugin.reason)

    def configs(self, directory: Dir, data: bytes, display: str) -> None:
        """The plugin configs in *data* (file *display*), listed by *directory*'s kustomization."""
        # configs name files and charts only, never a directory to enter
        for _ in self.steps(directory, display, parse_plugin_configs(data, display), "charts"):
            pass

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
        if "\0" in value:
            raise MalformedKustomization(
                kustomization, f"{ref.field}: {value!r} holds a NUL byte", ref.line, ref.column
            )
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
        where = _where(kustomization, ref)
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
        except UnsafePathError as exc:
            raise exc.with_referrer(where) from None
        except OSError as exc:  # a file used as a directory, a name too long: kustomize fails
            raise MalformedKustomization(
                kustomization,
                f"{ref.field}: {value} cannot be read: {exc.strerror or exc}",
                ref.line,
                ref.column,
            ) from None
        try:
            self.reached(res, directory, kustomization, ref, label)
        except UnsafePathError as exc:
            raise (exc if exc.referrer else exc.with_referrer(where)) from None

    def reached(
        self, res: Resolved, directory: Dir, kustomization: str, ref: Reference, label: str
    ) -> None:
        """Use what *ref* resolved to: hash a file, read configs, or enter a base."""
        if res.kind != "dir":
            self.restrict(res, directory, kustomization, ref)
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
            after = None
            if ref.kind == "plugin":

                def after() -> None:
                    self.configs_made_by(directory, physical)

            self.enter(res, (kustomization, ref), after)
        else:
            res.release()
            raise MalformedKustomization(
                kustomization,
                f"{ref.field}: {ref.value} is a directory, a file is expected",
                ref.line,
                ref.column,
            )

    def chart(  # noqa: C901 - one case per way a chart can be found or refused
        self, directory: Dir, kustomization: str, home: str, chart: Chart
    ) -> None:
        """A helm chart: hashed when it is in the chart home, else remote (pulled)."""
        where = f"{kustomization}:{chart.line} (helm chart {chart.name})"
        if "\0" in chart.name or "\0" in home:
            raise MalformedKustomization(
                kustomization, f"helm chart {chart.name!r}: a NUL byte in its path", chart.line
            )
        base = posixpath.normpath(posixpath.join(directory.rel(), home))
        candidates = [f"{home}/{chart.name}"]
        if chart.version:
            candidates.insert(0, f"{home}/{chart.name}-{chart.version}/{chart.name}")
        for candidate in candidates:
            label = posixpath.normpath(posixpath.join(directory.rel(), candidate))
            if posixpath.isabs(candidate):
                raise MalformedKustomization(
                    kustomization,
                    f"helm chart {chart.name}: {candidate} is absolute; a chart home must be "
                    "relative to the kustomization so that it stays inside the checkout",
                    chart.line,
                )
            try:
                res = self.resolve(directory, posixpath.normpath(candidate), label)
            except (FileNotFoundError, NotADirectoryError):
                continue
            except UnsafePathError as exc:
                raise exc.with_referrer(where) from None
            try:
                if res.kind != "dir":
                    continue
                # The walk's root is the directory just resolved, opened from its
                # descriptor: the name is not looked up again.
                below = Root.below(res.node)
                physical = "/".join(res.names())
            finally:
                res.release()
            try:
                for entry in walk_root(below, None):
                    rel = f"{physical}/{entry.path}"
                    with entry.open() as file:
                        digest = hash_stream(file, entry.size, rel, self.algorithm, self.buffer)
                    self.files[rel] = digest
            except UnsafePathError as exc:
                raise exc.with_referrer(where) from None
            return
        if chart.repo is None:
            raise MalformedKustomization(
                kustomization,
                f"helm chart {chart.name} is neither in {base} nor given a repo",
                chart.line,
            )
        version = f"@{chart.version}" if chart.version else ""
        self.add_remote(kustomization, f"helm:{chart.repo}#{chart.name}{version}")


_DONE: Final = object()
_MANIFEST_SUFFIXES: Final = (".yaml", ".yml")


def _has_kustomization_file(fd: int) -> bool:
    """Whether the directory open as *fd* holds a kustomization file (links followed)."""
    for name in KUSTOMIZATION_NAMES:
        try:
            st = os.stat(name, dir_fd=fd)
        except OSError:
            continue
        if not S_ISDIR(st.st_mode):
            return True
    return False


def _list_into(
    stack: list[tuple[int, str, Iterator[os.DirEntry[str]]]], fd: int, prefix: str
) -> None:
    """Push directory *fd* (at *prefix*) and its entries, in Go's (byte) order; it owns *fd*."""
    try:
        with os.scandir(fd) as listing:
            entries = sorted(listing, key=lambda e: os.fsencode(e.name))
    except BaseException:
        os.close(fd)
        raise
    stack.append((fd, prefix, iter(entries)))


def _open_below(fd: int, name: str, where: str) -> int:
    """Directory *name* in *fd*, not through a link (it was a directory when listed)."""
    try:
        return os.open(name, DIR_FLAGS, dir_fd=fd)
    except OSError as exc:
        raise UnsafePathError(where, "changed while in use (a directory moved)") from exc


def _flux_kustomization(node: Dir, rel: str) -> tuple[str, Kustomization]:
    """
    The kustomization Flux generates for directory *node* (at *rel*), which has none.

    Flux's kustomize-controller walks the directory in lexical order without
    following links to directories (Go's ``filepath.Walk``). A subdirectory
    with a kustomization file (``kustomization.yaml``, ``kustomization.yml``
    or ``Kustomization``, a link to a file counts) is listed as a resource and
    not entered; every other subdirectory is entered. A file (or a link) is
    listed when its name ends in ``.yaml`` or ``.yml`` (case-sensitive);
    hidden ones too. Flux then parses each listed file as Kubernetes objects
    and fails the build if one is not; that check is not made here: such a
    file is hashed all the same. ``.git`` is not entered: a Flux artifact
    never holds it.
    """
    display = "kustomization.yaml" if rel == "." else f"{rel}/kustomization.yaml"
    display += " (generated by Flux)"
    references: list[Reference] = []
    field = "resources"
    # one frame per directory being listed, as Go's recursion: a preorder walk
    stack: list[tuple[int, str, Iterator[os.DirEntry[str]]]] = []
    try:
        _list_into(stack, os.open(".", DIR_FLAGS, dir_fd=node.fd), "")
        while stack:
            fd, prefix, entries = stack[-1]
            entry = next(entries, None)
            if entry is None:
                stack.pop()
                os.close(fd)
                continue
            path = prefix + entry.name
            if entry.is_dir(follow_symlinks=False):
                if entry.name == ".git":
                    continue
                sub = _open_below(fd, entry.name, path if rel == "." else f"{rel}/{path}")
                if _has_kustomization_file(sub):
                    os.close(sub)
                    references.append(Reference("resource", f"./{path}", field, None, None))
                else:
                    _list_into(stack, sub, path + "/")
            elif entry.name.endswith(_MANIFEST_SUFFIXES):
                references.append(Reference("file", f"./{path}", field, None, None))
    finally:
        for fd, _, _ in stack:
            os.close(fd)
    return display, Kustomization(tuple(references), (), "charts")


def _where(kustomization: str, ref: Reference) -> str:
    """Where a reference is made, as an error names it: ``file:line:column (field: value)``."""
    at = kustomization
    if ref.line is not None:
        at += f":{ref.line}" + ("" if ref.column is None else f":{ref.column}")
    return f"{at} ({ref.field}: {ref.value})"


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
    load_restrictor: LoadRestrictor | None = None,
    generate: Generate | None = None,
) -> Checksum:
    """
    The checksum of exactly the files ``kustomize build overlay`` reads, inside *root*.

    *overlay* is the overlay's directory; a relative *overlay* is a path
    inside *root* (``overlay_checksum("apps/staging", root=repo)``), never
    resolved against the current directory.

    *load_restrictor* is kustomize's: ``"root-only"`` (kustomize's default,
    and Argo CD's) refuses, with a
    [`MalformedKustomization`][syncsafe.errors.MalformedKustomization] naming the file and the
    kustomization directory, a file that resolves outside the directory of the kustomization that
    names it; ``"none"`` (what Flux builds with) reads it. A checksum made with ``"none"`` names
    that mode in its header (``mode="load-restrictor=none"``), so it never
    compares equal to one of the default mode; the default's digest is the
    one it always had. ``None`` (the default) is ``"root-only"``, or
    ``"none"`` with ``generate="flux"``.

    *generate* ``"flux"`` hashes what Flux's kustomize-controller builds: an
    overlay directory with no kustomization file is built, as Flux builds
    it, from a kustomization generated from what is under it: every file
    whose name ends in ``.yaml`` or ``.yml`` (hidden ones too, links to
    files too), in every subdirectory except those that have a
    kustomization file of their own, which are listed as bases and not
    entered (links to directories are not entered either). Flux also builds
    with the load restrictor off, so this mode implies
    ``load_restrictor="none"`` unless one is given. The header names the
    mode (``mode="generate=flux,load-restrictor=none"``). Without it, an
    overlay directory with no kustomization file is a
    [`MalformedKustomization`][syncsafe.errors.MalformedKustomization] that says to pass
    ``generate="flux"``. Only the overlay itself is generated: a base
    without a kustomization file is an error in both modes, as it is for
    Flux.

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
    inside, [`PathEscapeError`][syncsafe.errors.PathEscapeError] otherwise) and named by its
    physical location relative to *root*, so two overlays that share a base
    name its files the same way.

    Remote references (URLs, ``github.com/org/repo//path?ref=v1``, helm
    charts pulled from a repository) cannot be hashed, nor can exec and
    container (KRM function) plugins: they are listed in ``.remote`` and
    enter the digest by name, or, with ``allow_remote=False``, raise
    [`RemoteReferenceRefused`][syncsafe.errors.RemoteReferenceRefused] (with the reason).
    A malformed kustomization raises
    [`MalformedKustomization`][syncsafe.errors.MalformedKustomization] naming the file and line; so
    does a reference to a file that does not exist or cannot be read as kustomize would (a file used
    as a directory, a NUL byte), a directory named like a kustomization file, and a cycle: a
    base that is, or contains, a kustomization being built, as kustomize
    reports it. A path-safety error ([`UnsafePathError`][syncsafe.errors.UnsafePathError] and
    its kinds) names, in its ``referrer``, the kustomization file, line and
    field that led to the path. Those are the only errors it raises for what
    the repository holds; a missing *overlay* or *root*, or a file the
    process may not read, is the `OSError` it is. Bases are followed
    with an explicit stack, so a chain of any length is.
    """
    algo = get_algorithm(algorithm)
    key = None
    if annotation_key is not None:
        key = str(
            annotation_key
            if isinstance(annotation_key, AnnotationKey)
            else AnnotationKey.parse(annotation_key)
        )
    if generate is not None and generate not in GENERATE_MODES:
        msg = f"generate must be None or one of {', '.join(GENERATE_MODES)}, not {generate!r}"
        raise ValueError(msg)
    if load_restrictor is None:
        load_restrictor = "none" if generate == "flux" else "root-only"
    if load_restrictor not in LOAD_RESTRICTORS:
        msg = (
            f"load_restrictor must be one of {', '.join(LOAD_RESTRICTORS)}, not {load_restrictor!r}"
        )
        raise ValueError(msg)
    root_s = os.fspath(root)
    if not Path(overlay).is_absolute():  # a path inside the root, wherever the process stands
        inside = os.path.join(root_s, overlay)  # noqa: PTH118 - lexical, as relative_inside
        if not os.path.lexists(inside) and os.path.lexists(overlay):
            # Only for the message: the caller most likely gave a path from here.
            problem = (
                f"the overlay is a path inside the root: {os.fspath(overlay)} is not in "
                f"{root_s} (give it relative to the root, or absolute)"
            )
            raise FileNotFoundError(errno.ENOENT, problem, os.fspath(overlay))
        overlay = inside
    rel = relative_inside(root_s, overlay) or "."
    root_only = load_restrictor == "root-only"
    with Root(root_s) as opened:
        closure = _Closure(
            opened, algo, allow_remote=allow_remote, root_only=root_only, generate=generate
        )
        start = closure.resolve(opened.node, rel, rel)
        if start.kind != "dir":
            start.release()
            physical = "/".join(start.names())
            raise MalformedKustomization(
                physical, "an overlay is a directory with a kustomization file"
            )
        closure.run(start)
    remote = tuple(sorted(closure.remote, key=str.encode))
    paths = list(closure.files)
    if generate is not None:
        mode: str | None = f"generate={generate},load-restrictor={load_restrictor}"
    else:
        mode = None if root_only else "load-restrictor=none"
    digests = [closure.files[p] for p in paths]
    return Checksum.from_hashed(algo, key, paths, digests, remote, mode=mode, kind="overlay")
