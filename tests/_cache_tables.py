"""The cache's tables, read as ChecksumCache.lookup() once did, for tests of what a cache holds."""

from __future__ import annotations

from syncsafe import ChecksumCache
from syncsafe.walker._entry import StatKey

__all__ = ["entries", "lookup"]


def lookup(cache: ChecksumCache, algorithm: str, key: StatKey) -> bytes | None:
    """The digest *cache* holds for stat *key*, or None: counted as a hit or a miss, kept live."""
    table, live = cache._tables(algorithm)
    digest = table.get(key)
    if digest is None:
        cache.misses += 1
        return None
    cache.hits += 1
    live[key] = digest
    return digest


def entries(cache: ChecksumCache, algorithm: str) -> dict[StatKey, bytes]:
    """Every entry of *algorithm* that *cache* loaded or recorded."""
    return cache._tables(algorithm)[0]
