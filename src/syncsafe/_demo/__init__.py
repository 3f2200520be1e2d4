"""
``syncsafe demo``: every documented incident, buggy vs fixed, on embedded data.

Each scenario lives in its own module here and returns
`Row` values: one per variant it ran, saying
what happened and whether that was correct. The demo needs no network, no
arguments and no files outside a temporary directory it cleans up. This
package's own module names only the scenarios, so that registering the
command (``syncsafe --help``) loads nothing else.
"""

# No ``from __future__ import annotations`` here: it would bind the name
# ``annotations`` in this package to a ``__future__`` feature object, shadowing
# the ``annotations`` submodule for ``from ... import annotations``.

__all__ = ["SCENARIOS"]

# (scenario key, module): imported only when the demo runs, in this order.
SCENARIOS = (
    ("guard", "syncsafe._demo.guard"),
    ("partition", "syncsafe._demo.partition"),
    ("paths", "syncsafe._demo.paths"),
    ("annotations", "syncsafe._demo.annotations"),
    ("storm", "syncsafe._demo.storm"),
    ("staleness", "syncsafe._demo.stale"),
    ("checksum", "syncsafe._demo.checksum"),
)
