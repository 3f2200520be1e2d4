"""
Reading JSON input as ``kubectl`` prints it: one document, JSON lines, or a watch stream.

The argument types the commands share live in `syncsafe._cli._args`
(imported here too, for the commands that take both).
"""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import IO

import attrs

from syncsafe._cli._args import (
    add_exclude,
    duration_arg,
    non_negative_duration_arg,
    pattern_arg,
    positive_duration_arg,
    time_arg,
)

__all__ = [
    "Malformed",
    "add_exclude",
    "documents",
    "duration_arg",
    "non_negative_duration_arg",
    "open_input",
    "pattern_arg",
    "positive_duration_arg",
    "time_arg",
]


@attrs.frozen
class Malformed:
    """A line that starts no JSON document: where, and what the decoder said."""

    line: int
    problem: str


def _ends_document(line: str) -> bool:
    """Whether *line* may end a document: JSON lines, or kubectl's top-level closing brace."""
    stripped = line.rstrip()
    if stripped[:1] in {"}", "]"}:
        return True
    s = stripped.lstrip()
    return s[:1] in {"{", "["} and s[-1:] in {"}", "]"}


def documents(lines: Iterable[str]) -> Iterator[object]:
    """
    Every JSON document in *lines*, and a `Malformed` for each line that is not one.

    Handles a single document, JSON lines, and concatenated pretty-printed
    documents as ``kubectl get -w -o json`` prints them. Decoding is tried
    only where a document can end (a line that is a whole document, or a
    closing brace in column 0, as kubectl indents), so a long stream costs
    linear time. After a malformed line the reader resynchronises on the next.
    """
    decoder = json.JSONDecoder()
    buf = ""
    start_line = 1  # the line number where buf starts

    def drain(*, final: bool) -> Iterator[object]:
        nonlocal buf, start_line
        while True:
            stripped = buf.lstrip()
            start_line += buf.count("\n", 0, len(buf) - len(stripped))
            buf = stripped
            if not buf:
                return
            try:
                obj, end = decoder.raw_decode(buf)
            except json.JSONDecodeError as exc:
                rest = buf[exc.pos :]
                incomplete = not rest.strip() or (
                    exc.msg.startswith("Unterminated string") and "\n" not in rest
                )
                if incomplete and not final:
                    return
                cut = buf.find("\n")
                yield Malformed(start_line, f"{exc.msg} (column {exc.colno})")
                buf = "" if cut == -1 else buf[cut + 1 :]
                start_line += 1
                continue
            except (RecursionError, ValueError) as exc:  # too deep, or a number too long
                # (the 4,300-digit limit on int conversion): not a manifest either way
                deep = isinstance(exc, RecursionError)
                yield Malformed(start_line, "nested too deeply" if deep else "a number too long")
                cut = buf.find("\n")
                buf = "" if cut == -1 else buf[cut + 1 :]
                start_line += 1
                continue
            yield obj
            start_line += buf.count("\n", 0, end)
            buf = buf[end:]

    for line in lines:
        buf += line
        if _ends_document(line):
            yield from drain(final=False)
    yield from drain(final=True)


def open_input(path: str) -> AbstractContextManager[IO[str]]:
    """*path* opened for reading text, or standard input for ``-``; bad UTF-8 is replaced."""
    if path == "-":
        if isinstance(sys.stdin, io.TextIOWrapper):
            sys.stdin.reconfigure(errors="replace")
        return nullcontext(sys.stdin)
    # Undecodable bytes become U+FFFD: the line is then malformed JSON, skipped and counted.
    return Path(path).open(encoding="utf-8", errors="replace")
