from __future__ import annotations

import hashlib
import json
import pickle

import pytest
import xxhash

from syncsafe import (
    CHECKSUM_ALGORITHMS,
    Changes,
    Checksum,
    CorruptManifest,
    IncomparableChecksums,
    InvalidAnnotationKey,
    NonCanonicalPath,
    UnknownAlgorithm,
)
from syncsafe.checksums._format import encode

EMPTY_XXH3_128 = xxhash.xxh3_128_hexdigest(b"")
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


def _field(data: bytes) -> bytes:
    return len(data).to_bytes(8, "big") + data


def test_encoding_is_the_documented_one() -> None:
    """The encoding is the header then tag, path, digest fields, written out by hand here."""
    digest_a, digest_b = bytes(range(16)), bytes(range(16, 32))
    expected = (
        _field(b"syncsafe-checksum")
        + _field(b"1")
        + _field(b"xxh3-128")
        + _field(b"fluxcd.io/checksum")
        + _field(b"f")
        + _field(b"a/b.yaml")
        + _field(digest_b)
        + _field(b"f")
        + _field(b"a\xc3\xa9.yaml")
        + _field(digest_a)
        + _field(b"r")
        + _field(b"github.com/org/repo//x?ref=v1")
        + _field(b"")
    )
    files = [("aé.yaml".encode(), digest_a), (b"a/b.yaml", digest_b)]
    remote = ["github.com/org/repo//x?ref=v1"]
    assert expected == encode("xxh3-128", "fluxcd.io/checksum", files, remote)


def test_golden_digest_from_the_format_page() -> None:
    """The worked example in docs/reference/checksum-format.md gives this exact digest."""
    files = {
        "kustomization.yaml": xxhash.xxh3_128_hexdigest(b"resources:\n- ingress.yaml\n"),
        "ingress.yaml": xxhash.xxh3_128_hexdigest(b"kind: Ingress\n"),
    }
    result = Checksum.build("xxh3-128", files, annotation_key="fluxcd.io/checksum")
    encoded = encode(
        "xxh3-128",
        "fluxcd.io/checksum",
        [(p.encode(), bytes.fromhex(d)) for p, d in files.items()],
    )
    assert result.digest == "xxh3-128:" + xxhash.xxh3_128_hexdigest(encoded)
    assert result.digest == GOLDEN


GOLDEN = "xxh3-128:f3c88ad203c113ac9d5b529901f5dfa9"


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ({"a": b"bc"}, {"ab": b"c"}),  # the concatenation ambiguity
        ({"a": b"1", "b": b"2"}, {"a": b"2", "b": b"1"}),  # swapped contents
        ({"a": b""}, {}),  # an empty file is a file
        ({"a/b": b""}, {"a": b""}),
    ],
)
def test_different_trees_different_digests(left: dict[str, bytes], right: dict[str, bytes]) -> None:
    """Length prefixes and per-path digests keep trees that concatenate alike apart."""

    def manifest(tree: dict[str, bytes]) -> Checksum:
        return Checksum.build(
            "xxh3-128", {p: xxhash.xxh3_128_hexdigest(c) for p, c in tree.items()}
        )

    assert manifest(left).digest != manifest(right).digest


def test_the_algorithm_and_key_are_in_the_header() -> None:
    """The same files under another algorithm or annotation key never give the same digest."""
    sha = Checksum.build("sha256", {"a": EMPTY_SHA256})
    xxh = Checksum.build("xxh3-128", {"a": EMPTY_XXH3_128})
    keyed = Checksum.build("xxh3-128", {"a": EMPTY_XXH3_128}, annotation_key="fluxcd.io/checksum")
    assert sha.digest.startswith("sha256:")
    assert len(sha.digest) == len("sha256:") + 64
    assert xxh.digest.startswith("xxh3-128:")
    assert len({sha.digest, xxh.digest, keyed.digest}) == 3
    assert keyed.annotation_key == "fluxcd.io/checksum"


def test_every_algorithm_is_known_and_the_default_first() -> None:
    """The three algorithms, xxh3-128 first, each giving its own digest width."""
    assert ("xxh3-128", "xxh3-64", "sha256") == CHECKSUM_ALGORITHMS
    widths = {
        name: len(Checksum.build(name, {}).digest.split(":")[1]) for name in CHECKSUM_ALGORITHMS
    }
    assert {"xxh3-128": 32, "xxh3-64": 16, "sha256": 64} == widths


def test_unknown_algorithm_names_the_choices() -> None:
    """An unknown algorithm is a ValueError listing the known ones."""
    with pytest.raises(UnknownAlgorithm) as info:
        Checksum.build("md5", {})
    assert (
        str(info.value) == "unknown checksum algorithm 'md5': use one of xxh3-128, xxh3-64, sha256"
    )
    assert isinstance(info.value, ValueError)


def test_invalid_annotation_key_is_rejected() -> None:
    """The annotation key in the header is validated like any annotation key."""
    with pytest.raises(InvalidAnnotationKey):
        Checksum.build("xxh3-128", {}, annotation_key="fluxcd.io/check/sum")


def test_files_are_read_only_and_ordered_by_path_bytes() -> None:
    """The manifest is frozen and iterates in the encoding's order."""
    result = Checksum.build(
        "xxh3-64", {"b": "00" * 8, "a/z": "11" * 8, "a": "22" * 8, "a.b": "33" * 8}
    )
    assert ["a", "a.b", "a/z", "b"] == list(result.files)
    with pytest.raises(TypeError):
        result.files["c"] = "00"  # type: ignore[index]
    assert str(result) == result.digest


