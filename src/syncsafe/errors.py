"""
The errors syncsafe raises.

Every error is a [`SyncsafeError`][syncsafe.errors.SyncsafeError], so ``except SyncsafeError``
catches them all, and each one also subclasses the closest builtin (``ValueError``,
``OSError``, ``TimeoutError``, ...) so that a caller's existing ``except``
clauses keep working. Every error survives pickling (it may cross a process
boundary in a ``multiprocessing`` pool or a ``FileSyncGuard`` test) with its
fields intact, and its message names the thing and the rule it broke.

The pattern: an error declares its *fields* as annotations (in constructor
order, with defaults where a field is optional) and its message as a
``template`` over them; the constructor, ``__str__`` and ``__reduce__`` are
derived from that declaration (``_DeclaredError``), so that the message is
never the only place the facts live and pickling rebuilds the error from the
same fields. An error whose message needs a computation (a joined list, an
optional part) overrides ``__str__``; an error whose ``rule`` is computed from
its other fields (the path errors) keeps a constructor and names its
constructor's fields in ``fields``.
"""

from __future__ import annotations

import errno
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, cast

if TYPE_CHECKING:
    from typing_extensions import dataclass_transform
else:

    def dataclass_transform(**_: object) -> Callable[[type], type]:
        """Typing only: tells type checkers that subclasses get their constructor from fields."""
        return lambda cls: cls


__all__ = [
    "AbsoluteSymlinkError",
    "AnnotationsTooLarge",
    "CommitTimeOutOfRange",
    "CorruptManifest",
    "DanglingSymlinkError",
    "FencedOut",
    "FileChangedWhileHashing",
    "GuardStateCorrupt",
    "GuardUnavailable",
    "IncomparableChecksums",
    "InvalidAnnotationKey",
    "InvalidDuration",
    "InvalidLabelValue",
    "InvalidMetric",
    "InvalidRevision",
    "KustomizeBuildFailed",
    "KustomizeUnavailable",
    "LeaseLost",
    "MalformedKustomization",
    "NaiveTimestamp",
    "NonCanonicalPath",
    "PathEscapeError",
    "ReentrantSync",
    "RemoteReferenceRefused",
    "SpecialFileError",
    "StaleEntryError",
    "SymlinkLoopError",
    "SyncFailed",
    "SyncInProgress",
    "SyncTimeout",
    "SyncsafeError",
    "UnknownAlgorithm",
    "UnknownCommit",
    "UnsafePathError",
    "WindowMovedPast",
]


class SyncsafeError(Exception):
    """The root of every error syncsafe raises."""


class _Fields:
    """A ``str.format_map`` mapping that reads an error's attributes."""

    __slots__ = ("error",)

    def __init__(self, error: BaseException) -> None:
        self.error = error

    def __getitem__(self, name: str) -> object:
        return getattr(self.error, name)


@dataclass_transform(eq_default=False)
class _DeclaredError(SyncsafeError):
    """
    An error built from declared fields: its constructor, message and pickling derive from them.

    A subclass annotates its fields in constructor order (a class value is the
    field's default; ``ClassVar`` annotations are not fields) and sets
    ``template``, a `str.format` string over its attributes. The derived
    constructor stores each field as an attribute (a field declared
    ``Sequence[...]`` as a tuple, so the error holds no caller's list) and
    passes the fields on as ``args`` (an ``OSError`` gets only the first: more
    would be read as ``(errno, strerror, filename)``). ``__reduce__`` rebuilds
    the error from the same fields, with any other instance attribute (a path
    error's referrer, a note) as state.
    """

    fields: ClassVar[tuple[str, ...]] = ()
    template: ClassVar[str] = ""
    _defaults: ClassVar[dict[str, object]] = {}
    _sequences: ClassVar[frozenset[str]] = frozenset()

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        declared: dict[str, str] = {}
        for klass in reversed(cls.__mro__):
            if issubclass(klass, _DeclaredError):
                for name, annotation in vars(klass).get("__annotations__", {}).items():
                    if not str(annotation).startswith("ClassVar"):
                        declared[name] = str(annotation)
        if "fields" not in vars(cls):
            cls.fields = tuple(declared)
        cls._defaults = {name: getattr(cls, name) for name in cls.fields if hasattr(cls, name)}
        cls._sequences = frozenset(
            name for name in cls.fields if declared.get(name, "").startswith("Sequence[")
        )
        if "__init__" not in vars(cls):
            cls.__init__ = _derived_init(cls)  # type: ignore[method-assign]

    def __str__(self) -> str:
        return self.template.format_map(_Fields(self))

    def __reduce__(self) -> tuple[Any, ...]:
        values = tuple(getattr(self, name) for name in self.fields)
        state = {name: value for name, value in vars(self).items() if name not in self.fields}
        return (type(self), values, state) if state else (type(self), values)


