"""
``syncsafe demo``: every documented incident, buggy vs fixed, on embedded data.

Each scenario lives in its own module here and returns :class:`Row` values:
one per variant it ran, saying what happened and whether that was correct.
The demo needs no network, no arguments and no files outside a temporary
directory it cleans up.
"""

# No ``from __future__ import annotations`` here: it would bind the name
# ``annotations`` in this package to a ``__future__`` feature object, shadowing
# the ``annotations`` submodule for ``from ... import annotations``.

import importlib
import json
from collections.abc import Callable, Sequence
from typing import Final, Literal

import attrs

__all__ = ["SCENARIOS", "Row", "render_json", "render_table", "run_all"]

Variant = Literal["buggy", "fixed"]


@attrs.frozen
class Row:
    """One variant's run of one incident scenario."""

    incident: str
    variant: Variant
    name: str
    """The code that ran: the buggy reproduction or the syncsafe primitive."""
    outcome: str
    """What happened, in one line."""
    correct: bool
    """Whether that outcome is the right one."""


# (scenario key, module): imported only when the demo runs, in this order.
SCENARIOS: Final[Sequence[tuple[str, str]]] = (
    ("guard", "syncsafe._demo.guard"),
    ("partition", "syncsafe._demo.partition"),
    ("paths", "syncsafe._demo.paths"),
    ("annotations", "syncsafe._demo.annotations"),
    ("storm", "syncsafe._demo.storm"),
    ("staleness", "syncsafe._demo.stale"),
    ("checksum", "syncsafe._demo.checksum"),
)


def run_all(only: Sequence[str] = ()) -> list[Row]:
    """Run every scenario (or those named in *only*) and return their rows."""
    unknown = set(only) - {key for key, _ in SCENARIOS}
    if unknown:
        msg = f"unknown demo scenario(s): {', '.join(sorted(unknown))}"
        raise ValueError(msg)
    rows: list[Row] = []
    for key, module in SCENARIOS:
        if only and key not in only:
            continue
        run: Callable[[], list[Row]] = importlib.import_module(module).run
        rows.extend(run())
    return rows


def render_table(rows: Sequence[Row]) -> str:
    """The rows as a plain-text table, one line per variant."""
    header = ("incident", "variant", "code", "what happened", "verdict")
    body = [
        (r.incident, r.variant, r.name, r.outcome, "ok" if r.correct else "WRONG") for r in rows
    ]
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]

    def fmt(line: tuple[str, ...]) -> str:
        return "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([fmt(header), rule, *(fmt(line) for line in body)])


def render_json(rows: Sequence[Row]) -> str:
    """The rows as a JSON array of objects."""
    return json.dumps([attrs.asdict(r) for r in rows], indent=2)
