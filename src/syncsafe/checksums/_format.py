"""
The canonical encoding that a tree digest is the hash of (format version 1).

The whole specification is ``docs/reference/checksum-format.md``; in short:

    field(x)  = len(x) as 8 bytes, big-endian || x
    header    = field("syncsafe-checksum") || field("1") || field(algorithm)
                || field(annotation key, or empty)
                [|| field("m") || field(mode) || field("")]   only for a non-default mode
    file      = field("f") || field(path) || field(digest of the content)
    remote    = field("r") || field(reference) || field("")
    encoding  = header || files sorted by path bytes || remotes sorted by bytes
    digest    = algorithm || ":" || hex(H(encoding))

Every field carries its length, so no two different trees give the same
encoding (files ``a``=``bc`` and ``ab``=``c`` cannot collide the way a plain
concatenation does); the content enters as its own digest, so a file's
digest can be cached and the tree digest recomputed from a manifest.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from itertools import repeat
from typing import TYPE_CHECKING, Final

from syncsafe.errors import NonCanonicalPath

if TYPE_CHECKING:
    from syncsafe.checksums._algorithms import Algorithm

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "TAG_FILE",
    "TAG_MODE",
    "TAG_REMOTE",
    "canonical_path_bytes",
    "encode",
    "encode_sorted",
    "field",
    "path_bytes",
    "paths_bytes",
    "tree_digest",
]

FORMAT_NAME: Final = "syncsafe-checksum"
FORMAT_VERSION: Final = 1
TAG_FILE: Final = b"f"
TAG_REMOTE: Final = b"r"
TAG_MODE: Final = b"m"

_FILE_TAG_FIELD: Final = len(TAG_FILE).to_bytes(8, "big") + TAG_FILE
_REMOTE_TAG_FIELD: Final = len(TAG_REMOTE).to_bytes(8, "big") + TAG_REMOTE
_TABLE: Final = 1024
_LENGTHS: Final = tuple(n.to_bytes(8, "big") for n in range(_TABLE))


def field(data: bytes) -> bytes:
    """*data* prefixed with its length as an unsigned 64-bit big-endian integer."""
    return len(data).to_bytes(8, "big") + data


_FS_ENCODING: Final = sys.getfilesystemencoding()
_FS_ERRORS: Final = sys.getfilesystemencodeerrors()


def path_bytes(path: str) -> bytes:
    """A manifest path as the bytes the file system knows it by (undoing surrogateescape)."""
    return path.encode(_FS_ENCODING, _FS_ERRORS)  # os.fsencode, without its type checks


def canonical_path_bytes(path: str) -> bytes:
    r"""
    `path_bytes` of *path*, which must be the one ``str`` of those bytes.

    Surrogateescape makes the encoding many-to-one: ``"é"`` and
    ``"\udcc3\udca9"`` are both the bytes ``c3 a9``. A path read from the
    file system is always the decoding of its bytes; a path from anywhere
    else (a manifest, a caller's mapping) is refused with
    [`NonCanonicalPath`][syncsafe.errors.NonCanonicalPath] unless it is that decoding, so that one
    sequence of bytes is one path, and one manifest one digest.
    """
    try:
        raw = path.encode(_FS_ENCODING, _FS_ERRORS)
    except UnicodeEncodeError:  # a surrogate surrogateescape never makes
        raise NonCanonicalPath(path, None) from None
    if not path.isascii():
        canonical = raw.decode(_FS_ENCODING, _FS_ERRORS)
        if canonical != path:
            raise NonCanonicalPath(path, canonical)
    return raw


def paths_bytes(paths: list[str]) -> list[bytes]:
    """`path_bytes` of each of *paths*, in one C loop."""
    return list(map(str.encode, paths, repeat(_FS_ENCODING), repeat(_FS_ERRORS)))


def encode(
    algorithm: str,
    annotation_key: str | None,
    files: Iterable[tuple[bytes, bytes]],
    remote: Iterable[str] = (),
    mode: str | None = None,
) -> bytes:
    """
    The canonical encoding: header, then *files* and *remote* sorted by bytes.

    *files* are ``(path bytes, content digest)`` pairs. Sorting here, not in
    the caller, means no caller can get the order wrong.
    """
    ordered = sorted(files)
    return encode_sorted(
        algorithm,
        annotation_key,
        [p for p, _ in ordered],
        [d for _, d in ordered],
        remote,
        mode=mode,
    )


def encode_sorted(
    algorithm: str,
    annotation_key: str | None,
    paths: list[bytes],
    digests: list[bytes],
    remote: Iterable[str] = (),
    *,
    mode: str | None = None,
) -> bytes:
    """
    `encode` for *paths* already sorted (and unique), with their *digests*.

    *mode* names a way of reading other than the default (an overlay built
    with ``load-restrictor=none``); it is a header entry tagged ``m``, absent
    for the default, so the default's digests are those it always had.
    """
    parts = [
        field(FORMAT_NAME.encode()),
        field(str(FORMAT_VERSION).encode()),
        field(algorithm.encode("ascii")),
        field(b"" if annotation_key is None else annotation_key.encode()),
    ]
    extend = parts.extend
    if mode is not None:
        extend((field(TAG_MODE), field(mode.encode()), field(b"")))
    if len(paths) != len(digests):
        msg = f"{len(paths)} paths but {len(digests)} digests"
        raise ValueError(msg)
    if paths and max(map(len, paths)) < _TABLE and max(map(len, digests)) < _TABLE:
        lengths = _LENGTHS  # the common case: the length fields from a table
        for path, digest in zip(paths, digests, strict=True):
            extend((_FILE_TAG_FIELD, lengths[len(path)], path, lengths[len(digest)], digest))
    else:
        for path, digest in zip(paths, digests, strict=True):
            extend((_FILE_TAG_FIELD, field(path), field(digest)))
    for reference in sorted(r.encode() for r in remote):
        extend((_REMOTE_TAG_FIELD, field(reference), field(b"")))
    return b"".join(parts)


def tree_digest(
    algorithm: Algorithm,
    annotation_key: str | None,
    files: Iterable[tuple[bytes, bytes]],
    remote: Iterable[str] = (),
    mode: str | None = None,
) -> str:
    """``"<algorithm>:<hex>"``: the hash of `encode` with *algorithm* itself."""
    encoded = encode(algorithm.name, annotation_key, files, remote, mode)
    return f"{algorithm.name}:{algorithm.oneshot(encoded).hex()}"
