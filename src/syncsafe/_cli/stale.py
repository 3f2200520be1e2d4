"""``syncsafe stale``: how old the applied revision of each Kustomization or Application is."""

from __future__ import annotations

import argparse
import json

from syncsafe._cli import add_command, writing_to
from syncsafe._cli._errors import CommandError
from syncsafe._cli._json import (
    Malformed,
    documents,
    non_negative_duration_arg,
    open_input,
    time_arg,
)
from syncsafe._cli._quote import quote
from syncsafe._duration import format_long_duration
from syncsafe.stale import (
    Staleness,
    git_commit_time,
    render_exposition,
    staleness,
    staleness_metrics,
    write_textfile,
)

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``syncsafe stale`` to *subparsers*."""
    parser = add_command(
        subparsers,
        "stale",
        help="report revisions older than a maximum age",
        description=(
            "Read Flux Kustomizations or Argo CD Applications as JSON from FILE (or - for "
            "standard input), find the commit time of each applied revision in the git "
            "repository at --repo, and report its age. Exit status 1 if any is older than "
            "--max-age; 2 if a revision is unreadable or its commit is not in the repository."
        ),
        example=(
            "kubectl get kustomizations -A -o json | "
            "syncsafe stale - --max-age 24h --repo . --textfile /var/lib/node_exporter/stale.prom"
        ),
    )
    parser.add_argument("file", metavar="FILE", help="JSON input, or - for standard input")
    parser.add_argument(
        "--max-age",
        type=non_negative_duration_arg,
        required=True,
        help="a Go duration such as 24h or 90m",
    )
    parser.add_argument("--repo", required=True, metavar="PATH", help="the git repository")
    parser.add_argument(
        "--textfile", metavar="OUT.prom", help="write Prometheus metrics, replaced atomically"
    )
    parser.add_argument("--now", type=time_arg, default=None, help="judge at this RFC 3339 time")
    parser.add_argument("--json", action="store_true", help="print a JSON array")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Report each object's revision age; 1 if any is stale."""
    lookup = git_commit_time(args.repo)
    reports: list[Staleness] = []
    with open_input(args.file) as stream:
        for doc in documents(stream):
            if isinstance(doc, Malformed):
                msg = f"FILE {quote(args.file)}: line {doc.line} is not JSON: {doc.problem}"
                raise CommandError(msg, "MalformedInput", file=args.file, line=doc.line)
            if not isinstance(doc, dict):
                noun = {list: "an array", str: "a string", bool: "true or false"}.get(
                    type(doc), "a number" if isinstance(doc, (int, float)) else "null"
                )
                msg = f"FILE {quote(args.file)}: expected JSON objects, found {noun}"
                raise CommandError(msg, "MalformedInput", file=args.file)
            reports += staleness(doc, max_age=args.max_age, commit_time=lookup, now=args.now)
    if args.json:
        print(json.dumps([r.as_dict() for r in reports], indent=2))
    else:
        for r in reports:
            verdict = "STALE" if r.stale else "fresh"
            age, most = format_long_duration(r.age), format_long_duration(r.max_age)
            print(
                f"{r.namespace}/{r.name} {r.kind} {r.revision}: committed "
                f"{age} ago (max {most}): {verdict}"
            )
    if args.textfile:
        with writing_to(args.textfile):
            write_textfile(args.textfile, render_exposition(staleness_metrics(reports)))
    return 1 if any(r.stale for r in reports) else 0