def _derived_init(cls: type[_DeclaredError]) -> Callable[..., None]:
    """The constructor of *cls*: binds its fields (positionally or by name) to attributes."""
    names, defaults, sequences = cls.fields, cls._defaults, cls._sequences
    first_only = issubclass(cls, OSError)

    def __init__(self: _DeclaredError, *args: object, **kwargs: object) -> None:  # noqa: N807
        if len(args) > len(names):
            message = f"{cls.__name__}() takes {len(names)} arguments, {len(args)} were given"
            raise TypeError(message)
        values = dict(zip(names, args, strict=False))
        for name, value in kwargs.items():
            if name not in names or name in values:
                raise TypeError(f"{cls.__name__}() got an unexpected or repeated argument {name!r}")
            values[name] = value
        for name in names:
            if name not in values:
                if name not in defaults:
                    raise TypeError(f"{cls.__name__}() missing argument {name!r}")
                values[name] = defaults[name]
            elif name in sequences:
                values[name] = tuple(cast("Sequence[object]", values[name]))
        ordered = tuple(values[name] for name in names)
        BaseException.__init__(self, *(ordered[:1] if first_only else ordered))
        for name, value in zip(names, ordered, strict=True):
            setattr(self, name, value)

    __init__.__qualname__ = f"{cls.__qualname__}.__init__"
    return __init__


# ---------------------------------------------------------------- annotations


class InvalidAnnotationKey(_DeclaredError, ValueError):
    """
    A string is not a valid Kubernetes annotation (or label) key.

    ``problems`` lists every rule the key breaks, in the order the Kubernetes
    validators report them; the message names the key and all of them.
    """

    key: str
    problems: Sequence[str]

    def __str__(self) -> str:
        return f"invalid key {self.key!r}: " + "; ".join(self.problems)


class InvalidLabelValue(_DeclaredError, ValueError):
    """A string is not a valid Kubernetes label value; ``problems`` lists every rule broken."""

    value: str
    problems: Sequence[str]

    def __str__(self) -> str:
        return f"invalid label value {self.value!r}: " + "; ".join(self.problems)


class AnnotationsTooLarge(_DeclaredError, ValueError):
    """
    An object's annotations exceed the API server's total size limit.

    The limit counts the bytes of every key plus every value (256 KiB); the API
    server rejects the whole object, not just the offending annotation.
    """

    size: int
    limit: int
    template = "annotations total {size} bytes (keys + values): must have at most {limit} bytes"


# ---------------------------------------------------------------------- paths


class UnsafePathError(_DeclaredError, ValueError):
    """
    A path inside a root cannot be used safely; ``rule`` says why.

    The base of every path-safety error: ``except UnsafePathError`` catches an
    escape, an absolute link, a loop, a special file and a dangling link alike.
    Raised before anything outside the root is opened.

    ``referrer``, when set, names what made the path be read — for the
    overlay checksum the kustomization file, line and field that refer to
    it — and leads the message.
    """

    path: str
    rule: str
    template = "{path}: {rule}"

    @property
    def referrer(self) -> str | None:
        """What referred to the path (see [`with_referrer`][]), or ``None``."""
        referrer: str | None = vars(self).get("_referrer")
        return referrer

    def with_referrer(self, referrer: str) -> UnsafePathError:
        """This error, its message led by *referrer* (what referred to the path)."""
        self._referrer = referrer
        return self

    def __str__(self) -> str:
        message = self._message()
        return message if self.referrer is None else f"{self.referrer}: {message}"

    def _message(self) -> str:
        return super().__str__()


class PathEscapeError(UnsafePathError):
    """
    A path, or a symlink on the way to it, resolves outside the root.

    ``path`` is the path or the link (relative to the root, where the link
    lives), ``target`` the link's text, or ``None`` when the path itself
    climbs above the root with ``..``.
    """

    fields = ("path", "target")
    target: str | None
    template = "{path} -> {target} {rule}"

    def __init__(self, path: str, target: str | None = None) -> None:
        super().__init__(path, "resolves outside the root")
        self.target = target

    def _message(self) -> str:
        return f"{self.path} {self.rule}" if self.target is None else super()._message()


