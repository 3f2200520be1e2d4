"""The subcommands of ``syncsafe``, one module each (see `syncsafe.cli`)."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["add_command", "writing_to"]


def add_command(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    *,
    help: str,  # noqa: A002 - argparse's own word
    description: str,
    example: str,
    usage: str | None = None,
) -> argparse.ArgumentParser:
    """Add subcommand *name* with a description and a worked example in its ``--help``."""
    parser = subparsers.add_parser(
        name,
        usage=usage,
        help=help,
        description=description,
        epilog=f"example:\n  {example}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    # The command's own parser, so that an error can say which flag a file was given as.
    parser.set_defaults(command_parser=parser)
    return parser


@contextmanager
def writing_to(path: str) -> Iterator[None]:
    """
    Report an ``OSError`` raised while writing *path* as an error about *path*.

    An atomic write goes through a temporary file beside *path*; when that
    fails (a missing directory, *path* is a directory) the error would name
    the temporary file, which the user never asked for.
    """
    try:
        yield
    except OSError as exc:
        if exc.errno is None or (exc.filename == path and exc.filename2 is None):
            raise
        raise OSError(exc.errno, exc.strerror, path) from exc
