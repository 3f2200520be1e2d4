"""
The ``syncsafe`` command line.

Exit status, for every subcommand: 0 when all is well, 1 when the command
found what it looks for (an invalid key, an unsafe path, a storm, a stale
revision), 2 for a usage or I/O error. Expected errors are printed on stderr,
naming the path or key, without a traceback, and with ``--json`` also as a
JSON object on stdout; so are warnings (on stderr). Ctrl-C stops a command
with status 130 (128 + SIGINT, as a shell reports it).

Each subcommand lives in its own ``syncsafe._cli`` module with a
``register(subparsers)`` function; this module only assembles them, and
imports only the one being run, so that ``syncsafe key`` never pays for the
checksum machinery.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import warnings

from syncsafe import __version__
from syncsafe._cli._errors import Problem, UsageError, describe, scrub

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import NoReturn, TextIO

__all__ = ["build_parser", "main"]

_COMMANDS = (
    "syncsafe._cli.key",
    "syncsafe._cli.storm",
    "syncsafe._cli.stale",
    "syncsafe._cli.scan",
    "syncsafe._cli.checksum",
    "syncsafe._cli.diff",
    "syncsafe._cli.affected",
    "syncsafe._cli.demo",
    "syncsafe._cli.run",
)


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors ``main`` reports (as JSON too, with ``--json``)."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message, usage=self.format_usage(), prog=self.prog)


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The argument parser with every subcommand registered, or only the one named *only*."""
    parser = _Parser(
        prog="syncsafe",
        description="Correct sync and checksum primitives for GitOps controllers.",
        epilog="Run 'syncsafe COMMAND --help' for a command's options and an example.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in _COMMANDS:
        if only is None or module.rpartition(".")[2] == only:
            importlib.import_module(module).register(sub)
    return parser


def _only(argv: Sequence[str]) -> str | None:
    """The one subcommand *argv* needs registered (``""`` for none), or ``None`` for all."""
    names = {module.rpartition(".")[2] for module in _COMMANDS}
    for arg in argv:
        if arg in {"-h", "--help"} or arg == "--":
            return None
        if not arg.startswith("-"):
            return arg if arg in names else None  # an unknown word: list every command
    return "" if "--version" in argv else None


def _arguments(args: argparse.Namespace) -> dict[str, str]:
    """Each string given on the command line -> the flag or metavar it was given as."""
    parser: argparse.ArgumentParser | None = getattr(args, "command_parser", None)
    found: dict[str, str] = {}
    for action in [] if parser is None else parser._actions:  # noqa: SLF001 - argparse's only list
        value = getattr(args, action.dest, None)
        if isinstance(value, str) and value not in found:
            names = action.option_strings
            metavar = action.metavar if isinstance(action.metavar, str) else action.dest.upper()
            found[value] = max(names, key=len) if names else metavar
    return found


def _report(prog: str, problem: Problem, *, as_json: bool) -> None:
    print(f"{prog}: error: {problem.message}", file=sys.stderr)  # noqa: T201
    if as_json:
        import json  # noqa: PLC0415 - only a failure needs it here

        print(json.dumps(problem.as_json()))  # noqa: T201 - one line, as in a JSON-lines stream


def _split_wrapped(argv: list[str]) -> tuple[list[str], list[str]]:
    """``syncsafe run``'s own words, and its COMMAND after ``--``: not syncsafe's to parse."""
    if argv[:1] == ["run"] and "--" in argv:
        cut = argv.index("--")
        return argv[:cut], argv[cut + 1 :]
    return argv, []


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with *argv* (default: ``sys.argv[1:]``); return the exit status."""
    argv, wrapped = _split_wrapped(sys.argv[1:] if argv is None else list(argv))
    as_json = "--json" in (argv[: argv.index("--")] if "--" in argv else argv)
    parser = build_parser(_only(argv))
    try:
        args = parser.parse_args(argv)
    except UsageError as exc:
        if not as_json:
            print(exc.usage, end="", file=sys.stderr)  # noqa: T201
        _report(exc.prog, Problem(exc.kind, exc.message), as_json=as_json)
        raise SystemExit(2) from None  # as argparse itself exits on a usage error
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
        print(f"{command}: warning: {scrub(str(message))}", file=sys.stderr)  # noqa: T201

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
    except KeyboardInterrupt:
        print(f"{command}: interrupted", file=sys.stderr)  # noqa: T201
        if as_json:
            print('{"error": {"type": "Interrupted", "message": "interrupted"}}')  # noqa: T201
        return 130
    except Exception as exc:
        problem = describe(exc, _arguments(args))
        if problem is None:  # not an error any command expects: let the traceback show
            raise
        _report(command, problem, as_json=as_json)
        return 2
    return status