class AbsoluteSymlinkError(UnsafePathError):
    """
    A symlink inside the root has an absolute target.

    Rejected by default even when the target happens to be inside the root: a
    checkout's absolute link is right at one location only (pass
    ``allow_absolute=True`` to accept targets below the root's real path).
    """

    fields = ("path", "target")
    target: str
    template = "{path} -> {target}: {rule}"

    def __init__(self, path: str, target: str) -> None:
        super().__init__(path, "absolute symlink targets are rejected (allow_absolute=False)")
        self.target = target


class SymlinkLoopError(UnsafePathError):
    """
    Following a symlink never ends.

    Either more than 40 links were followed in one resolution (``a -> b``,
    ``b -> a``), as the kernel's limit, or — while walking — a directory link
    leads back to a directory the walk is already inside (``ancestor``, its
    path relative to the root, ``"."`` for the root itself).
    """

    fields = ("path", "target", "ancestor")
    target: str
    ancestor: str | None
    template = "{path} -> {target}: {rule}"

    def __init__(self, path: str, target: str, ancestor: str | None = None) -> None:
        rule = (
            "more than 40 symbolic links followed: a loop"
            if ancestor is None
            else f"leads back to its own ancestor {ancestor!r}: a loop"
        )
        super().__init__(path, rule)
        self.target = target
        self.ancestor = ancestor


class SpecialFileError(UnsafePathError):
    """
    A FIFO, socket or device where a regular file was expected.

    syncsafe never opens one for reading: a FIFO would block the reader forever
    and a device could be read without end.
    """

    fields = ("path", "kind")
    kind: str

    def __init__(self, path: str, kind: str) -> None:
        super().__init__(path, f"is a {kind}: special files are never opened")
        self.kind = kind


class DanglingSymlinkError(UnsafePathError, FileNotFoundError):
    """
    A symlink inside the root whose target (inside the root) does not exist.

    Also a `FileNotFoundError`, which is what reading through it gives.
    """

    fields = ("path", "target")
    target: str
    template = "{path} -> {target}: {rule}"

    def __init__(self, path: str, target: str) -> None:
        super().__init__(path, "points to nothing (a dangling symlink)")
        self.target = target
        # An OSError's constructor got the path only: set the fields an
        # ``except FileNotFoundError`` handler looks at.
        self.errno, self.strerror, self.filename = errno.ENOENT, self.rule, path


class StaleEntryError(_DeclaredError, RuntimeError):
    """
    A [`WalkEntry`][syncsafe.walker.WalkEntry] was opened after the walk moved past it.

    An entry opens its file relative to the walker's open directory descriptor;
    once the walk has left that directory the descriptor is closed. Read each
    entry before asking the walk for the next one.
    """

    path: str
    template = (
        "{path}: the walk has moved past this entry's directory; "
        "open each entry before asking for the next"
    )


# ------------------------------------------------------------------- checksum


class UnknownAlgorithm(_DeclaredError, ValueError):
    """A checksum algorithm name is not one syncsafe implements; ``known`` lists those it does."""

    name: str
    known: Sequence[str]

    def __str__(self) -> str:
        return f"unknown checksum algorithm {self.name!r}: use one of {', '.join(self.known)}"


class MalformedKustomization(_DeclaredError, ValueError):
    """
    A kustomization file cannot be read the way ``kustomize build`` reads it.

    ``path`` is the file (relative to the root), ``line`` and ``column`` are
    1-based where the YAML gives them (``None`` otherwise), ``problem`` is the
    rule it breaks. A checksum that skipped such a file would miss whatever it
    refers to, so the file is an error, never a warning.
    """

    path: str
    problem: str
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        where = self.path
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        return f"{where}: malformed kustomization: {self.problem}"


class RemoteReferenceRefused(_DeclaredError, ValueError):
    """
    A kustomization refers to something outside the checkout, and such references were refused.

    A remote reference (a URL or a git reference such as
    ``github.com/org/repo//path?ref=v1``) cannot be hashed from the checkout:
    what it points to can change without any local file changing. Nor can
    an exec or container (KRM function) plugin: what it generates comes from
    a program. ``reason`` says which, in words (``None``: a remote reference).
    """

    path: str
    reference: str
    reason: str | None = None

    def __str__(self) -> str:
        reason = self.reason or "its content is not in the checkout and cannot be hashed"
        return (
            f"{self.path}: remote reference {self.reference} refused: {reason} (allow_remote=False)"
        )


class CorruptManifest(_DeclaredError, ValueError):
    """A checksum manifest (``Checksum.to_json``) is not valid: ``problem`` says why."""

    source: str
    problem: str
    template = "checksum manifest {source} is corrupt: {problem}"


