from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from syncsafe import AnnotationKey, InvalidAnnotationKey, get_annotation
from syncsafe.buggy import annotations as buggy
from syncsafe.strategies import annotation_keys, invalid_annotation_keys

pytestmark = pytest.mark.property


@given(annotation_keys())
def test_valid_keys_round_trip(text: str) -> None:
    """Parse then str gives every valid key back exactly."""
    key = AnnotationKey.parse(text)
    assert str(key) == text
    assert AnnotationKey.parse(str(key)) == key


@given(annotation_keys(kind="label"))
def test_valid_label_keys_round_trip(text: str) -> None:
    """Label keys (validated as written) round-trip too."""
    assert str(AnnotationKey.parse(text, kind="label")) == text


@given(invalid_annotation_keys())
def test_invalid_keys_are_rejected(text: str) -> None:
    """Every generated invalid key raises, naming itself and at least one rule."""
    with pytest.raises(InvalidAnnotationKey) as info:
        AnnotationKey.parse(text)
    assert info.value.key == text
    assert info.value.problems


@given(st.text())
def test_parse_raises_only_invalid_annotation_key(text: str) -> None:
    """On arbitrary text, parse returns a key that round-trips or raises InvalidAnnotationKey."""
    try:
        key = AnnotationKey.parse(text)
    except InvalidAnnotationKey:
        return
    assert str(key) == text


@given(annotation_keys(dotted_prefix=True), st.text(min_size=1))
def test_dotted_keys_buggy_lookup_misses_what_get_annotation_finds(key: str, value: str) -> None:
    """For every dotted-prefix key, the exact lookup finds it and the incident's lookup does not."""
    obj = {"metadata": {"annotations": {key: value}}}
    assert get_annotation(obj, key) == value
    assert buggy.get_annotation(obj, key) is None


def test_the_buggy_lookup_fails_the_lookup_property() -> None:
    """The property 'lookup finds a present key' is falsified by the buggy variant."""

    @given(annotation_keys())
    def lookup_finds_present_key(key: str) -> None:
        assert buggy.get_annotation({"metadata": {"annotations": {key: "v"}}}, key) == "v"

    with pytest.raises(AssertionError):
        lookup_finds_present_key()
