"""
The digest algorithms a checksum can use, by name.

``xxh3-128`` is the default: non-cryptographic, very fast, and 128 bits wide
so that accidental collisions are out of reach for any repository. ``sha256``
is there for users whose threat model includes someone crafting collisions.
The tree digest and every per-file digest of one checksum use the same
algorithm.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Final, Protocol, final

import attrs
import xxhash

from syncsafe.errors import UnknownAlgorithm

__all__ = [
    "BY_NAME",
    "CHECKSUM_ALGORITHMS",
    "DEFAULT_ALGORITHM",
    "Algorithm",
    "Hasher",
    "get_algorithm",
]

DEFAULT_ALGORITHM: Final = "xxh3-128"


class Hasher(Protocol):
    """A streaming hash object: ``hashlib`` and ``xxhash`` objects both fit."""

    def update(self, data: bytes | bytearray | memoryview, /) -> None:
        """Feed *data*."""

    def digest(self) -> bytes:
        """The digest of everything fed so far."""


@final
@attrs.frozen
class Algorithm:
    """A named digest algorithm: a streaming constructor and a one-shot function."""

    name: str
    digest_size: int
    new: Callable[[], Hasher]
    oneshot: Callable[[bytes | bytearray | memoryview], bytes]


def _sha256(data: bytes | bytearray | memoryview) -> bytes:
    return hashlib.sha256(data).digest()


BY_NAME: Final[dict[str, Algorithm]] = {
    "xxh3-128": Algorithm("xxh3-128", 16, xxhash.xxh3_128, xxhash.xxh3_128_digest),
    "xxh3-64": Algorithm("xxh3-64", 8, xxhash.xxh3_64, xxhash.xxh3_64_digest),
    "sha256": Algorithm("sha256", 32, hashlib.sha256, _sha256),
}

CHECKSUM_ALGORITHMS: Final = tuple(BY_NAME)
"""The algorithm names, the default first: ``("xxh3-128", "xxh3-64", "sha256")``."""


def get_algorithm(name: str) -> Algorithm:
    """The algorithm called *name*, or [`UnknownAlgorithm`][syncsafe.errors.UnknownAlgorithm]."""
    try:
        return BY_NAME[name]
    except (KeyError, TypeError):
        raise UnknownAlgorithm(str(name), CHECKSUM_ALGORITHMS) from None
