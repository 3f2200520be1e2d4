from __future__ import annotations

import pytest

import syncsafe
from syncsafe import AnnotationKey, InvalidAnnotationKey
from syncsafe.buggy import annotations as buggy

# The vectors of apimachinery's TestIsQualifiedName (validation_test.go).
K8S_GOOD = [
    "simple",
    "now-with-dashes",
    "1-starts-with-num",
    "1234",
    "simple/simple",
    "now-with-dashes/simple",
    "now-with-dashes/now-with-dashes",
    "now.with.dots/simple",
    "now-with.dashes-and.dots/simple",
    "1-num.2-num/3-num",
    "1234/5678",
    "1.2.3.4/5678",
    "Uppercase_Is_OK_123",
    "example.com/Uppercase_Is_OK_123",
    "requests.storage-foo",
    "a" * 63,
    "a" * 253 + "/" + "b" * 63,
]
K8S_BAD = [
    "nospecialchars%^=@",
    "cantendwithadash-",
    "-cantstartwithadash-",
    "only/one/slash",
    "Example.com/abc",  # bad as a label key; fine as an annotation key (lowercased)
    "example_com/abc",
    "example.com/",
    "/simple",
    "a" * 64,
    "a" * 254 + "/abc",
]


@pytest.mark.parametrize("text", K8S_GOOD)
def test_kubernetes_good_values(text: str) -> None:
    """Every key the API server accepts as a qualified name parses, both kinds."""
    for kind in ("annotation", "label"):
        assert str(AnnotationKey.parse(text, kind=kind)) == text


@pytest.mark.parametrize("text", K8S_BAD)
def test_kubernetes_bad_values_as_label_keys(text: str) -> None:
    """Every key the API server rejects as a qualified name is rejected as a label key."""
    with pytest.raises(InvalidAnnotationKey) as info:
        AnnotationKey.parse(text, kind="label")
    assert info.value.key == text
    assert info.value.problems


@pytest.mark.parametrize("text", [t for t in K8S_BAD if t != "Example.com/abc"])
def test_kubernetes_bad_values_as_annotation_keys(text: str) -> None:
    """Lowercasing rescues no other bad value."""
    with pytest.raises(InvalidAnnotationKey):
        AnnotationKey.parse(text)


def test_uppercase_prefix_is_valid_for_annotations_and_kept_as_written() -> None:
    """Annotation keys are validated lowercased, but the key keeps its case."""
    key = AnnotationKey.parse("Example.com/abc")
    assert ("Example.com", "abc") == (key.prefix, key.name)
    assert str(key) == "Example.com/abc"
    assert AnnotationKey.parse("example.com/abc") != key


def test_split_is_on_the_slash_never_on_dots() -> None:
    """The incident's key: prefix fluxcd.io, name checksum."""
    key = AnnotationKey.parse("fluxcd.io/checksum")
    assert ("fluxcd.io", "checksum") == (key.prefix, key.name)
    bare = AnnotationKey.parse("my.dotted.name")
    assert (None, "my.dotted.name") == (bare.prefix, bare.name)


@pytest.mark.parametrize(
    ("text", "problems"),
    [
        ("", ["name part must be non-empty", "name part must consist of"]),
        ("/", ["prefix part must be non-empty", "name part must be non-empty", "name part must"]),
        ("a" * 64, ["name part must be no more than 63 characters"]),
        ("-" * 64, ["name part must be no more than 63 characters", "name part must consist"]),
        ("x_y.com/-a-", ["prefix part must be a lowercase RFC 1123", "name part must consist"]),
        ("a" * 254 + "/b", ["prefix part must be no more than 253 characters"]),
        ("a..b/c", ["prefix part must be a lowercase RFC 1123"]),
        ("a/b/c", ["one '/' (e.g. 'example.com/MyName'), but it has 2 slashes"]),
    ],
)
def test_every_broken_rule_is_listed(text: str, problems: list[str]) -> None:
    """Like the Kubernetes validators, the error lists every rule, in order."""
    with pytest.raises(InvalidAnnotationKey) as info:
        AnnotationKey.parse(text)
    assert len(info.value.problems) == len(problems)
    for got, expected in zip(info.value.problems, problems, strict=True):
        assert expected in got
    assert repr(text) in str(info.value)


@pytest.mark.parametrize("text", ["a\n", "fluxcd.io/checksum\n", "\nabc", "a b", "é", "\u212aey"])
def test_whole_string_ascii_matching(text: str) -> None:
    """A trailing newline, whitespace or non-ASCII letters never pass."""
    with pytest.raises(InvalidAnnotationKey):
        AnnotationKey.parse(text)


def test_non_string_is_a_type_error() -> None:
    """Parsing bytes is a programming error, not an invalid key."""
    with pytest.raises(TypeError, match="must be a str, not bytes"):
        AnnotationKey.parse(b"a/b")  # type: ignore[arg-type]


def test_direct_construction_validates() -> None:
    """AnnotationKey(prefix, name) cannot build an invalid key."""
    assert str(AnnotationKey("example.com", "x")) == "example.com/x"
    with pytest.raises(InvalidAnnotationKey):
        AnnotationKey("example.com", "a/b")


