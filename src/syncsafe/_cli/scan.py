"""``syncsafe scan``: report every unsafe entry under a directory, for pre-sync hooks."""

from __future__ import annotations

import argparse

from syncsafe._cli import add_command
from syncsafe._cli._args import add_exclude
from syncsafe._cli._quote import quote

TYPE_CHECKING = False
if TYPE_CHECKING:
    from syncsafe.walker import Finding

__all__ = ["register"]

# What each rule means, after "PATH -> TARGET: " (the library's messages name
# its parameters; these name the command's flags).
_RULES = {
    "escape": "resolves outside PATH",
    "absolute-symlink": "an absolute symlink (--allow-absolute accepts targets below PATH)",
    "symlink-loop": "a symlink loop",
    "dangling-symlink": "points to nothing (a dangling symlink)",
    "special-file": "a FIFO, socket or device: never opened",
    "unreadable-directory": "a directory that cannot be read",
    "changed": "changed while it was scanned: scan again",
}


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


def describe(finding: Finding) -> str:
    """One line for *finding*: its rule, its path (and target) quoted, what the rule means."""
    where = quote(finding.path)
    if finding.target is not None:
        where += f" -> {quote(finding.target)}"
    special = finding.message.rpartition(": is a ")[2].partition(":")[0]
    meaning = f"a {special}: never opened" if finding.rule == "special-file" and special else None
    return f"{finding.rule}: {where}: {meaning or _RULES.get(finding.rule, finding.rule)}"


def run(args: argparse.Namespace) -> int:
    """Print the findings; 1 if there are any."""
    import json  # noqa: PLC0415 - imported when run: --help and other commands need none of it

    import attrs  # noqa: PLC0415

    from syncsafe.walker import scan  # noqa: PLC0415

    findings = scan(args.path, exclude=args.exclude, allow_absolute=args.allow_absolute)
    if args.json:
        print(json.dumps([attrs.asdict(f) for f in findings], indent=2))
    elif findings:
        for f in findings:
            print(describe(f))
        noun = "entry" if len(findings) == 1 else "entries"
        print(f"{len(findings)} unsafe {noun} under {quote(args.path)}")
    else:
        print(f"no unsafe entries under {quote(args.path)}")
    return 1 if findings else 0
