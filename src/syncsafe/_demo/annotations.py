"""The dotted annotation key: the stale-overlay incident's lookup, buggy vs fixed."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from syncsafe._demo._table import Row
from syncsafe.annotations import get_annotation
from syncsafe.buggy import annotations as buggy

INCIDENT = "dotted annotation key"
KEY = "fluxcd.io/checksum"
# The object in the cluster carries the checksum of what was applied six
# weeks ago; the repository now renders something else.
APPLIED = "xxh3-128:6c0e3a51b5a3f2a0d8d3c1f0e2b4a697"
RENDERED = "xxh3-128:0b9d4e7c5f1a2e3d4c5b6a7980f1e2d3"
LAST_RECORDED = RENDERED  # the fallback the buggy calculator used when the lookup missed
OBJECT: Mapping[str, object] = {
    "apiVersion": "networking.k8s.io/v1",
    "kind": "Ingress",
    "metadata": {"name": "payments", "namespace": "prod-apps", "annotations": {KEY: APPLIED}},
}

Lookup = Callable[[Mapping[str, object], str], "str | None"]


def _decide(lookup: Lookup) -> tuple[str, bool]:
    """The sync decision: apply when the cluster's checksum differs from the render."""
    found = lookup(OBJECT, KEY)
    stored = LAST_RECORDED if found is None else found
    changed = stored != RENDERED
    seen = "not found, fell back to the last recorded checksum" if found is None else "found"
    verdict = "changed: sync applies the new config" if changed else "unchanged: sync skipped"
    return f"{KEY}: {seen}; {verdict}", changed


def run() -> list[Row]:
    """Look the checksum up both ways and decide whether to sync."""
    buggy_outcome, buggy_changed = _decide(buggy.get_annotation)
    fixed_outcome, fixed_changed = _decide(get_annotation)
    return [
        Row(INCIDENT, "buggy", "split on '.'", buggy_outcome, buggy_changed),
        Row(INCIDENT, "fixed", "get_annotation", fixed_outcome, fixed_changed),
    ]
