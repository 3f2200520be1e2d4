"""
The incident's annotation lookup: ``strings.Split(annotationKey, ".")``.

From the stale-overlay write-up: the checksum calculator "split
fluxcd.io/checksum into ["fluxcd", "io/checksum"]" and "only checked for the
first element of the split array, so it looked for an annotation named
fluxcd instead of the full key". The annotation was never found, the
calculator fell back to the last recorded checksum, and every sync was
reported as unchanged.

Replaced by [`syncsafe.get_annotation`][syncsafe.annotations.get_annotation].
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["get_annotation"]


def get_annotation(obj: Mapping[str, object], key: str, default: str | None = None) -> str | None:
    """BUGGY: look up the first dot-separated part of *key* instead of the key."""
    parts = key.split(".")
    metadata = obj.get("metadata") or {}
    assert isinstance(metadata, Mapping)  # noqa: S101 - the original assumed it too
    annotations = metadata.get("annotations") or {}
    assert isinstance(annotations, Mapping)  # noqa: S101
    value = annotations.get(parts[0], default)
    assert value is None or isinstance(value, str)  # noqa: S101
    return value