def test_diff_names_added_removed_modified_and_remote() -> None:
    """Diff lists each kind of change sorted, remotes with the files; no change is falsy."""
    old = Checksum.build("xxh3-64", {"a": "00" * 8, "b": "11" * 8, "c": "22" * 8}, ["https://x/1"])
    new = Checksum.build("xxh3-64", {"b": "11" * 8, "c": "33" * 8, "d": "44" * 8}, ["https://x/2"])
    changes = old.diff(new)
    assert (
        Changes(added=("d", "https://x/2"), removed=("a", "https://x/1"), modified=("c",))
        == changes
    )
    assert changes
    assert not old.diff(old)
    assert Changes() == old.diff(old)


def test_diff_refuses_other_algorithms() -> None:
    """Per-file digests of different algorithms cannot be compared."""
    with pytest.raises(
        IncomparableChecksums, match=r"xxh3-128 \(format 1\) checksum against a sha256"
    ):
        Checksum.build("xxh3-128", {}).diff(Checksum.build("sha256", {}))


def test_json_round_trip() -> None:
    """to_json then from_json gives an equal checksum, verified against its digest."""
    original = Checksum.build(
        "sha256", {"a.yaml": EMPTY_SHA256, "\udcff.yaml": EMPTY_SHA256}, ["https://x"], "a/b"
    )
    clone = Checksum.from_json(original.to_json())
    assert original == clone
    assert original.digest == clone.digest
    assert json.loads(original.to_json())["files"] == dict(original.files)
    assert pickle.loads(pickle.dumps(original)) == original  # noqa: S301 - our own data


def _document(**changes: object) -> str:
    base = json.loads(Checksum.build("xxh3-64", {"a": "00" * 8}, ["https://x"]).to_json())
    base.update(changes)
    return json.dumps(base)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("{", "not JSON"),
        ("[]", "expected a JSON object, got list"),
        (_document(format="other"), "'format' must be 'syncsafe-checksum'"),
        (_document(extra=1), "unknown: ['extra']"),
        (_document(version=2), "format version 2 is not supported"),
        (_document(version=True), "format version True is not supported"),
        (_document(algorithm="md5"), "unknown algorithm 'md5'"),
        (_document(files=[]), "'files' must map paths to hex digests"),
        (_document(files={"a": "zz"}), "digest of 'a' is not hexadecimal"),
        (_document(files={"a": "00"}), "digest of 'a' is 1 bytes, xxh3-64 gives 8"),
        (_document(remote="x"), "'remote' must be a list of strings"),
        (_document(annotation_key=3), "'annotation_key' must be a string or null"),
        (_document(annotation_key="a/b/c"), "invalid key 'a/b/c'"),
        (_document(files={"a": "11" * 8}), "does not match its files"),
        (_document(digest="xxh3-64:0"), "does not match its files"),
        (_document(files={"\udcc3\udca9": "00" * 8}), "must be written '\xe9'"),
        (_document(files={"\xe9": "00" * 8, "\udcc3\udca9": "00" * 8}), "must be written"),
        (_document(files={"\ud800": "00" * 8}), "cannot be encoded to bytes"),
    ],
)
def test_corrupt_manifests_are_errors(text: str, problem: str) -> None:
    """Every way a manifest can be wrong is a CorruptManifest naming the source and problem."""
    with pytest.raises(CorruptManifest) as info:
        Checksum.from_json(text, source="old.json")
    assert info.value.source == "old.json"
    assert problem in info.value.problem
    assert str(info.value).startswith("checksum manifest old.json is corrupt: ")


def test_matches_an_annotation_value() -> None:
    """Only the exact digest string matches; a missing annotation never does."""
    result = Checksum.build("xxh3-64", {"a": "00" * 8}, annotation_key="fluxcd.io/checksum")
    assert result.matches(result.digest)
    assert not result.matches(None)
    assert not result.matches(result.digest.split(":")[1])
    applied = {"metadata": {"annotations": {"fluxcd.io/checksum": result.digest}}}
    assert result.matches_annotation(applied)
    assert not result.matches_annotation({"metadata": {"annotations": {"fluxcd": result.digest}}})
    assert not result.matches_annotation(applied, "example.com/other")


def test_matches_annotation_needs_a_key() -> None:
    """Without a key on the checksum or in the call there is nothing to look up."""
    with pytest.raises(ValueError, match="no annotation key"):
        Checksum.build("xxh3-64", {}).matches_annotation({})


def test_a_path_has_one_spelling() -> None:
    """Checksum.build refuses an escaped spelling of valid UTF-8; composed and decomposed differ."""
    digest = "00" * 16
    with pytest.raises(NonCanonicalPath) as info:
        Checksum.build("xxh3-128", {"\udcc3\udca9.yaml": digest})
    assert ("\udcc3\udca9.yaml", "\xe9.yaml") == (info.value.path, info.value.canonical)
    assert "surrogateescape" in str(info.value)
    with pytest.raises(NonCanonicalPath, match="cannot be encoded") as unencodable:
        Checksum.build("xxh3-128", {"\ud800": digest})
    assert unencodable.value.canonical is None
    composed = Checksum.build("xxh3-128", {"\xe9": digest})
    decomposed = Checksum.build("xxh3-128", {"e\u0301": digest})
    assert composed.digest != decomposed.digest  # not normalisation: two byte strings
    invalid = Checksum.build("xxh3-128", {"\udcc3": digest})  # a lone byte: its only spelling
    assert invalid == Checksum.from_json(invalid.to_json())
