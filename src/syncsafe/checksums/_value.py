"""The result of a checksum: [`Checksum`][] (digest and manifest) and [`Changes`][]."""

from __future__ import annotations

import json
import operator
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final, Literal, final

import attrs

from syncsafe.annotations import AnnotationKey, get_annotation
from syncsafe.checksums._algorithms import BY_NAME, Algorithm, get_algorithm
from syncsafe.checksums._format import (
    FORMAT_NAME,
    FORMAT_VERSION,
    canonical_path_bytes,
    encode_sorted,
    path_bytes,
    paths_bytes,
    tree_digest,
)
from syncsafe.errors import CorruptManifest, IncomparableChecksums, NonCanonicalPath

__all__ = ["Changes", "Checksum"]


ChecksumKind = Literal["tree", "overlay"]
"""What made a checksum: `checksum` or `overlay_checksum`."""
_KINDS: Final = ("tree", "overlay")


@final
class _Files(Mapping[str, str]):
    """A read-only, picklable path -> digest mapping, ordered by path bytes."""

    __slots__ = ("_data",)

    def __init__(self, files: Mapping[str, str]) -> None:
        self._data = dict(sorted(files.items(), key=lambda item: path_bytes(item[0])))

    @classmethod
    def presorted(cls, files: dict[str, str]) -> _Files:
        """*files*, already in path-bytes order, taken without sorting again."""
        made = cls.__new__(cls)
        made._data = files  # noqa: SLF001 - our own constructor
        return made

    def __getitem__(self, path: str) -> str:
        return self._data[path]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return repr(self._data)

    def __reduce__(self) -> tuple[type[_Files], tuple[dict[str, str]]]:
        return type(self), (self._data,)


def _frozen_files(files: Mapping[str, str]) -> Mapping[str, str]:
    """A read-only copy of *files*, ordered by path bytes like the encoding."""
    return files if isinstance(files, _Files) else _Files(files)


def _sorted_remote(remote: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    return tuple(sorted(set(remote), key=str.encode))


@final
@attrs.frozen
class Changes:
    """
    What differs between two checksums, path by path, each tuple sorted by path bytes.

    ``added`` and ``removed`` also list remote references that appeared or
    disappeared. A ``Changes`` is true when anything changed.
    """

    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    modified: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.modified)


