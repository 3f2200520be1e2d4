"""``syncsafe diff``: what changed between two checksum manifests."""

from __future__ import annotations

import argparse
from pathlib import Path

from syncsafe._cli import add_command
from syncsafe._cli._errors import CommandError
from syncsafe._cli._quote import quote

TYPE_CHECKING = False
if TYPE_CHECKING:
    from syncsafe.checksums import Changes, Checksum

__all__ = ["document", "print_changes", "register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``syncsafe diff`` to *subparsers*."""
    parser = add_command(
        subparsers,
        "diff",
        help="compare two checksum manifests file by file",
        description=(
            "Read two manifests written by 'syncsafe checksum --manifest' (each is "
            "verified against its own digest) and print the files added, removed and "
            "modified from OLD to NEW. Exit status 1 if the digests differ; 2 if a "
            "manifest is missing, unreadable or corrupt, or the two use different algorithms."
        ),
        example="syncsafe diff applied.json rendered.json",
    )
    parser.add_argument("old", metavar="OLD.json", help="the earlier manifest")
    parser.add_argument("new", metavar="NEW.json", help="the later manifest")
    parser.add_argument("--json", action="store_true", help="print the changes as JSON")
    parser.set_defaults(run=run)


def _load(path: str) -> Checksum:
    from syncsafe.checksums import Checksum  # noqa: PLC0415 - imported when run

    return Checksum.from_json(Path(path).read_bytes(), source=path)


def _key(key: str | None) -> str:
    return "none" if key is None else quote(key)


def _kinds(old: Checksum, new: Checksum) -> str:
    """Why a tree and an overlay do not compare, when that is a difference."""
    if None in {old.kind, new.kind} or old.kind == new.kind:
        return ""
    return (
        ", and paths only within one kind: a tree names a file by its path through "
        "a symlink, an overlay by its physical path"
    )


def run(args: argparse.Namespace) -> int:
    """Print the changes; 1 when the digests differ."""
    import json  # noqa: PLC0415 - imported when run

    from syncsafe.errors import IncomparableChecksums  # noqa: PLC0415

    old, new = _load(args.old), _load(args.new)
    try:
        changes = old.diff(new)
    except IncomparableChecksums as exc:
        msg = (
            f"OLD.json {quote(args.old)} is a {exc.left} checksum and NEW.json "
            f"{quote(args.new)} a {exc.right} one: per-file digests only compare within "
            f"one algorithm, format and mode{_kinds(old, new)}"
        )
        raise CommandError(
            msg, type(exc).__name__, old=args.old, new=args.new, left=exc.left, right=exc.right
        ) from exc
    if args.json:
        print(json.dumps(document(old, new, changes), indent=2))
    else:
        print_changes(old, new, changes)
    return 0 if old.digest == new.digest else 1


def document(old: Checksum, new: Checksum, changes: Changes) -> dict[str, object]:
    """What changed from *old* to *new*, as ``--json`` prints it."""
    header = old.annotation_key != new.annotation_key
    return {
        "old": old.digest,
        "new": new.digest,
        "same": old.digest == new.digest,
        "added": list(changes.added),
        "removed": list(changes.removed),
        "modified": list(changes.modified),
        "annotation_key": [old.annotation_key, new.annotation_key] if header else None,
    }


def print_changes(old: Checksum, new: Checksum, changes: Changes) -> None:
    """Both digests, then a line per added, removed or modified path (quoted)."""
    print(f"old {old.digest}\nnew {new.digest}")
    for kind, paths in (
        ("added", changes.added),
        ("removed", changes.removed),
        ("modified", changes.modified),
    ):
        for path in paths:
            print(f"{kind:<9}{quote(path)}")
    if old.annotation_key != new.annotation_key:
        old_key, new_key = _key(old.annotation_key), _key(new.annotation_key)
        print(f"annotation key changed: {old_key} -> {new_key}")
    if old.digest == new.digest:
        print("no changes")
