"""The subcommands of ``syncsafe``, one module each (see :mod:`syncsafe.cli`)."""

from __future__ import annotations

import argparse

__all__ = ["add_command"]


def add_command(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    *,
    help: str,  # noqa: A002 - argparse's own word
    description: str,
    example: str,
) -> argparse.ArgumentParser:
    """Add subcommand *name* with a description and a worked example in its ``--help``."""
    return subparsers.add_parser(
        name,
        help=help,
        description=description,
        epilog=f"example:\n  {example}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
