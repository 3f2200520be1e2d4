"""
Which kustomizations does a change affect? The overlays whose closure holds a changed file.

A monorepo's CI wants to build and test only the overlays a change touches.
[`affected_overlays`][syncsafe.affected.affected_overlays] answers it from the same closure that
[`syncsafe.overlay_checksum`][syncsafe.checksums.overlay_checksum] hashes: every kustomization
directory in the repository is affected when the files a ``kustomize build`` of it reads
hold a changed path — in the work tree (the change applied) *or* in the base
revision's tree, so that an overlay that stopped reading a deleted or
renamed file is not missed.

- [`changed_paths`][syncsafe.affected.changed_paths]: what git reports between a base revision and
  ``HEAD``, plus the work tree and untracked files; a rename is both its old
  and its new path;
- [`revision_tree`][syncsafe.affected.revision_tree]: a revision's tree, materialised in a temporary
  directory (``git archive``) without touching the work tree;
- [`affected_overlays`][syncsafe.affected.affected_overlays]: the affected kustomization
  directories, each with the changed files it reads
  ([`AffectedOverlay`][syncsafe.affected.AffectedOverlay]).

Closures are computed with load restrictor ``none``: every file any
deploying tool could read, whether Argo CD's default would refuse it or not.
A changed symlink affects whatever is read through it: its target, resolved
in the tree it is in, counts as changed too. A kustomization whose closure
cannot be computed (a reference to a missing file, a link out of the
repository) is reported as affected with the error, never left out: an
answer that cannot be proven is not taken for "unaffected".

!!! note "Added in version 0.1.0"
"""

from __future__ import annotations

import os
import posixpath
import subprocess
import tarfile
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Literal, final

import attrs

from syncsafe._kustomization import KUSTOMIZATION_NAMES
from syncsafe.checksums import overlay_checksum
from syncsafe.errors import SyncsafeError, UnknownCommit

if TYPE_CHECKING:
    from syncsafe._fs import StrPath

__all__ = [
    "AffectedOverlay",
    "AffectedReason",
    "affected_overlays",
    "changed_paths",
    "kustomization_directories",
    "revision_tree",
]

Tree = Literal["head", "base"]
"""Which tree a closure was computed in: the work tree (``head``) or the base revision's."""


@final
@attrs.frozen
class AffectedReason:
    """
    Why an overlay is affected: in tree *at*, its closure reads *reads*, which *changed* is.

    ``changed`` is the changed path; ``reads`` equals it, or is a file read
    through ``changed`` when that is a symlink (or a directory given as a path).

    !!! note "Added in version 0.1.0"
    """

    changed: str
    reads: str
    at: Tree

    def __str__(self) -> str:
        through = "" if self.changed == self.reads else f" (through {self.changed})"
        return f"reads {self.reads}{through} at {self.at}"


@final
@attrs.frozen
class AffectedOverlay:
    """
    A kustomization directory (relative to the root) that a change affects, and why.

    ``reasons`` lists the changed files its closure reads, in the work tree
    and in the base tree; ``errors`` the closures that could not be computed
    (``"head: ..."``, ``"base: ..."``), which make it affected on their own.
    ``exists`` is false for a kustomization the change deleted.

    !!! note "Added in version 0.1.0"
    """

    path: str
    reasons: tuple[AffectedReason, ...]
    errors: tuple[str, ...] = ()
    exists: bool = True

    def to_dict(self) -> dict[str, object]:
        """The JSON form ``syncsafe affected --json`` prints for this overlay."""
        return {
            "path": self.path,
            "exists": self.exists,
            "reasons": [{"changed": r.changed, "reads": r.reads, "at": r.at} for r in self.reasons],
            "errors": list(self.errors),
        }


def _git(repo: StrPath, rev: str, *args: str, git: str) -> bytes:
    """``git -C repo ARGS``'s output; a failure is an [`UnknownCommit`][] naming *rev*."""
    result = subprocess.run(  # noqa: S603 - a fixed argv, no shell
        [git, "-C", os.fspath(repo), *args], capture_output=True, check=False
    )
    if result.returncode != 0:
        detail = result.stderr.decode(errors="replace").strip().splitlines() or ["git failed"]
        raise UnknownCommit(rev, os.fspath(repo), detail[0])
    return result.stdout


def _commit(repo: StrPath, rev: str, git: str) -> str:
    """The commit *rev* names in *repo* (``rev^{commit}``, never read as an option)."""
    args = ("rev-parse", "--verify", "--end-of-options", f"{rev}^{{commit}}")
    return _git(repo, rev, *args, git=git).decode().strip()


def _names(output: bytes) -> set[str]:
    return {os.fsdecode(name) for name in output.split(b"\0") if name}


def changed_paths(repo: StrPath, base: str = "HEAD", *, git: str = "git") -> frozenset[str]:
    """
    The paths (relative to *repo*'s top, POSIX) a change touches since *base*.

    The union of ``git diff BASE HEAD``, ``git diff HEAD`` (the index and the
    work tree) and the untracked files that ``.gitignore`` does not exclude.
    Renames are not detected (``--no-renames``), so a renamed file is both
    its old and its new path: ``git diff --name-only`` alone names only the
    new one, and an overlay that read the old one would be missed.

    :raises UnknownCommit: when *repo* is not a git work tree or *base* is no
        commit of it.
    """
    commit = _commit(repo, base, git)
    diff = ("diff", "--name-only", "--no-renames", "-z")
    found = _names(_git(repo, base, *diff, commit, "HEAD", "--", git=git))
    found |= _names(_git(repo, "HEAD", *diff, "HEAD", "--", git=git))
    found |= _names(_git(repo, "HEAD", "ls-files", "--others", "--exclude-standard", "-z", git=git))
    return frozenset(found)


