"""``syncsafe demo``: replay the incidents, buggy vs fixed, on embedded data."""

from __future__ import annotations

import argparse

from syncsafe._cli import add_command
from syncsafe._demo import SCENARIOS

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``syncsafe demo`` to *subparsers*."""
    parser = add_command(
        subparsers,
        "demo",
        help="replay every documented incident, buggy vs fixed",
        description=(
            "Run each incident's buggy reproduction and the syncsafe primitive that "
            "replaces it on embedded sample data, offline, and print what each did. "
            "Exit status 1 if a syncsafe primitive got a scenario wrong."
        ),
        example="syncsafe demo --only annotations --json",
    )
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        choices=[key for key, _ in SCENARIOS],
        help="run only this scenario (repeatable)",
    )
    parser.add_argument("--json", action="store_true", help="print a JSON array of rows")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Print the table (or JSON); 1 if any fixed variant was wrong."""
    from syncsafe._demo._table import render_json, render_table, run_all  # noqa: PLC0415

    rows = run_all(args.only)
    print(render_json(rows) if args.json else render_table(rows))
    return 0 if all(r.correct for r in rows if r.variant == "fixed") else 1
