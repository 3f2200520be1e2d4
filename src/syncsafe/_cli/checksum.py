"""``syncsafe checksum``: the digest of a tree or of what a kustomize overlay reads."""

from __future__ import annotations

import argparse
import errno
import os
import sys
from pathlib import Path

from syncsafe._cli import add_command, writing_to
from syncsafe._cli._args import add_exclude
from syncsafe._cli._errors import CommandError
from syncsafe._cli._quote import quote

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from syncsafe.checksums import Checksum

__all__ = ["ALGORITHMS", "LOAD_RESTRICTORS", "register", "work_tree", "write_atomically"]

# syncsafe.checksums.CHECKSUM_ALGORITHMS, spelled out so that registering the
# command imports no hashing library (a test holds the two equal).
ALGORITHMS = ("xxh3-128", "xxh3-64", "sha256")
# syncsafe.checksums.LOAD_RESTRICTORS, spelled out for the same reason.
LOAD_RESTRICTORS = ("root-only", "none")

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
        default=None,
        help=(
            "with --overlay: kustomize's load restrictor; root-only (kustomize's and "
            "Argo CD's default) or none (Flux's); default: root-only, or none with --flux"
        ),
    )
    parser.add_argument(
        "--flux",
        action="store_true",
        help=(
            "with --overlay: hash what Flux builds; a PATH with no kustomization file is "
            "built from the .yaml and .yml files under it (implies --load-restrictor none)"
        ),
    )
    parser.add_argument(
        "--annotation-key", metavar="KEY", help="the annotation the digest is stored in"
    )
    parser.add_argument(
        "--algorithm",
        choices=ALGORITHMS,
        default=ALGORITHMS[0],
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
    parser.add_argument(
        "--check",
        action="store_true",
        help="compare with the manifest stored in OUT instead of writing it: "
        "exit 1 and print what changed when it is not current (a pre-commit hook)",
    )
    parser.add_argument(
        "--update",
        action="store_true",
        help="with --check: rewrite OUT when it is not current (still exit 1)",
    )
    parser.set_defaults(run=run)


def write_atomically(path: str, text: str) -> None:
    """
    Write *text* and a newline to *path* through a temporary file and a rename: never half a file.

    The directory is fsynced too, as for every whole-file replacement: a
    command that exits 0 has its manifest on disk, not only in the page cache.
    """
    from syncsafe._atomic import atomic_replace  # noqa: PLC0415 - only --manifest writes

    atomic_replace(path, (text + "\n").encode("utf-8"))


def _tree(args: argparse.Namespace) -> Checksum:
    from syncsafe.checksums import ChecksumCache, checksum  # noqa: PLC0415 - see ALGORITHMS

    def run(progress: Callable[[str, int], object] | None) -> Checksum:
        return checksum(
            args.path,
            root=args.root,
            annotation_key=args.annotation_key,
            algorithm=args.algorithm,
            exclude=args.exclude,
            cache=None if args.cache is None else ChecksumCache(args.cache),
            progress=progress,
        )

    if not sys.stderr.isatty():  # no bar to draw: no need for tqdm
        return run(None)
    from tqdm import tqdm  # noqa: PLC0415 - only a run at a terminal needs it

    with tqdm(
        unit=" files",
        file=sys.stderr,
        delay=_PROGRESS_DELAY,
        leave=False,
    ) as bar:
        return run(lambda _path, _size: bar.update())


def _require_directory(path: str) -> None:
    """Raise an ``OSError`` naming *path* unless it is a directory."""
    if not Path(path).is_dir():
        code = errno.ENOTDIR if Path(path).exists() else errno.ENOENT
        raise OSError(code, os.strerror(code), path)


def _check(args: argparse.Namespace, result: Checksum) -> int:
    """Compare *result* with the manifest in OUT; 0 when it is current, else 1 and the changes."""
    from syncsafe._cli.diff import document, print_changes  # noqa: PLC0415
    from syncsafe.checksums import Checksum  # noqa: PLC0415 - see ALGORITHMS
    from syncsafe.errors import IncomparableChecksums  # noqa: PLC0415

    stored = None
    if Path(args.manifest).exists() or not args.update:  # --update creates a missing one
        stored = Checksum.from_json(Path(args.manifest).read_bytes(), source=args.manifest)
    # the digest covers every field but kind, which a manifest from before it was recorded lacks
    current = (
        stored is not None and stored.digest == result.digest and stored.kind in {None, result.kind}
    )
    report: dict[str, object] = {"manifest": args.manifest, "current": current}
    if stored is None:
        report["changes"] = None
    else:
        try:
            report["changes"] = document(stored, result, stored.diff(result))
        except IncomparableChecksums as exc:
            report["changes"] = {"old": stored.digest, "new": result.digest, "same": False}
            report["incomparable"] = [exc.left, exc.right]
    if args.update and not current:
        with writing_to(args.manifest):
            write_atomically(args.manifest, result.to_json())
    report["updated"] = args.update and not current
    if args.json:
        import json  # noqa: PLC0415

        print(json.dumps(report, indent=2))
        return 0 if current else 1
    if current:
        print(f"{result.digest}: --manifest {quote(args.manifest)} is current")
        return 0
    print(f"--manifest {quote(args.manifest)} is not current:")
    if stored is None:
        print("it does not exist")
    elif "incomparable" in report:
        print(f"old {stored.digest}\nnew {result.digest}")
    else:
        print_changes(stored, result, stored.diff(result))
    if report["updated"]:
        print(f"rewritten: add {quote(args.manifest)} to the commit")
    else:
        print("run with --update to rewrite it")
    return 1


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


def _usage(args: argparse.Namespace) -> None:
    """Refuse options that need another one."""
    if (args.check or args.update) and not args.manifest:
        flag = "--check" if args.check else "--update"
        raise CommandError(f"{flag} needs --manifest OUT", "UsageError", argument=flag)
    if args.update and not args.check:
        raise CommandError("--update needs --check", "UsageError", argument="--update")
    if args.flux and not args.overlay:
        msg = "--flux needs --overlay: it says how Flux builds an overlay"
        raise CommandError(msg, "UsageError", argument="--flux")


def run(args: argparse.Namespace) -> int:
    """Print the digest (or the manifest); write the manifest if asked."""
    _usage(args)
    if args.root is not None:
        # Checked here: a missing root would otherwise read as "PATH resolves outside the root".
        _require_directory(args.root)
    if args.overlay:
        from syncsafe.checksums import overlay_checksum  # noqa: PLC0415 - see ALGORITHMS

        root = args.root if args.root is not None else work_tree(args.path)
        if root is None:
            msg = (
                f"{quote(args.path)} is not inside a git work tree: "
                "give --root, the directory the overlay's paths must stay inside"
            )
            raise CommandError(msg, "UsageError", argument="--root")
        result = overlay_checksum(
            os.path.abspath(args.path),  # noqa: PTH100 - PATH is relative to here, not to ROOT
            root=root,
            annotation_key=args.annotation_key,
            algorithm=args.algorithm,
            allow_remote=not args.no_remote,
            load_restrictor=args.load_restrictor,
            generate="flux" if args.flux else None,
        )
    else:
        result = _tree(args)
    if args.check:
        return _check(args, result)
    if args.manifest:
        with writing_to(args.manifest):
            write_atomically(args.manifest, result.to_json())
    if args.json:
        print(result.to_json())
    else:
        print(result.digest)
        for reference in result.remote:
            print(f"remote, not hashed: {quote(reference)}", file=sys.stderr)
    return 0
