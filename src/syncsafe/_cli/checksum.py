"""``syncsafe checksum``: the digest of a tree or of what a kustomize overlay reads."""

from __future__ import annotations

import argparse
import errno
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from syncsafe._cli import add_command, writing_to
from syncsafe._cli._json import add_exclude
from syncsafe.checksum import (
    CHECKSUM_ALGORITHMS,
    LOAD_RESTRICTORS,
    Checksum,
    ChecksumCache,
    checksum,
    overlay_checksum,
)

__all__ = ["register", "write_atomically"]

_PROGRESS_DELAY = 0.5  # seconds: a quick run never shows a bar


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``syncsafe checksum`` to *subparsers*."""
    parser = add_command(
        subparsers,
        "checksum",
        help="print the canonical checksum of a tree or a kustomize overlay",
        description=(
            "Hash every file under PATH (or, with --overlay, exactly the files "
            "'kustomize build PATH' reads), following symlinks only while they stay "
            "inside ROOT, and print the digest. Hidden files count; .git and "
            ".sourceignore patterns do not. The digest does not depend on where the "
            "checkout is. A progress bar appears on stderr for long runs at a terminal."
        ),
        example=(
            "syncsafe checksum overlays/prod/east --root . --overlay "
            "--annotation-key fluxcd.io/checksum --manifest east.json"
        ),
    )
    parser.add_argument("path", metavar="PATH", help="the tree or overlay directory")
    parser.add_argument(
        "--root",
        metavar="ROOT",
        help=(
            "the boundary symlinks may not leave (default: PATH; with --overlay, "
            "the git work tree PATH is in)"
        ),
    )
    parser.add_argument(
        "--overlay",
        action="store_true",
        help="hash only what a kustomize build of PATH reads",
    )
    parser.add_argument(
        "--load-restrictor",
        choices=LOAD_RESTRICTORS,
        default=LOAD_RESTRICTORS[0],
        help=(
            "with --overlay: kustomize's load restrictor; root-only (kustomize's and "
            "Argo CD's default) or none (Flux's); default: %(default)s"
        ),
    )
    parser.add_argument(
        "--annotation-key", metavar="KEY", help="the annotation the digest is stored in"
    )
    parser.add_argument(
        "--algorithm",
        choices=CHECKSUM_ALGORITHMS,
        default=CHECKSUM_ALGORITHMS[0],
        help="the digest algorithm (default: %(default)s)",
    )
    add_exclude(parser, "a gitignore-style pattern to leave out, relative to ROOT (repeatable)")
    parser.add_argument(
        "--cache", metavar="FILE", help="reuse per-file digests kept in FILE between runs"
    )
    parser.add_argument(
        "--no-remote",
        action="store_true",
        help="with --overlay: fail on remote bases and exec or container plugins, not list them",
    )
    parser.add_argument("--json", action="store_true", help="print the whole manifest as JSON")
    parser.add_argument(
        "--manifest", metavar="OUT", help="also write the manifest as JSON to OUT (for diff)"
    )
    parser.set_defaults(run=run)


def write_atomically(path: str, text: str) -> None:
    """Write *text* to *path* through a temporary file and a rename: never half a file."""
    target = Path(path)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text + "\n")
            out.flush()
            os.fsync(out.fileno())
        Path(tmp).replace(target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _tree(args: argparse.Namespace) -> Checksum:
    from tqdm import tqdm  # noqa: PLC0415 - only the checksum command needs it

    with tqdm(
        unit=" files",
        file=sys.stderr,
        disable=not sys.stderr.isatty(),
        delay=_PROGRESS_DELAY,
        leave=False,
    ) as bar:
        update: Callable[[str, int], object] = lambda _path, _size: bar.update()  # noqa: E731
        return checksum(
            args.path,
            root=args.root,
            annotation_key=args.annotation_key,
            algorithm=args.algorithm,
            exclude=args.exclude,
            cache=None if args.cache is None else ChecksumCache(args.cache),
            progress=update,
        )


def _require_directory(path: str) -> None:
    """Raise an ``OSError`` naming *path* unless it is a directory."""
    if not Path(path).is_dir():
        code = errno.ENOTDIR if Path(path).exists() else errno.ENOENT
        raise OSError(code, os.strerror(code), path)


def work_tree(path: str) -> str | None:
    """
    The git work tree *path* is in: the nearest directory at or above it holding ``.git``.

    Found by looking, without running git; ``.git`` may be a directory or,
    in a linked work tree or a submodule, a file. The path is taken
    lexically (absolute, links not resolved), so the root keeps the names
    the caller used.
    """
    here = Path(os.path.abspath(path))  # noqa: PTH100 - lexical on purpose
    for directory in (here, *here.parents):
        if (directory / ".git").exists():
            return str(directory)
    return None


def run(args: argparse.Namespace) -> int:
    """Print the digest (or the manifest); write the manifest if asked."""
    if args.root is not None:
        # Checked here: a missing root would otherwise read as "PATH resolves outside the root".
        _require_directory(args.root)
    if args.overlay:
        root = args.root if args.root is not None else work_tree(args.path)
        if root is None:
            print(
                f"syncsafe checksum: error: {args.path} is not inside a git work tree: "
                "give --root, the directory the overlay's paths must stay inside",
                file=sys.stderr,
            )
            return 2
        result = overlay_checksum(
            os.path.abspath(args.path),  # noqa: PTH100 - PATH is relative to here, not to ROOT
            root=root,
            annotation_key=args.annotation_key,
            algorithm=args.algorithm,
            allow_remote=not args.no_remote,
            load_restrictor=args.load_restrictor,
        )
    else:
        result = _tree(args)
    if args.manifest:
        with writing_to(args.manifest):
            write_atomically(args.manifest, result.to_json())
    if args.json:
        print(result.to_json())
    else:
        print(result.digest)
        for reference in result.remote:
            print(f"remote, not hashed: {reference}", file=sys.stderr)
    return 0
