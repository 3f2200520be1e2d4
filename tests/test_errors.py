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
    "WindowMovedPast": errors.WindowMovedPast(
        "2024-10-12T09:17:00+00:00", "2024-10-12T09:18:00+00:00"
    ),
    "CommitTimeOutOfRange": errors.CommitTimeOutOfRange("a" * 40, "/repo", 1_000_000_000_000),
    "InvalidMetric": errors.InvalidMetric("1bad", "a metric name must match ..."),
    "UnknownAlgorithm": errors.UnknownAlgorithm("md5", ["xxh3-128", "sha256"]),
    "MalformedKustomization": errors.MalformedKustomization(
        "overlays/prod/kustomization.yaml", "resources must be a list", 3, 12
    ),
    "RemoteReferenceRefused": errors.RemoteReferenceRefused(
        "overlays/prod/kustomization.yaml", "github.com/org/repo//x?ref=v1"
    ),
    "CorruptManifest": errors.CorruptManifest("old.json", "not JSON"),
    "IncomparableChecksums": errors.IncomparableChecksums("xxh3-128", "sha256"),
    "NonCanonicalPath": errors.NonCanonicalPath("\udcc3\udca9.yaml", "\xe9.yaml"),
    "FileChangedWhileHashing": errors.FileChangedWhileHashing("base/app.yaml", 10, 4),
    "UnsafePathError": errors.UnsafePathError("a/b", "changed while in use"),
    "PathEscapeError": errors.PathEscapeError("overlays/prod/base", "../../../etc"),
    "AbsoluteSymlinkError": errors.AbsoluteSymlinkError("base", "/etc"),
    "SymlinkLoopError": errors.SymlinkLoopError("a/up", "..", "."),
    "SpecialFileError": errors.SpecialFileError("pipe", "FIFO"),
    "DanglingSymlinkError": errors.DanglingSymlinkError("x.yaml", "gone.yaml"),
    "StaleEntryError": errors.StaleEntryError("base/deployment.yaml"),
    "SyncInProgress": errors.SyncInProgress("payment-service", 7),
    "SyncFailed": errors.SyncFailed("payment-service", 7, "ValueError('boom')"),
    "SyncTimeout": errors.SyncTimeout("payment-service", 2.5),
    "ReentrantSync": errors.ReentrantSync("payment-service"),
    "GuardStateCorrupt": errors.GuardStateCorrupt("/locks/app.state", "unreadable"),
    "KustomizeUnavailable": errors.KustomizeUnavailable("/x/libpykustomize.so", "no such file"),
    "KustomizeBuildFailed": errors.KustomizeBuildFailed("overlays/prod", "accumulating ..."),
    "GuardUnavailable": errors.GuardUnavailable(
        "payment-service", ["http://127.0.0.1:2379"], "etcdserver: no leader"
    ),
    "LeaseLost": errors.LeaseLost("payment-service", 41, "its deadline passed"),
    "FencedOut": errors.FencedOut("payment-service", 41, "/apps/payment/status"),
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


def test_every_error_class_is_in_all() -> None:
    """No error class escapes errors.__all__, and so none escapes the round-trip tests."""
    classes = {
        name
        for name, value in vars(errors).items()
        if isinstance(value, type)
        and issubclass(value, errors.SyncsafeError)
        and not name.startswith("_")
    }
    assert sorted(errors.__all__) == sorted(classes)


@pytest.mark.parametrize("name", sorted(set(EXAMPLES) - {"SyncsafeError"}))
def test_round_trip_from_declared_fields_by_name(name: str) -> None:
    """Each error built from its declared fields by name pickles back to the same fields, args."""
    cls = type(EXAMPLES[name])
    names: tuple[str, ...] = vars(cls)["fields"]
    fields = {field: getattr(EXAMPLES[name], field) for field in names}
    error = cls(**fields)
    clone = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own data
    assert (fields, error.args, str(EXAMPLES[name])) == (
        {field: getattr(clone, field) for field in names},
        clone.args,
        str(clone),
    )


def test_derived_constructor_checks_its_arguments() -> None:
    """The constructor derived from the fields refuses missing, extra and repeated arguments."""
    with pytest.raises(TypeError, match="missing argument 'problem'"):
        errors.CorruptManifest("old.json")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="takes 2 arguments, 3 were given"):
        errors.CorruptManifest("old.json", "x", "y")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="unexpected or repeated argument 'source'"):
        errors.CorruptManifest("old.json", source="x")  # type: ignore[call-arg, misc]
    assert ("a", "b") == errors.UnknownAlgorithm("md5", ["a", "b"]).known


def test_referrer_survives_pickling() -> None:
    """A path error's referrer leads its message and rides along through pickling."""
    error = errors.PathEscapeError("base", "../..").with_referrer("k.yaml")
    clone = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own data
    assert ("k.yaml", "k.yaml: base -> ../.. resolves outside the root") == (
        clone.referrer,
        str(clone),
    )


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