@contextmanager
def revision_tree(repo: StrPath, rev: str, *, git: str = "git") -> Iterator[Path]:
    """
    *rev*'s tree, written by ``git archive`` into a temporary directory, removed on exit.

    Neither the work tree nor the index is touched, and nothing is added to
    the repository (unlike ``git worktree add``). Symlinks are kept as links.

    :raises UnknownCommit: when *rev* is no commit of *repo*.
    """
    commit = _commit(repo, rev, git)
    with tempfile.TemporaryDirectory(prefix="syncsafe-base-") as top:
        tree = Path(top, "tree")
        tree.mkdir()
        process = subprocess.Popen(  # noqa: S603 - a fixed argv, no shell
            [git, "-C", os.fspath(repo), "archive", "--format=tar", commit],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert process.stdout is not None  # noqa: S101 - Popen(stdout=PIPE) gives one
        with tarfile.open(fileobj=process.stdout, mode="r|") as archive:
            # The repository's own tree: links are kept as they are; overlay_checksum
            # confines every read to the tree. The "tar" filter, where it exists,
            # also drops set-uid bits and device files.
            if hasattr(tarfile, "tar_filter"):  # pragma: no branch - depends on the Python
                archive.extractall(tree, filter="tar")
            else:  # pragma: no cover - Python before 3.10.12 / 3.11.4
                archive.extractall(tree)  # noqa: S202
        _, err = process.communicate()
        if process.returncode != 0:
            detail = err.decode(errors="replace").strip().splitlines() or ["git archive failed"]
            raise UnknownCommit(rev, os.fspath(repo), detail[0])
        yield tree


def kustomization_directories(root: StrPath) -> list[str]:
    """
    Every directory under *root* that holds a kustomization file, relative, sorted.

    Physical directories only (symlinked directories are not entered: what
    they lead to is found where it is); ``.git`` is skipped.
    """
    top = os.fspath(root)
    found = []
    for directory, dirs, files in os.walk(top):
        dirs[:] = sorted(d for d in dirs if d != ".git")
        if any(name in files for name in KUSTOMIZATION_NAMES):
            rel = Path(directory).relative_to(top).as_posix()
            found.append(rel)
    return sorted(found, key=str.encode)


def _targets(tree: str, changed: Iterable[str]) -> dict[str, str]:
    """Changed path -> what to match a closure's files against in *tree*: itself or its target."""
    real = Path(tree).resolve()
    matches: dict[str, str] = {}
    for path in changed:
        full = Path(tree, path)
        if not full.is_symlink():
            continue
        target = full.resolve()
        if target.exists() and target.is_relative_to(real):
            matches[target.relative_to(real).as_posix()] = path
    return matches


def _reads(
    files: Iterable[str], changed: frozenset[str], links: dict[str, str]
) -> Iterator[tuple[str, str]]:
    """(changed path, file read) for each file at or under a changed path or a link's target."""
    prefixes = {p: p for p in changed} | links
    for file in files:
        parts = file.split("/")
        for i in range(len(parts), 0, -1):
            prefix = "/".join(parts[:i])
            if prefix in prefixes:
                yield prefixes[prefix], file
                break


def affected_overlays(
    root: StrPath,
    changed: Iterable[str],
    *,
    base_tree: StrPath | None = None,
) -> tuple[AffectedOverlay, ...]:
    """
    The kustomization directories under *root* whose closure holds a *changed* path.

    *changed* are paths relative to *root* (POSIX; a directory stands for
    everything under it). Each kustomization directory found in *root* or in
    *base_tree* (the base revision's tree, e.g. from
    [`revision_tree`][syncsafe.affected.revision_tree]) has its closure computed, as
    [`syncsafe.overlay_checksum`][syncsafe.checksums.overlay_checksum] does, in each tree where it
    exists; it is affected when either closure reads a changed path, or a file through a changed
    symlink, or when a closure cannot be computed. Sorted by path.
    """
    wanted = frozenset(posixpath.normpath(p).removeprefix("./") for p in changed)
    trees: dict[Tree, str] = {"head": os.fspath(root)}
    if base_tree is not None:
        trees["base"] = os.fspath(base_tree)
    found: dict[Tree, set[str]] = {at: set(kustomization_directories(t)) for at, t in trees.items()}
    links = {at: _targets(t, wanted) for at, t in trees.items()}
    result = []
    for directory in sorted(set().union(*found.values()), key=str.encode):
        reasons: list[AffectedReason] = []
        errors: list[str] = []
        for at, tree in trees.items():
            if directory not in found[at]:
                continue
            try:
                # Load restrictor none: every file kustomize could read, refused or not.
                closure = overlay_checksum(Path(tree, directory), root=tree, load_restrictor="none")
            except (SyncsafeError, OSError) as exc:
                errors.append(f"{at}: {exc}")
                continue
            reasons.extend(
                AffectedReason(change, read, at)
                for change, read in _reads(closure.files, wanted, links[at])
            )
        if reasons or errors:
            result.append(
                AffectedOverlay(
                    directory, tuple(reasons), tuple(errors), directory in found["head"]
                )
            )
    return tuple(result)
