"""A fence for a Kubernetes object: the generation in an annotation, with a resourceVersion."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from syncsafe.errors import FencedOut

__all__ = ["GENERATION_ANNOTATION", "fenced_patch"]

GENERATION_ANNOTATION: Final = "syncsafe.io/generation"
"""The annotation [`fenced_patch`][] keeps the newest accepted generation in."""


def fenced_patch(
    obj: Mapping[str, Any],
    generation: int,
    patch: Mapping[str, Any] | None = None,
    *,
    annotation: str = GENERATION_ANNOTATION,
) -> dict[str, Any]:
    """
    A JSON merge patch of *obj* that only the newest run may apply: its fence on the API server.

    *obj* is the object as last read (a dict, as the API returns it);
    *generation* the run's ``Outcome.generation`` (or ``current_run().generation``);
    *patch* the change itself. The result adds, under ``metadata``, the
    read ``resourceVersion`` (a precondition: the API server refuses the
    patch with 409 Conflict if anyone wrote the object since it was read)
    and *annotation* set to *generation*. On a conflict, read the object
    again and call this again: a newer run's write shows as a higher
    generation in the annotation, and this raises.

    Pure: it only builds the patch; send it with any client, e.g.
    ``api.patch_namespaced_config_map(name, ns, body)`` (a merge patch).

    :raises FencedOut: *obj* already carries a generation at or above
        *generation*: a newer run (or this one) wrote it, and this write is late.
    :raises ValueError: *obj* has no ``metadata.resourceVersion``, so the
        patch could not be made conditional.
    """
    metadata = obj.get("metadata") or {}
    version = metadata.get("resourceVersion")
    if not version:
        msg = "the object has no metadata.resourceVersion: read it from the API server first"
        raise ValueError(msg)
    stored = (metadata.get("annotations") or {}).get(annotation)
    target = "/".join(str(p) for p in (metadata.get("namespace"), metadata.get("name")) if p)
    if stored is not None and _as_int(stored) >= generation:
        raise FencedOut(annotation, generation, target or "the object")
    body: dict[str, Any] = {k: v for k, v in (patch or {}).items() if k != "metadata"}
    given = dict((patch or {}).get("metadata") or {})
    annotations = dict(given.get("annotations") or {})
    annotations[annotation] = str(generation)
    given.update(resourceVersion=version, annotations=annotations)
    body["metadata"] = given
    return body


def _as_int(text: object) -> int:
    """A stored generation; one that is not a number fences everything out (fail closed)."""
    try:
        return int(str(text))
    except ValueError:
        return 1 << 63
