"""``syncsafe affected``: the kustomizations whose closure holds a changed file."""

from __future__ import annotations

import argparse
import errno
import json
import os
import subprocess
import sys
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

from syncsafe._cli import add_command
from syncsafe._cli._errors import CommandError
from syncsafe._cli._quote import quote
from syncsafe._fs import name_inside
from syncsafe.affected import AffectedOverlay, affected_overlays, changed_paths, revision_tree
from syncsafe.errors import UnknownCommit

__all__ = ["register", "run"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``syncsafe affected`` to *subparsers*."""
    parser = add_command(
        subparsers,
        "affected",
        help="list the kustomizations a change affects (for CI: build only those)",
        description=(
            "Print every kustomization directory under ROOT whose closure (the files "
            "'kustomize build' of it reads, as 'syncsafe checksum --overlay' hashes them) "
            "holds a changed file, in the work tree or at BASE, with the changed files it "
            "reads. Changed: what git reports between BASE and HEAD, plus the index, the "
            "work tree and untracked files (a rename is its old and its new path); or the "
            "PATHs given; or, with '-', one path per line on stdin, relative to ROOT as git "
            "prints them. A kustomization whose closure cannot be computed is listed with "
            "the error. Exit status: 0 none affected, 1 some affected, 2 an error."
        ),
        example="syncsafe affected --base origin/main --json > affected.json",
    )
    parser.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help="changed files or directories (relative to .), or - for a list on stdin",
    )
    parser.add_argument(
        "--base",
        metavar="REV",
        help="the revision the change is measured from (default: HEAD, the last commit)",
    )
    parser.add_argument(
        "--root",
        metavar="ROOT",
        help="the repository (default: the git work tree around the current directory)",
    )
    parser.add_argument("--json", action="store_true", help="print the answer as JSON")
    parser.set_defaults(run=run)


def _toplevel(directory: str) -> str | None:
    """The git work tree *directory* is in, or ``None``."""
    result = subprocess.run(  # noqa: S603 - a fixed argv, no shell
        ["git", "-C", directory, "rev-parse", "--show-toplevel"],  # noqa: S607 - git from PATH
        capture_output=True,
        text=True,
        check=False,
    )
    return result.stdout.strip() if result.returncode == 0 else None


def _require_directory(path: str) -> None:
    if not Path(path).is_dir():
        code = errno.ENOTDIR if Path(path).exists() else errno.ENOENT
        raise OSError(code, os.strerror(code), path)


def _given(args: argparse.Namespace, root: str) -> list[str]:
    paths: list[str] = []
    for path in args.paths:
        if path == "-":
            paths.extend(line.rstrip("\n") for line in sys.stdin if line.strip())
        else:
            paths.append(name_inside(root, path))
    return paths


def _line(overlay: AffectedOverlay) -> str:
    trees: dict[tuple[str, str], list[str]] = {}
    for reason in overlay.reasons:
        trees.setdefault((reason.changed, reason.reads), []).append(reason.at)
    parts = []
    for (changed, reads), at in trees.items():
        through = "" if changed == reads else f" through {quote(changed)}"
        parts.append(f"reads {quote(reads)}{through} ({', '.join(at)})")
    parts.extend(f"closure unknown at {error}" for error in overlay.errors)
    deleted = "" if overlay.exists else " (deleted)"
    return f"{quote(overlay.path)}{deleted}: " + "; ".join(parts)


def run(args: argparse.Namespace) -> int:
    """Print the affected kustomizations; 1 when there are some."""
    try:
        return _run(args)
    except UnknownCommit as exc:
        msg = (
            f"--base {quote(exc.digest)} is not a commit of the repository at "
            f"{quote(exc.repo)}: fetch it, or give another --base"
        )
        raise CommandError(
            msg, "UnknownCommit", argument="--base", commit=exc.digest, repo=exc.repo
        ) from None


def _run(args: argparse.Namespace) -> int:
    if args.root is not None:
        _require_directory(args.root)
    top = _toplevel(args.root or ".")
    root = args.root or top
    if root is None:
        msg = "the current directory is not in a git work tree: give --root and the changed PATHs"
        raise CommandError(msg, "UsageError", argument="--root")
    if top is None and (args.base is not None or not args.paths):
        msg = f"--root {quote(root)} is not a git work tree: give the changed PATHs, without --base"
        raise CommandError(msg, "UsageError", argument="--root", path=root)
    base = args.base or "HEAD"
    changed = _given(args, root) if args.paths else None
    # git names paths from the top of the work tree; ROOT may be below it.
    prefix = (
        ""
        if top is None
        else Path(os.path.realpath(root)).relative_to(os.path.realpath(top)).as_posix()
    )
    if changed is None:
        assert top is not None  # noqa: S101 - checked above
        under = "" if prefix == "." else prefix + "/"
        changed = [p.removeprefix(under) for p in changed_paths(top, base) if p.startswith(under)]
    tree: AbstractContextManager[Path | None] = (
        nullcontext(None) if top is None else revision_tree(top, base)
    )
    with tree as base_top:
        base_root = None if base_top is None else base_top / prefix
        if base_root is not None and not base_root.is_dir():  # ROOT did not exist at BASE
            base_root = None
        affected = affected_overlays(root, changed, base_tree=base_root)
    if args.json:
        document = {
            "root": str(root),
            "base": None if top is None else base,
            "changed": sorted(changed, key=str.encode),
            "affected": [overlay.to_dict() for overlay in affected],
        }
        print(json.dumps(document, indent=2))
    else:
        for overlay in affected:
            print(_line(overlay))
    return 1 if affected else 0