def test_jsonpath_escapes_dots() -> None:
    """Kubectl reads an unescaped dot as a path separator."""
    key = AnnotationKey.parse("fluxcd.io/checksum")
    assert key.jsonpath == r"{.metadata.annotations.fluxcd\.io/checksum}"
    label = AnnotationKey.parse("app.kubernetes.io/name", kind="label")
    assert label.jsonpath == r"{.metadata.labels.app\.kubernetes\.io/name}"


def test_get_annotation_exact_key() -> None:
    """The whole key is looked up; the dot-split part is not."""
    obj = {"metadata": {"annotations": {"fluxcd.io/checksum": "abc", "fluxcd": "decoy"}}}
    assert syncsafe.get_annotation(obj, "fluxcd.io/checksum") == "abc"
    assert syncsafe.get_annotation(obj, AnnotationKey.parse("fluxcd.io/checksum")) == "abc"
    assert syncsafe.get_annotation(obj, "example.com/x") is None
    assert syncsafe.get_annotation(obj, "example.com/x", "dflt") == "dflt"


@pytest.mark.parametrize(
    "obj",
    [{}, {"metadata": None}, {"metadata": {}}, {"metadata": {"annotations": None}}],
)
def test_get_annotation_tolerates_missing_parts(obj: dict[str, object]) -> None:
    """Missing or null metadata or annotations give the default."""
    assert syncsafe.get_annotation(obj, "fluxcd.io/checksum", "none") == "none"


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        ({"metadata": []}, "metadata must be a mapping"),
        ({"metadata": {"annotations": ["x"]}}, "metadata.annotations must be a mapping"),
        ({"metadata": {"annotations": {"a/b": 1}}}, "annotation 'a/b' must be a string"),
    ],
)
def test_get_annotation_rejects_non_objects(obj: dict[str, object], message: str) -> None:
    """A malformed object is a TypeError naming the field, not a silent miss."""
    with pytest.raises(TypeError, match=message):
        syncsafe.get_annotation(obj, "a/b")


def test_get_annotation_validates_str_keys() -> None:
    """A typo'd key fails loudly instead of never matching."""
    with pytest.raises(InvalidAnnotationKey):
        syncsafe.get_annotation({}, "fluxcd.io/checksum\n")


def test_buggy_lookup_reproduces_the_incident() -> None:
    """The incident's lookup finds the decoy 'fluxcd', or nothing, never the key."""
    obj = {"metadata": {"annotations": {"fluxcd.io/checksum": "abc"}}}
    assert buggy.get_annotation(obj, "fluxcd.io/checksum") is None
    decoy = {"metadata": {"annotations": {"fluxcd.io/checksum": "abc", "fluxcd": "decoy"}}}
    assert buggy.get_annotation(decoy, "fluxcd.io/checksum") == "decoy"
    assert buggy.get_annotation({}, "fluxcd.io/checksum", "d") == "d"


LIMIT = 256 * 1024


@pytest.mark.parametrize(
    ("annotations", "ok"),
    [  # apimachinery's TestValidateAnnotations size cases
        ({"a": "b" * (LIMIT - 1)}, True),
        ({"a": "b" * (LIMIT // 2 - 1), "c": "d" * (LIMIT // 2 - 1)}, True),
        ({"a": "b" * LIMIT}, False),
        ({"a": "b" * (LIMIT // 2), "c": "d" * (LIMIT // 2)}, False),
    ],
)
def test_kubernetes_annotation_size_vectors(annotations: dict[str, str], ok: bool) -> None:  # noqa: FBT001
    """The API server's size vectors: keys count too."""
    if ok:
        assert syncsafe.check_annotations_size(annotations) <= LIMIT
    else:
        with pytest.raises(syncsafe.AnnotationsTooLarge):
            syncsafe.check_annotations_size(annotations)


def test_annotation_size_limit() -> None:
    """Keys and values count in UTF-8 bytes against 256 KiB."""
    assert syncsafe.TOTAL_ANNOTATION_SIZE_LIMIT == 262_144
    assert syncsafe.annotations_size({"a/b": "é"}) == 5
    exactly = {"k": "v" * (262_144 - 1)}
    assert syncsafe.check_annotations_size(exactly) == 262_144
    with pytest.raises(syncsafe.AnnotationsTooLarge) as info:
        syncsafe.check_annotations_size({"k": "v" * 262_144})
    assert (info.value.size, info.value.limit) == (262_145, 262_144)
    assert syncsafe.check_annotations_size({"k": "vv"}, limit=3) == 3


@pytest.mark.parametrize("value", ["", "a", "MyValue", "my_value", "12345", "a.b-c_d", "x" * 63])
def test_valid_label_values(value: str) -> None:
    """Empty, and alphanumeric-bounded values up to 63 characters, are label values."""
    assert syncsafe.validate_label_value(value) == value


@pytest.mark.parametrize(
    ("value", "count"),
    [("-a", 1), ("a-", 1), ("a b", 1), ("a/b", 1), ("x" * 64, 1), ("-" * 64, 2), ("a\n", 1)],
)
def test_invalid_label_values(value: str, count: int) -> None:
    """Label values break the length rule, the character rule, or both."""
    with pytest.raises(syncsafe.InvalidLabelValue) as info:
        syncsafe.validate_label_value(value)
    assert len(info.value.problems) == count
    assert info.value.value == value