def test_malformed_kustomization_message_names_file_line_and_column() -> None:
    """The location is file:line:column when known, the file alone when not."""
    located = errors.MalformedKustomization("k.yaml", "resources must be a list", 3, 12)
    assert str(located) == "k.yaml:3:12: malformed kustomization: resources must be a list"
    assert str(errors.MalformedKustomization("k.yaml", "not UTF-8", 3)) == (
        "k.yaml:3: malformed kustomization: not UTF-8"
    )
    assert str(errors.MalformedKustomization("k.yaml", "not UTF-8")) == (
        "k.yaml: malformed kustomization: not UTF-8"
    )


def test_file_changed_while_hashing_is_an_os_error() -> None:
    """It names the file and both sizes, and is caught by except OSError."""
    error = errors.FileChangedWhileHashing("base/app.yaml", 10, 4)
    assert isinstance(error, OSError)
    assert (
        str(error)
        == "base/app.yaml changed while it was hashed: stat said 10 bytes, reading gave 4"
    )


def test_remote_reference_refused_names_the_reference() -> None:
    """The message names the kustomization, the reference and the option."""
    error = errors.RemoteReferenceRefused("k.yaml", "https://x")
    assert str(error).startswith("k.yaml: remote reference https://x refused")
    assert "allow_remote=False" in str(error)
    plugin = errors.RemoteReferenceRefused("x.yaml", "plugin:container:img", "it runs a program")
    expected = "x.yaml: remote reference plugin:container:img refused: it runs a program"
    assert f"{expected} (allow_remote=False)" == str(plugin)
    assert plugin.reason == pickle.loads(pickle.dumps(plugin)).reason  # noqa: S301 - our own


def test_path_escape_message_names_link_target_and_rule() -> None:
    """The escape message names the link, its target and the rule; without a target, the path."""
    assert str(errors.PathEscapeError("overlays/prod/base", "../../../etc")) == (
        "overlays/prod/base -> ../../../etc resolves outside the root"
    )
    assert str(errors.PathEscapeError("../x")) == "../x resolves outside the root"
    assert isinstance(errors.PathEscapeError("a"), ValueError)


def test_path_error_messages() -> None:
    """Each path error names the path (and link target) and the rule it broke."""
    assert str(errors.AbsoluteSymlinkError("base", "/etc")) == (
        "base -> /etc: absolute symlink targets are rejected (allow_absolute=False)"
    )
    assert str(errors.SymlinkLoopError("a", "b")) == (
        "a -> b: more than 40 symbolic links followed: a loop"
    )
    assert str(errors.SymlinkLoopError("a/up", "..", ".")) == (
        "a/up -> ..: leads back to its own ancestor '.': a loop"
    )
    assert str(errors.SpecialFileError("pipe", "FIFO")) == (
        "pipe: is a FIFO: special files are never opened"
    )
    assert "open each entry before asking for the next" in str(errors.StaleEntryError("x"))


def test_dangling_symlink_error_is_a_file_not_found_error() -> None:
    """A dangling link is caught by 'except FileNotFoundError' with a proper errno and filename."""
    error = errors.DanglingSymlinkError("x.yaml", "gone.yaml")
    assert isinstance(error, FileNotFoundError)
    assert isinstance(error, errors.UnsafePathError)
    assert (2, "x.yaml") == (error.errno, error.filename)
    assert str(error) == "x.yaml -> gone.yaml: points to nothing (a dangling symlink)"
    clone = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own data
    assert (2, "x.yaml") == (clone.errno, clone.filename)


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


def test_etcd_guard_errors_name_the_key_the_rule_and_subclass_builtins() -> None:
    """GuardUnavailable, LeaseLost and FencedOut name the key and the rule, with builtin bases."""
    unavailable = errors.GuardUnavailable("app", ["http://a:2379", "http://b:2379"], "no leader")
    assert str(unavailable) == (
        "sync of 'app': no etcd endpoint could decide (http://a:2379, http://b:2379): no leader; "
        "the run did not start (a guard never runs without the store's consent)"
    )
    assert str(errors.LeaseLost("app", 9, "etcd says the lease is gone")) == (
        "run 9 of 'app' lost its lease: etcd says the lease is gone; "
        "a run may act only while its lease is provably alive"
    )
    assert str(errors.FencedOut("app", 9, "/out")) == (
        "write of '/out' by run 9 of 'app' refused: "
        "the run no longer holds the key, and only the holder's writes are accepted"
    )
    assert isinstance(unavailable, ConnectionError)
    assert isinstance(errors.LeaseLost("app", 9, "x"), RuntimeError)
    assert isinstance(errors.FencedOut("app", 9, "x"), PermissionError)
