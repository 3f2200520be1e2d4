"""
The ``syncsafe`` command line.

Exit status, for every subcommand: 0 when all is well, 1 when the command
found what it looks for (an invalid key, an unsafe path, a storm, a stale
revision), 2 for a usage or I/O error. Expected errors are printed on stderr,
naming the path or key, without a traceback; so are warnings. Ctrl-C stops a
command with status 130 (128 + SIGINT, as a shell reports it).

Each subcommand lives in its own ``syncsafe._cli`` module with a
``register(subparsers)`` function; this module only assembles them.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import warnings
from collections.abc import Sequence
from typing import Final, TextIO

from syncsafe import __version__
from syncsafe.errors import SyncsafeError

__all__ = ["build_parser", "main"]

_COMMANDS: Final = (
    "syncsafe._cli.key",
    "syncsafe._cli.storm",
    "syncsafe._cli.stale",
    "syncsafe._cli.scan",
    "syncsafe._cli.checksum",
    "syncsafe._cli.diff",
    "syncsafe._cli.demo",
    "syncsafe._cli.run",
)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="syncsafe",
        description="Correct sync and checksum primitives for GitOps controllers.",
        epilog="Run 'syncsafe COMMAND --help' for a command's options and an example.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in _COMMANDS:
        importlib.import_module(module).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with *argv* (default: ``sys.argv[1:]``); return the exit status."""
    parser = build_parser()
    words = list(sys.argv[1:] if argv is None else argv)
    wrapped: list[str] = []  # a wrapper's COMMAND, after its "--": not syncsafe's to parse
    if words[:1] == ["run"] and "--" in words:
        cut = words.index("--")
        words, wrapped = words[:cut], words[cut + 1 :]
    args = parser.parse_args(words)
    args.wrapped = wrapped
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    command = f"syncsafe {args.command}"

    def show_warning(  # noqa: PLR0917 - warnings.showwarning's signature
        message: Warning | str,
        category: type[Warning],  # noqa: ARG001
        filename: str,  # noqa: ARG001
        lineno: int,  # noqa: ARG001
        file: TextIO | None = None,  # noqa: ARG001
        line: str | None = None,  # noqa: ARG001
    ) -> None:
        # One line naming the command, instead of a source file and line of code.
        print(f"{command}: warning: {message}", file=sys.stderr)  # noqa: T201

    try:
        with warnings.catch_warnings():
            warnings.showwarning = show_warning
            status: int = args.run(args)
    except BrokenPipeError:
        # The reader went away (``syncsafe scan --json | head``): stop quietly,
        # and point stdout at /dev/null so the interpreter's final flush of
        # the dead pipe does not print a second error on exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return 1
    except (SyncsafeError, OSError) as exc:
        print(f"{command}: error: {exc}", file=sys.stderr)  # noqa: T201
        return 2
    except KeyboardInterrupt:
        print(f"{command}: interrupted", file=sys.stderr)  # noqa: T201
        return 130
    return status
