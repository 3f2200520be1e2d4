"""
Tree checksums that cannot miss a change: canonical, location-independent, complete.

- [`checksum`][syncsafe.checksums.checksum]: every file under a path, read through
  [`syncsafe.walker.walk`][syncsafe.walker.walk] (symlinks followed while they stay inside the
  root), hidden files included, ``.git`` and ``.sourceignore`` patterns
  excluded;
- [`overlay_checksum`][syncsafe.checksums.overlay_checksum]: exactly the files ``kustomize build``
  reads for an overlay, remote bases listed, under kustomize's load restrictor
  ([`LOAD_RESTRICTORS`][syncsafe.checksums.LOAD_RESTRICTORS]), or as Flux builds a directory without
  a kustomization file ([`GENERATE_MODES`][syncsafe.checksums.GENERATE_MODES]);
- [`Checksum`][syncsafe.checksums.Checksum]: the digest (``"xxh3-128:<hex>"``, the algorithm named
  in it), the manifest of per-file digests, [`diff`][syncsafe.checksums.Checksum.diff], a JSON
  round trip and the comparison with an annotation's value;
- [`ChecksumCache`][syncsafe.checksums.ChecksumCache]: per-file digests reused across runs by
  ``stat``, with git's racy-clean rule.

The digest is the hash of one canonical, versioned encoding (header, then
length-prefixed entries sorted by path bytes), specified in
``docs/reference/checksum-format.md``. It replaces the incident's
``calculateChecksum`` ([`syncsafe.buggy.checksum`][syncsafe.buggy.checksum]).

!!! note "Added in version 0.1.0"
"""

from __future__ import annotations

from syncsafe.checksums._algorithms import CHECKSUM_ALGORITHMS
from syncsafe.checksums._cache import ChecksumCache, ChecksumCacheWarning
from syncsafe.checksums._format import FORMAT_VERSION as CHECKSUM_FORMAT_VERSION
from syncsafe.checksums._tree import checksum
from syncsafe.checksums._value import Changes, Checksum

TYPE_CHECKING = False
if TYPE_CHECKING:
    from syncsafe.checksums._overlay import GENERATE_MODES, LOAD_RESTRICTORS, overlay_checksum

__all__ = [
    "CHECKSUM_ALGORITHMS",
    "CHECKSUM_FORMAT_VERSION",
    "GENERATE_MODES",
    "LOAD_RESTRICTORS",
    "Changes",
    "Checksum",
    "ChecksumCache",
    "ChecksumCacheWarning",
    "checksum",
    "overlay_checksum",
]


def __getattr__(name: str) -> object:
    # The overlay closure loads on first use: it needs a YAML parser, which a
    # tree checksum (``syncsafe checksum .`` in a pre-commit hook) does not.
    if name in {"GENERATE_MODES", "LOAD_RESTRICTORS", "overlay_checksum"}:
        from syncsafe.checksums import _overlay  # noqa: PLC0415

        value: object = getattr(_overlay, name)
        globals()[name] = value
        return value
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)