@final
@attrs.frozen
class Checksum:
    """
    The digest of a tree, and the manifest it was computed from.

    ``digest`` names its algorithm (``"xxh3-128:9f86d0..."``), so digests of
    different algorithms or format versions never compare equal as strings.
    ``files`` maps every hashed path (relative to the root, POSIX) to the
    hex digest of its content; ``remote`` lists references that could not be
    hashed (only [`overlay_checksum`][syncsafe.checksums.overlay_checksum] finds any).

    The digest is a function of the other fields alone (see
    ``docs/reference/checksum-format.md``), so a manifest stored as JSON can
    be checked and compared later: [`to_json`][syncsafe.checksums.Checksum.to_json],
    [`from_json`][syncsafe.checksums.Checksum.from_json],
    [`diff`][syncsafe.checksums.Checksum.diff].
    """

    digest: str
    algorithm: str
    files: Mapping[str, str] = attrs.field(converter=_frozen_files, hash=False)
    remote: tuple[str, ...] = attrs.field(default=(), converter=_sorted_remote)
    annotation_key: str | None = None
    """The annotation key the digest was computed for (it is part of the header)."""
    format_version: int = FORMAT_VERSION
    mode: str | None = None
    """
    How the files were read, when not the default: ``"load-restrictor=none"``
    for an overlay built without kustomize's load restriction. It is part of
    the header, so checksums of two modes never compare equal, and
    [`diff`][syncsafe.checksums.Checksum.diff] refuses to compare them.
    """
    kind: ChecksumKind | None = attrs.field(default=None, eq=False)
    """
    Which function made it: ``"tree"`` ([`checksum`][syncsafe.checksums.checksum]) or
    ``"overlay"`` ([`overlay_checksum`][syncsafe.checksums.overlay_checksum]); ``None`` for a
    manifest written before it was recorded, or one built by
    [`build`][syncsafe.checksums.Checksum.build] without it. The two name a file differently (a tree
    by its path through a symlink, an overlay by its physical path), so
    [`diff`][syncsafe.checksums.Checksum.diff] refuses to compare a tree with an overlay. It is not
    in the digest (a tree and an overlay that hash the same files under the same names have one
    digest, as they always had) and not compared by ``==``, which compares what the
    digest covers.
    """

    def __str__(self) -> str:
        return self.digest

    @classmethod
    def build(
        cls,
        algorithm: str,
        files: Mapping[str, str],
        remote: tuple[str, ...] | list[str] = (),
        annotation_key: str | AnnotationKey | None = None,
        mode: str | None = None,
        *,
        kind: ChecksumKind | None = None,
    ) -> Checksum:
        """
        The checksum of a manifest: *files* maps path to hex content digest.

        This is how a digest is recomputed from a stored manifest; it is also
        the whole of the tree digest's definition in code.

        Each path must be the one ``str`` of its bytes (decoded as UTF-8 with
        ``surrogateescape``, as `os.fsdecode` gives it): another
        spelling of the same bytes raises [`NonCanonicalPath`][syncsafe.errors.NonCanonicalPath],
        so that two different manifests never share a digest.
        """
        algo = get_algorithm(algorithm)
        key = None if annotation_key is None else str(_parse_key(annotation_key))
        pairs = [(canonical_path_bytes(p), bytes.fromhex(d)) for p, d in files.items()]
        digest = tree_digest(algo, key, pairs, remote, mode)
        return cls(digest, algo.name, files, tuple(remote), key, mode=mode, kind=kind)

    @classmethod
    def from_hashed(
        cls,
        algorithm: Algorithm,
        annotation_key: str | None,
        paths: list[str],
        digests: list[bytes],
        remote: tuple[str, ...] = (),
        *,
        mode: str | None = None,
        kind: ChecksumKind | None = None,
    ) -> Checksum:
        """The checksum of distinct *paths* with raw content *digests* (any order)."""
        raw = paths_bytes(paths)
        if not all(map(operator.lt, raw, raw[1:])):  # the walker's order is already this one
            order = sorted(range(len(raw)), key=raw.__getitem__)
            raw = [raw[i] for i in order]
            paths = [paths[i] for i in order]
            digests = [digests[i] for i in order]
        encoded = encode_sorted(algorithm.name, annotation_key, raw, digests, remote, mode=mode)
        digest = f"{algorithm.name}:{algorithm.oneshot(encoded).hex()}"
        files = _Files.presorted(dict(zip(paths, map(bytes.hex, digests), strict=True)))
        return cls(digest, algorithm.name, files, remote, annotation_key, mode=mode, kind=kind)

    def diff(self, other: Checksum) -> Changes:
        """
        What changed from *self* (old) to *other* (new): added, removed, modified paths.

        Raises [`IncomparableChecksums`][syncsafe.errors.IncomparableChecksums] when the two use
        different algorithms, format versions or modes (load restrictor,
        generator), or one is a tree and the other an overlay: their
        per-file digests, or their paths, cannot be compared. A checksum
        whose ``kind`` is not known (an older manifest) compares with either.
        """
        mine = (self.algorithm, self.format_version, self.mode)
        theirs = (other.algorithm, other.format_version, other.mode)
        kinds = {self.kind, other.kind} - {None}
        if mine != theirs or len(kinds) > 1:
            raise IncomparableChecksums(self._kind(), other._kind())
        old, new = self.files, other.files
        added = [p for p in new if p not in old]
        removed = [p for p in old if p not in new]
        modified = [p for p in new if p in old and old[p] != new[p]]
        old_remote, new_remote = set(self.remote), set(other.remote)
        added += [r for r in other.remote if r not in old_remote]
        removed += [r for r in self.remote if r not in new_remote]
        return Changes(
            added=tuple(sorted(added, key=path_bytes)),
            removed=tuple(sorted(removed, key=path_bytes)),
            modified=tuple(sorted(modified, key=path_bytes)),
        )

    def _kind(self) -> str:
        mode = "" if self.mode is None else f", {self.mode}"
        kind = "" if self.kind is None else f" {self.kind}"
        return f"{self.algorithm} (format {self.format_version}{mode}){kind}"

    def matches(self, stored: str | None) -> bool:
        """
        Whether *stored* (a digest read back from an annotation) is this digest.

        ``None`` (no annotation) never matches, so a missing annotation means
        "sync": the incident's calculator instead fell back to the last
        recorded value and reported every sync as unchanged. A digest of
        another algorithm or format never matches either.
        """
        return stored is not None and stored == self.digest

    def matches_annotation(
        self, obj: Mapping[str, object], key: str | AnnotationKey | None = None
    ) -> bool:
        """
        Whether the Kubernetes object *obj* carries this digest in annotation *key*.

        *key* defaults to the checksum's own ``annotation_key``. The key is
        looked up whole with [`get_annotation`][syncsafe.annotations.get_annotation], never split on
        dots; a missing annotation does not match.
        """
        chosen = key if key is not None else self.annotation_key
        if chosen is None:
            msg = "no annotation key: pass key=..., or compute the checksum with annotation_key"
            raise ValueError(msg)
        return self.matches(get_annotation(obj, chosen))

    def to_json(self, *, indent: int | None = 2) -> str:
        """The manifest as JSON text, which [`from_json`][] reads back (and verifies)."""
        document = {
            "format": FORMAT_NAME,
            "version": self.format_version,
            "algorithm": self.algorithm,
            "annotation_key": self.annotation_key,
            "digest": self.digest,
            "files": dict(self.files),
            "remote": list(self.remote),
        }
        if self.mode is not None:  # absent for the default, so its manifests stay as they were
            document["mode"] = self.mode
        if self.kind is not None:  # absent when not known: a manifest read from before it was
            document["kind"] = self.kind
        return json.dumps(document, indent=indent, ensure_ascii=True)

    @classmethod
    def from_json(cls, text: str | bytes, *, source: str = "<json>") -> Checksum:
        """
        Read a manifest written by [`to_json`][syncsafe.checksums.Checksum.to_json] and verify it.

        The digest is recomputed from the files and compared with the stored
        one, so a hand-edited or truncated manifest is an error, never a
        silently different checksum. Raises [`CorruptManifest`][syncsafe.errors.CorruptManifest]
        naming *source* and what is wrong.
        """
        try:
            document = json.loads(text)
        except (ValueError, UnicodeDecodeError) as exc:
            raise CorruptManifest(source, f"not JSON ({exc})") from None
        return _from_document(document, source)