class NonCanonicalPath(_DeclaredError, ValueError):
    r"""
    A manifest path is a ``str`` that is not how its bytes are written.

    A path's one ``str`` is its bytes decoded as UTF-8 with
    ``surrogateescape`` (what `os.fsdecode` gives). ``"\udcc3\udca9"``
    encodes to the bytes of ``"é"``, so accepting both would let two
    manifests share a digest and one path appear twice; ``canonical`` is the
    ``str`` that must be used instead, or ``None`` when *path* holds a
    surrogate that no byte decodes to and so names no file at all. This is
    not Unicode normalisation: a composed and a decomposed ``é`` are
    different bytes, and different paths.
    """

    path: str
    canonical: str | None

    def __str__(self) -> str:
        rule = "a path's str is its bytes decoded as UTF-8 with surrogateescape"
        if self.canonical is None:
            return f"path {self.path!r} cannot be encoded to bytes ({rule})"
        return f"path {self.path!r} must be written {self.canonical!r}, the same bytes ({rule})"


class IncomparableChecksums(_DeclaredError, ValueError):
    """
    Two checksums of different algorithms, formats or modes were compared file by file.

    A tree's checksum and an overlay's do not compare either: a tree names a
    file by its path through a symlink, an overlay by its physical path.
    """

    left: str
    right: str
    template = (
        "cannot diff a {left} checksum against a {right} checksum: "
        "per-file digests only compare within one algorithm, format and mode"
    )


class FileChangedWhileHashing(_DeclaredError, OSError):
    """
    A file's size changed between its ``stat`` and the end of reading it.

    The digest would describe no version of the file that ever existed, so
    none is returned: run the checksum again once the writer has finished.
    """

    path: str
    expected: int
    actual: int
    template = (
        "{path} changed while it was hashed: stat said {expected} bytes, reading gave {actual}"
    )


# ---------------------------------------------------------------------- guard


class SyncInProgress(_DeclaredError, RuntimeError):
    """
    A run for the key is in flight and the policy is ``"reject"``.

    This is what the incident's documented fix did ("sync already in
    progress"): the request is dropped, and the update it carried is lost
    unless the caller retries. ``generation`` is the run in flight.
    """

    key: object
    generation: int
    template = (
        "sync of {key!r} rejected: run {generation} is in progress and the policy is 'reject'"
    )


class SyncFailed(_DeclaredError, RuntimeError):
    """
    The run that served this caller raised; another caller executed it.

    The caller that executed the run gets the original exception; every other
    caller of that run gets a ``SyncFailed`` whose ``__cause__`` is that
    exception (when it ran in this process) and whose ``error`` describes it.
    """

    key: object
    generation: int
    error: str
    template = "sync of {key!r} failed: run {generation} raised {error}"


class SyncTimeout(_DeclaredError, TimeoutError):
    """
    A caller gave up waiting for a run after ``timeout`` seconds.

    The run it waited for is not cancelled: the other callers still get it.
    """

    key: object
    timeout: float
    template = (
        "sync of {key!r}: no run served this call within {timeout:g} s (the run in flight goes on)"
    )


class ReentrantSync(_DeclaredError, RuntimeError):
    """
    A run called the guard for its own key.

    Waiting would never end: the caller would wait for the run it is inside.
    The guard raises instead of deadlocking.
    """

    key: object
    template = "sync of {key!r} called from inside its own run: a run must not wait for itself"


class GuardStateCorrupt(_DeclaredError, ValueError):
    """
    A ``FileSyncGuard`` state file cannot be read back.

    syncsafe writes state files so that no crash leaves them without a whole
    record (two CRC-checked slots, one always intact), so this means
    something else wrote the file, or the disk damaged both slots; the guard
    refuses to guess a generation, which could reuse a fencing token.
    """

    path: str
    problem: str
    template = "{path}: {problem}; a guard state file must be the guard's own JSON"


class GuardUnavailable(_DeclaredError, ConnectionError):
    """
    The guard's store (etcd) could not decide: no quorum, no leader, or no endpoint answered.

    The guard fails closed: the function has not run, and no local lock stood
    in for the store. Raised within about ``request_timeout`` times the number
    of endpoints.
    """

    key: object
    endpoints: Sequence[str]
    problem: str

    def __str__(self) -> str:
        where = ", ".join(self.endpoints)
        return (
            f"sync of {self.key!r}: no etcd endpoint could decide ({where}): {self.problem}; "
            "the run did not start (a guard never runs without the store's consent)"
        )


