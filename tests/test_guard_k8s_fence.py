from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from syncsafe import GENERATION_ANNOTATION, FencedOut, fenced_patch


def _obj(version: str = "41", stored: str | None = None) -> dict[str, Any]:
    annotations = {} if stored is None else {GENERATION_ANNOTATION: stored}
    return {
        "metadata": {
            "name": "app",
            "namespace": "prod",
            "resourceVersion": version,
            "annotations": annotations,
        },
        "data": {"status": "old"},
    }


def test_the_patch_carries_the_precondition_and_the_generation() -> None:
    """The patch keeps the change, adds the read resourceVersion and the run's generation."""
    patch = fenced_patch(
        _obj(stored="6"), 7, {"data": {"status": "synced"}, "metadata": {"labels": {"a": "b"}}}
    )
    assert {
        "data": {"status": "synced"},
        "metadata": {
            "labels": {"a": "b"},
            "resourceVersion": "41",
            "annotations": {GENERATION_ANNOTATION: "7"},
        },
    } == patch


def test_a_late_run_is_fenced_out() -> None:
    """An object already written by a newer or the same generation refuses the patch."""
    with pytest.raises(FencedOut) as raised:
        fenced_patch(_obj(stored="9"), 7, {"data": {}})
    assert ("prod/app", 7) == (raised.value.target, raised.value.generation)
    with pytest.raises(FencedOut):
        fenced_patch(_obj(stored="7"), 7)
    with pytest.raises(FencedOut):  # an annotation that is not a number: fail closed
        fenced_patch(_obj(stored="x"), 7)


def test_an_object_never_read_cannot_be_fenced() -> None:
    """Without a resourceVersion the patch would not be conditional: ValueError."""
    with pytest.raises(ValueError, match="resourceVersion"):
        fenced_patch({"metadata": {"name": "app"}}, 7)


Patch = Callable[[dict[str, Any], int], dict[str, Any]]


def _accepting_equal(obj: dict[str, Any], generation: int) -> dict[str, Any]:
    """A wrong variant: it lets a run write again over its own generation's write ('>')."""
    stored = obj["metadata"]["annotations"].get(GENERATION_ANNOTATION)
    if stored is not None and int(stored) > generation:
        raise FencedOut(GENERATION_ANNOTATION, generation, "prod/app")
    return {"metadata": {"annotations": {GENERATION_ANNOTATION: str(generation)}}}


def _check_only_increasing(patch_of: Patch, generations: list[int]) -> None:
    obj = _obj()
    accepted: list[int] = []
    for generation in generations:
        try:
            patch = patch_of(obj, generation)
        except FencedOut:
            continue
        obj["metadata"]["annotations"] = patch["metadata"]["annotations"]
        accepted.append(generation)
    assert accepted == sorted(set(accepted))
    assert max(generations) == accepted[-1]


@pytest.mark.property
@given(st.lists(st.integers(1, 50), min_size=1, max_size=30))
def test_only_increasing_generations_are_accepted(generations: list[int]) -> None:
    """Applying patches in any order, the stored generation only grows: a late run never lands."""
    _check_only_increasing(fenced_patch, generations)


def test_the_property_catches_a_fence_that_accepts_an_equal_generation() -> None:
    """The same property fails on a variant that compares with '>' instead of '>='."""
    with pytest.raises(AssertionError):
        _check_only_increasing(_accepting_equal, [3, 3])
