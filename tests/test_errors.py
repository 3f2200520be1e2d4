import pickle

import pytest

import syncsafe
from syncsafe import errors

# One example of every public error, built from its constructor's fields.
EXAMPLES: dict[str, errors.SyncsafeError] = {
    "SyncsafeError": errors.SyncsafeError("something broke"),
    "InvalidAnnotationKey": errors.InvalidAnnotationKey("a/b/c", ["rule one", "rule two"]),
    "InvalidLabelValue": errors.InvalidLabelValue("-x", ["rule"]),
    "AnnotationsTooLarge": errors.AnnotationsTooLarge(300_000, 262_144),
    "InvalidDuration": errors.InvalidDuration("1d", "unknown unit 'd'"),
    "NaiveTimestamp": errors.NaiveTimestamp("now", "2024-10-12T09:17:00"),
    "InvalidRevision": errors.InvalidRevision("main@md5:00", "unknown digest algorithm 'md5'"),
    "UnknownCommit": errors.UnknownCommit("a" * 40, "/repo", "fatal: bad object"),
    "InvalidMetric": errors.InvalidMetric("1bad", "a metric name must match ..."),
}


def test_every_error_has_an_example() -> None:
    """The round-trip tests below cover every error in errors.__all__."""
    assert sorted(EXAMPLES) == sorted(errors.__all__)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_pickle_round_trip(name: str) -> None:
    """An error survives pickling with its type, message and fields."""
    error = EXAMPLES[name]
    clone = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own data
    assert type(clone) is type(error)
    assert str(clone) == str(error)
    assert vars(clone) == vars(error)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_rooted_in_syncsafe_error(name: str) -> None:
    """Every error can be caught as SyncsafeError and, but for the root, as a builtin."""
    error = EXAMPLES[name]
    assert isinstance(error, syncsafe.SyncsafeError)
    if name != "SyncsafeError":
        builtin_bases = [
            base
            for base in type(error).__mro__
            if base.__module__ == "builtins" and base not in {Exception, BaseException, object}
        ]
        assert builtin_bases, f"{name} subclasses no builtin error besides Exception"


def test_invalid_annotation_key_message_names_key_and_every_rule() -> None:
    """The message names the key and lists every problem."""
    error = errors.InvalidAnnotationKey("a/b/c", ["rule one", "rule two"])
    assert str(error) == "invalid key 'a/b/c': rule one; rule two"
    assert isinstance(error, ValueError)


def test_annotations_too_large_message() -> None:
    """The size error names the size, the limit and what is counted."""
    assert str(errors.AnnotationsTooLarge(300_000, 262_144)) == (
        "annotations total 300000 bytes (keys + values): must have at most 262144 bytes"
    )


def test_storm_stale_messages_name_the_input_and_the_rule() -> None:
    """Each storm/stale error's message names the input and what is wrong with it."""
    assert str(errors.InvalidDuration("1d", "unknown unit 'd'")) == (
        "invalid duration '1d': unknown unit 'd'"
    )
    assert str(errors.NaiveTimestamp("now", "2024-10-12T09:17:00")) == (
        "now 2024-10-12T09:17:00 has no time zone: "
        "must be timezone-aware (e.g. datetime.now(timezone.utc))"
    )
    assert str(errors.UnknownCommit("abc", "/repo", "fatal: bad object")) == (
        "commit abc is not in the repository at /repo (fatal: bad object)"
    )
    assert (
        str(errors.UnknownCommit("abc", "/repo")) == "commit abc is not in the repository at /repo"
    )
    assert isinstance(errors.InvalidDuration("x", "y"), ValueError)
    assert isinstance(errors.NaiveTimestamp("x", "y"), ValueError)
    assert isinstance(errors.UnknownCommit("x", "y"), LookupError)
