"""
The argument types the commands share.

Each imports what it needs when argparse calls it, so that registering a
command (``syncsafe --help``, ``syncsafe key``) costs no more than argparse.
"""

from __future__ import annotations

import argparse

TYPE_CHECKING = False
if TYPE_CHECKING:
    from datetime import datetime, timedelta

__all__ = [
    "add_exclude",
    "duration_arg",
    "non_negative_duration_arg",
    "pattern_arg",
    "positive_duration_arg",
    "time_arg",
]


def duration_arg(text: str) -> timedelta:
    """An argparse type: a Go duration such as ``24h`` or ``90s``."""
    from syncsafe.errors import InvalidDuration  # noqa: PLC0415 - see the module's docstring
    from syncsafe.stale import parse_duration  # noqa: PLC0415

    try:
        return parse_duration(text)
    except InvalidDuration as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def positive_duration_arg(text: str) -> timedelta:
    """An argparse type: a Go duration of at least a microsecond, such as a window."""
    from datetime import timedelta  # noqa: PLC0415

    duration = duration_arg(text)
    if duration < timedelta(microseconds=1):  # what a timedelta can hold: 1ns becomes 0
        msg = f"duration {text!r} must be at least 1us"
        raise argparse.ArgumentTypeError(msg)
    return duration


def non_negative_duration_arg(text: str) -> timedelta:
    """An argparse type: a Go duration of zero or more, such as a maximum age."""
    from datetime import timedelta  # noqa: PLC0415

    duration = duration_arg(text)
    if duration < timedelta(0):
        msg = f"duration {text!r} must not be negative"
        raise argparse.ArgumentTypeError(msg)
    return duration


def pattern_arg(text: str) -> str:
    """An argparse type: one gitignore-style pattern, checked here rather than mid-walk."""
    import pathspec  # noqa: PLC0415

    try:
        pathspec.GitIgnoreSpec.from_lines([text])
    except ValueError as exc:
        msg = f"invalid pattern {text!r}: {exc}"
        raise argparse.ArgumentTypeError(msg) from None
    return text


def add_exclude(parser: argparse.ArgumentParser, help: str) -> None:  # noqa: A002
    """Add the repeatable ``--exclude PATTERN`` option, each pattern checked as it is parsed."""
    parser.add_argument(
        "--exclude", action="append", default=[], type=pattern_arg, metavar="PATTERN", help=help
    )


def time_arg(text: str) -> datetime:
    """An argparse type: an RFC 3339 time with an offset."""
    from syncsafe._k8s import parse_time  # noqa: PLC0415

    try:
        return parse_time(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
