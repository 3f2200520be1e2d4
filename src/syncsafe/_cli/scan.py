"""``syncsafe scan``: report every unsafe entry under a directory, for pre-sync hooks."""

from __future__ import annotations

import argparse
import json

import attrs

from syncsafe._cli import add_command
from syncsafe._cli._json import add_exclude
from syncsafe.walk import scan

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``syncsafe scan`` to *subparsers*."""
    parser = add_command(
        subparsers,
        "scan",
        help="report symlinks that escape, loop or dangle, and special files",
        description=(
            "Walk PATH as syncsafe.walk does and list every unsafe entry: symlinks that "
            "resolve outside PATH, absolute symlinks, loops, dangling symlinks, FIFOs, "
            "sockets and devices, unreadable directories. Nothing but directories is "
            "opened. Exit status 1 if anything is found, so it can gate a sync."
        ),
        example="syncsafe scan ./overlays/prod --exclude .git/ --json",
    )
    parser.add_argument("path", metavar="PATH", help="the directory to scan (the root)")
    add_exclude(parser, "a gitignore-style pattern to leave out (repeatable), e.g. .git/")
    parser.add_argument(
        "--allow-absolute",
        action="store_true",
        help="accept absolute symlinks whose target lies below PATH",
    )
    parser.add_argument("--json", action="store_true", help="print a JSON array of findings")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Print the findings; 1 if there are any."""
    findings = scan(args.path, exclude=args.exclude, allow_absolute=args.allow_absolute)
    if args.json:
        print(json.dumps([attrs.asdict(f) for f in findings], indent=2))
    elif findings:
        for f in findings:
            print(f"{f.rule}: {f.message}")
        print(
            f"{len(findings)} unsafe entr{'y' if len(findings) == 1 else 'ies'} under {args.path}"
        )
    else:
        print(f"no unsafe entries under {args.path}")
    return 1 if findings else 0
