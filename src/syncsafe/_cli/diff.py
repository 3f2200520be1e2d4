"""``syncsafe diff``: what changed between two checksum manifests."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from syncsafe._cli import add_command
from syncsafe.checksum import Checksum
from syncsafe.errors import IncomparableChecksums

__all__ = ["register"]


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
    return Checksum.from_json(Path(path).read_bytes(), source=path)


def run(args: argparse.Namespace) -> int:
    """Print the changes; 1 when the digests differ."""
    old, new = _load(args.old), _load(args.new)
    try:
        changes = old.diff(new)
    except IncomparableChecksums as exc:
        print(f"syncsafe diff: error: {args.old} and {args.new}: {exc}", file=sys.stderr)
        return 2
    header = old.annotation_key != new.annotation_key
    if args.json:
        document = {
            "old": old.digest,
            "new": new.digest,
            "same": old.digest == new.digest,
            "added": list(changes.added),
            "removed": list(changes.removed),
            "modified": list(changes.modified),
            "annotation_key": [old.annotation_key, new.annotation_key] if header else None,
        }
        print(json.dumps(document, indent=2))
    else:
        print(f"old {old.digest}\nnew {new.digest}")
        for kind, paths in (
            ("added", changes.added),
            ("removed", changes.removed),
            ("modified", changes.modified),
        ):
            for path in paths:
                print(f"{kind:<9}{path}")
        if header:
            print(f"annotation key {old.annotation_key} -> {new.annotation_key}")
        if old.digest == new.digest:
            print("no changes")
    return 0 if old.digest == new.digest else 1
