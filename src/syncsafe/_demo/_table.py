"""The demo's rows: running the scenarios, and printing what each variant did."""

from __future__ import annotations

import importlib
import json
import shutil
import textwrap
from collections.abc import Callable, Sequence
from typing import Final, Literal

import attrs

from syncsafe._demo import SCENARIOS

__all__ = ["Row", "render_json", "render_table", "run_all"]

Variant = Literal["buggy", "attempted fix", "fixed"]
"""The incident's code; the fix its write-up proposed, which still fails; syncsafe."""

# How the table names each variant.
LABELS: Final[dict[str, str]] = {
    "buggy": "incident code",
    "attempted fix": "attempted fix",
    "fixed": "syncsafe",
}
_MIN_WIDTH: Final = 40
_MAX_WIDTH: Final = 100  # longer lines are harder to read, however wide the terminal


@attrs.frozen
class Row:
    """One variant's run of one incident scenario."""

    incident: str
    variant: Variant
    name: str
    """The code that ran: the incident's reproduction, its attempted fix, or syncsafe's."""
    outcome: str
    """What happened, in one line."""
    correct: bool
    """Whether that outcome is the right one."""


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


def render_table(rows: Sequence[Row], width: int | None = None) -> str:
    """
    The rows as text that fits *width* columns (default: the terminal's).

    One block per incident: a line per variant with its verdict first (so it
    shows at any width), what ran, then what happened, wrapped and indented.
    The last line counts the verdicts.
    """
    if width is None:
        width = shutil.get_terminal_size((80, 24)).columns
    width = max(_MIN_WIDTH, min(width, _MAX_WIDTH))
    label_width = max(len(label) for label in LABELS.values())
    lines: list[str] = []
    incident = None
    for r in rows:
        if r.incident != incident:
            lines += [*([""] if lines else []), r.incident]
            incident = r.incident
        verdict = "ok" if r.correct else "WRONG"
        head = f"  {verdict:<5}  {LABELS[r.variant]:<{label_width}}  {r.name}"
        lines += textwrap.wrap(head, width, subsequent_indent=" " * 9)
        lines += textwrap.wrap(r.outcome, width, initial_indent=" " * 9, subsequent_indent=" " * 9)
    fixed = [r for r in rows if r.variant == "fixed"]
    others = [r for r in rows if r.variant != "fixed"]
    summary = (
        f"syncsafe right in {sum(r.correct for r in fixed)} of {len(fixed)}; the incident's "
        f"code and attempted fixes right in {sum(r.correct for r in others)} of {len(others)}"
    )
    lines += ["", *textwrap.wrap(summary, width)]
    return "\n".join(lines)


def render_json(rows: Sequence[Row]) -> str:
    """The rows as a JSON array of objects."""
    return json.dumps([attrs.asdict(r) for r in rows], indent=2)