def _parse_key(key: str | AnnotationKey) -> AnnotationKey:
    return key if isinstance(key, AnnotationKey) else AnnotationKey.parse(key)


def _check_files(files: object, algorithm: str, bad: Callable[[str], CorruptManifest]) -> None:
    if not isinstance(files, dict) or not all(isinstance(v, str) for v in files.values()):
        raise bad("'files' must map paths to hex digests")
    size = BY_NAME[algorithm].digest_size
    for path, digest in files.items():
        try:
            canonical_path_bytes(path)
        except NonCanonicalPath as exc:
            raise bad(str(exc)) from None
        try:
            raw = bytes.fromhex(digest)
        except ValueError:
            raise bad(f"digest of {path!r} is not hexadecimal") from None
        if len(raw) != size:
            raise bad(f"digest of {path!r} is {len(raw)} bytes, {algorithm} gives {size}")


_OPTIONAL: Final = {"mode", "kind"}
_FIELDS = {"format", "version", "algorithm", "annotation_key", "digest", "files", "remote"}


def _from_document(document: Any, source: str) -> Checksum:  # noqa: ANN401, C901 - untrusted JSON, one check per field
    def bad(problem: str) -> CorruptManifest:
        return CorruptManifest(source, problem)

    if not isinstance(document, dict):
        raise bad(f"expected a JSON object, got {type(document).__name__}")
    if document.get("format") != FORMAT_NAME:
        raise bad(f"'format' must be {FORMAT_NAME!r}")
    if set(document) - _OPTIONAL != _FIELDS:
        fields = set(document) - _OPTIONAL
        missing, extra = sorted(_FIELDS - fields), sorted(fields - _FIELDS)
        raise bad(f"fields missing: {missing or 'none'}; unknown: {extra or 'none'}")
    version = document["version"]
    if version != FORMAT_VERSION or isinstance(version, bool):
        raise bad(f"format version {version!r} is not supported (this is version 1)")
    algorithm = document["algorithm"]
    if algorithm not in BY_NAME:
        raise bad(f"unknown algorithm {algorithm!r}")
    files, remote, key = document["files"], document["remote"], document["annotation_key"]
    _check_files(files, algorithm, bad)
    if not isinstance(remote, list) or not all(isinstance(r, str) for r in remote):
        raise bad("'remote' must be a list of strings")
    if key is not None and not isinstance(key, str):
        raise bad("'annotation_key' must be a string or null")
    mode = document.get("mode")
    if mode is not None and (not isinstance(mode, str) or not mode):
        raise bad("'mode' must be a non-empty string when present")
    kind = document.get("kind")
    if kind is not None and kind not in _KINDS:
        raise bad(f"'kind' must be one of {', '.join(_KINDS)} when present, not {kind!r}")
    try:
        rebuilt = Checksum.build(algorithm, files, remote, key, mode, kind=kind)
    except ValueError as exc:  # an invalid annotation key
        raise bad(str(exc)) from None
    if rebuilt.digest != document["digest"]:
        raise bad(
            f"stored digest {document['digest']!r} does not match its files "
            f"({rebuilt.digest}): the manifest was edited or truncated"
        )
    return rebuilt
