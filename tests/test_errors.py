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
    "SyncInProgress": errors.SyncInProgress("payment-service", 7),
    "SyncFailed": errors.SyncFailed("payment-service", 7, "ValueError('boom')"),
    "SyncTimeout": errors.SyncTimeout("payment-service", 2.5),
    "ReentrantSync": errors.ReentrantSync("payment-service"),
    "GuardStateCorrupt": errors.GuardStateCorrupt("/locks/app.state", "unreadable"),
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


def test_guard_error_messages_name_the_key_and_the_rule() -> None:
    """Each guard error names the key (or file) and what went wrong."""
    assert str(errors.SyncInProgress("app", 7)) == (
        "sync of 'app' rejected: run 7 is in progress and the policy is 'reject'"
    )
    assert str(errors.SyncFailed("app", 7, "ValueError('boom')")) == (
        "sync of 'app' failed: run 7 raised ValueError('boom')"
    )
    assert str(errors.ReentrantSync("app")) == (
        "sync of 'app' called from inside its own run: a run must not wait for itself"
    )
    assert str(errors.GuardStateCorrupt("/l/a.state", "unreadable")) == (
        "/l/a.state: unreadable; a guard state file must be the guard's own JSON"
    )
    assert isinstance(errors.SyncTimeout("app", 1.0), TimeoutError)