class LeaseLost(_DeclaredError, RuntimeError):
    """
    A run can no longer prove that it holds its key: its etcd lease expired or is gone.

    Another run of the key may have started since; whatever this run writes
    from now on must be refused by a fence (``fenced_put`` does it).
    """

    key: object
    generation: int
    problem: str
    template = (
        "run {generation} of {key!r} lost its lease: {problem}; "
        "a run may act only while its lease is provably alive"
    )


class FencedOut(_DeclaredError, PermissionError):
    """
    A fenced write was refused: the run that made it no longer holds its key.

    Nothing was written. A newer run (a higher generation) may hold the key,
    or none does; either way a late write of an old run must not land.
    """

    key: object
    generation: int
    target: str
    template = (
        "write of {target!r} by run {generation} of {key!r} refused: "
        "the run no longer holds the key, and only the holder's writes are accepted"
    )


# ---------------------------------------------------------------- storm/stale


class InvalidDuration(_DeclaredError, ValueError):
    """
    A string is not a Go ``time.ParseDuration`` duration.

    ``problem`` says which rule it broke, in Go's words where Go has them
    (``missing unit``, ``unknown unit "d"``, ``overflows int64 nanoseconds``).
    """

    text: str
    problem: str
    template = "invalid duration {text!r}: {problem}"


class NaiveTimestamp(_DeclaredError, ValueError):
    """
    A datetime without a time zone was given where an instant is needed.

    A naive datetime is a wall-clock reading in an unknown zone: comparing it
    with an aware one raises ``TypeError``, and converting it guesses the host's
    zone. syncsafe refuses it; ``what`` names the value (``SyncEvent.timestamp``,
    ``now``).
    """

    what: str
    value: str
    template = (
        "{what} {value} has no time zone: must be timezone-aware (e.g. datetime.now(timezone.utc))"
    )


class WindowMovedPast(_DeclaredError, ValueError):
    """
    A storm detector was asked about a time its window has moved past.

    The detector forgets events older than its window (plus ``lateness``) at
    the newest time it has seen; a question about a window that began before
    that would be answered from a log that has lost events, so it is refused.
    ``now`` is the time asked about, ``earliest`` the earliest time still
    answered exactly.
    """

    now: str
    earliest: str
    template = (
        "the window ending at {now} has moved past: events before it are "
        "forgotten, so only times from {earliest} on are answered "
        "(a larger lateness keeps more)"
    )


class InvalidRevision(_DeclaredError, ValueError):
    """A string is not a Flux or Argo CD source revision; ``problem`` says why."""

    text: str
    problem: str
    template = "invalid revision {text!r}: {problem}"


class UnknownCommit(_DeclaredError, LookupError):
    """
    A repository does not contain the commit a revision names.

    Raised instead of guessing a commit time: a missing commit means the
    repository is not the one the controller applied from, or not fetched.
    """

    digest: str
    repo: str
    detail: str = ""

    def __str__(self) -> str:
        tail = f" ({self.detail})" if self.detail else ""
        return f"commit {self.digest} is not in the repository at {self.repo}{tail}"


class CommitTimeOutOfRange(_DeclaredError, ValueError):
    """
    A commit's time is outside what a ``datetime`` holds (the years 1 to 9999).

    git stores any number of seconds; a commit dated in the year 33658 is not
    a time anything can be measured against, so it is refused, not clamped.
    """

    digest: str
    repo: str
    seconds: int
    template = (
        "commit {digest} in the repository at {repo} is dated {seconds} "
        "seconds after 1970, outside the years 1 to 9999"
    )


class InvalidMetric(_DeclaredError, ValueError):
    """A Prometheus metric or label name, or a sample, breaks the exposition format's rules."""

    name: str
    problem: str
    template = "invalid metric {name!r}: {problem}"


# ---------------------------------------------------------- a real kustomize


class KustomizeUnavailable(_DeclaredError, OSError):
    """
    No real kustomize could be loaded: ``library`` names what was looked for.

    Raised by [`syncsafe.testing.Kustomize`][syncsafe.testing._build.Kustomize]; ``make kustomize``
    installs the library that ``make test`` uses. A test that needs a real kustomize
    fails with this error instead of skipping.
    """

    library: str
    problem: str
    template = (
        "no real kustomize: {library}: {problem} "
        "('make kustomize' installs kustomize's library from the pykustomize wheel, "
        "for Linux x86-64)"
    )


class KustomizeBuildFailed(_DeclaredError, RuntimeError):
    """``kustomize build`` of ``path`` failed; ``message`` is kustomize's own."""

    path: str
    message: str
    template = "kustomize build {path} failed: {message}"
