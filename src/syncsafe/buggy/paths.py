"""
The incident's kustomize build checks: ``Build()`` and the "fixed" ``FixedBuild()``.

From the deployment-storm write-up ("Flux 2.5 Kustomize Fallback
Reproduction"). Both walk the work directory with Go's
``filepath.WalkDir`` — which never follows a symlink, so nothing behind a
symlinked directory is ever looked at — and inspect each symlink they meet:

- [`build`][syncsafe.buggy.paths.build] (``runKustomize``) rejects a link only when its text
  contains ``".."``. An absolute link (even ``filepath.Join(workDir, "..", "..",
  "etc", "secret")``, which ``Join`` has already cleaned to ``/etc/secret``)
  passes; a harmless ``a..b.yaml`` does not.
- [`fixed_build`][syncsafe.buggy.paths.fixed_build] (``runFixedKustomize``) computes
  ``filepath.Abs(filepath.Join(filepath.Dir(path), target))`` and checks
  ``strings.HasPrefix(absTarget, absWorkDir)``: a string prefix
  (``/repo-evil`` is "inside" ``/repo``), one hop only (a link whose target
  is itself a link, or passes through one, is judged by its text), lexical
  (``up/../x`` with ``up -> ..`` looks inside), ``Join`` turns an absolute
  target into a path under the link's directory; and the check runs before
  kustomize reads anything: check, then use.

Both return the manifest the build "generated" when they accept the tree and
raise [`BuildFailed`][syncsafe.buggy.paths.BuildFailed] when they reject it. Replaced by
[`syncsafe.walker.walk`][syncsafe.walker.walk] and
[`syncsafe.paths.open_inside`][syncsafe.paths.open_inside].
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator
from typing import Final

__all__ = ["MANIFEST", "BuildFailed", "build", "fixed_build"]

MANIFEST: Final = b"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n name: payment-svc\n"


class BuildFailed(RuntimeError):
    """The build rejected the tree (the Go code's ``fmt.Errorf("... failed: %w", err)``)."""


def go_clean(path: str) -> str:
    """Go's ``filepath.Clean`` on a POSIX path: purely lexical."""
    if not path:
        return "."
    rooted = path.startswith("/")
    out: list[str] = []
    for part in path.split("/"):
        if part in {"", "."}:
            continue
        if part == "..":
            if out and out[-1] != "..":
                out.pop()
            elif not rooted:
                out.append("..")
            continue
        out.append(part)
    cleaned = "/".join(out)
    if rooted:
        return "/" + cleaned
    return cleaned or "."


def go_join(*elems: str) -> str:
    """Go's ``filepath.Join``: the non-empty elements joined by ``/``, then cleaned."""
    kept = [e for e in elems if e]
    return go_clean("/".join(kept)) if kept else ""


def go_abs(path: str) -> str:
    """Go's ``filepath.Abs``: cleaned, joined to the working directory if relative."""
    if path.startswith("/"):
        return go_clean(path)
    return go_join(os.getcwd(), path)  # noqa: PTH109 - Go's os.Getwd


def _walk_dir(root: str) -> Iterator[tuple[str, os.stat_result]]:
    """
    Go's ``filepath.WalkDir``: lexical order, root first, symlinks reported, never followed.

    Go reads each directory sorted by name (``os.ReadDir``) and calls the
    function on every entry; a directory error ends the walk (``return err``).
    """
    st = os.lstat(root)
    stack: list[tuple[str, os.stat_result]] = [(root, st)]
    while stack:
        path, st = stack.pop()
        yield path, st
        if stat.S_ISDIR(st.st_mode):
            names = sorted(os.listdir(path), key=os.fsencode)  # noqa: PTH208 - Go's os.ReadDir
            children = [(go_join(path, n), os.lstat(go_join(path, n))) for n in names]
            stack.extend(reversed(children))


def _run(work_dir: str, check: Callable[[str, str], bool], prefix: str, failure: str) -> bytes:
    try:
        for path, st in _walk_dir(work_dir):
            if stat.S_ISLNK(st.st_mode):
                target = os.readlink(path)  # noqa: PTH115 - Go's os.Readlink
                if not check(path, target):
                    raise BuildFailed(f"{prefix}: {failure}")
    except OSError as exc:  # WalkDir hands the error to the callback, which returns it
        raise BuildFailed(f"{prefix}: {exc}") from exc
    return MANIFEST


def build(work_dir: str | os.PathLike[str]) -> bytes:
    """BUGGY: ``Build()`` — reject only a link whose text contains ``..``."""

    def check(_: str, target: str) -> bool:
        # BUG: Flux 2.5 did not validate symlink targets, allowing traversal
        return ".." not in target

    return _run(
        os.fspath(work_dir),
        check,
        "kustomize build failed",
        "malicious symlink detected (would trigger unintended build in buggy Flux)",
    )


def fixed_build(work_dir: str | os.PathLike[str]) -> bytes:
    """BUGGY: ``FixedBuild()`` — one lexical hop, then ``strings.HasPrefix``."""
    root = os.fspath(work_dir)

    def check(path: str, target: str) -> bool:
        go_dir = go_clean(os.path.dirname(path))  # noqa: PTH120 - Go's filepath.Dir
        abs_target = go_abs(go_join(go_dir, target))
        abs_work_dir = go_abs(root)
        # Ensure symlink target is within work dir
        return abs_target.startswith(abs_work_dir)

    return _run(
        root,
        check,
        "fixed kustomize build failed",
        "symlink target outside work dir, rejecting build",
    )
