"""
The errors syncsafe raises.

Every error is a :class:`SyncsafeError`, so ``except SyncsafeError`` catches
them all, and each one also subclasses the closest builtin (``ValueError``,
``OSError``, ``TimeoutError``, ...) so that a caller's existing ``except``
clauses keep working. Every error survives pickling (it may cross a process
boundary in a ``multiprocessing`` pool or a ``FileSyncGuard`` test) with its
fields intact, and its message names the thing and the rule it broke.

The pattern: the constructor takes the *fields*, ``__str__`` formats them, and
``__reduce__`` rebuilds the error from the same fields, so that the message is
never the only place the facts live.
"""

from __future__ import annotations

import errno
from collections.abc import Sequence
from typing import Any, SupportsIndex

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


# ---------------------------------------------------------------- annotations


class InvalidAnnotationKey(SyncsafeError, ValueError):
    """
    A string is not a valid Kubernetes annotation (or label) key.

    ``problems`` lists every rule the key breaks, in the order the Kubernetes
    validators report them; the message names the key and all of them.
    """

    def __init__(self, key: str, problems: Sequence[str]) -> None:
        super().__init__(key, tuple(problems))
        self.key = key
        self.problems: tuple[str, ...] = tuple(problems)

    def __str__(self) -> str:
        return f"invalid key {self.key!r}: " + "; ".join(self.problems)

    def __reduce__(self) -> tuple[type[InvalidAnnotationKey], tuple[str, tuple[str, ...]]]:
        return type(self), (self.key, self.problems)


class InvalidLabelValue(SyncsafeError, ValueError):
    """A string is not a valid Kubernetes label value; ``problems`` lists every rule broken."""

    def __init__(self, value: str, problems: Sequence[str]) -> None:
        super().__init__(value, tuple(problems))
        self.value = value
        self.problems: tuple[str, ...] = tuple(problems)

    def __str__(self) -> str:
        return f"invalid label value {self.value!r}: " + "; ".join(self.problems)

    def __reduce__(self) -> tuple[type[InvalidLabelValue], tuple[str, tuple[str, ...]]]:
        return type(self), (self.value, self.problems)


class AnnotationsTooLarge(SyncsafeError, ValueError):
    """
    An object's annotations exceed the API server's total size limit.

    The limit counts the bytes of every key plus every value (256 KiB); the API
    server rejects the whole object, not just the offending annotation.
    """

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(size, limit)
        self.size = size
        self.limit = limit

    def __str__(self) -> str:
        return (
            f"annotations total {self.size} bytes (keys + values): "
            f"must have at most {self.limit} bytes"
        )

    def __reduce__(self) -> tuple[type[AnnotationsTooLarge], tuple[int, int]]:
        return type(self), (self.size, self.limit)


# ---------------------------------------------------------------------- paths


class UnsafePathError(SyncsafeError, ValueError):
    """
    A path inside a root cannot be used safely; ``rule`` says why.

    The base of every path-safety error: ``except UnsafePathError`` catches an
    escape, an absolute link, a loop, a special file and a dangling link alike.
    Raised before anything outside the root is opened.

    ``referrer``, when set, names what made the path be read — for the
    overlay checksum the kustomization file, line and field that refer to
    it — and leads the message.
    """

    referrer: str | None = None

    def __init__(self, path: str, rule: str) -> None:
        super().__init__(path, rule)
        self.path = path
        self.rule = rule

    def with_referrer(self, referrer: str) -> UnsafePathError:
        """This error, its message led by *referrer* (what referred to the path)."""
        self.referrer = referrer
        return self

    def __str__(self) -> str:
        message = self._message()
        return message if self.referrer is None else f"{self.referrer}: {message}"

    def _message(self) -> str:
        return f"{self.path}: {self.rule}"

    def __reduce__(self) -> tuple[type[UnsafePathError], tuple[str | None, ...]]:
        return type(self), (self.path, self.rule)

    def __reduce_ex__(self, protocol: SupportsIndex) -> tuple[Any, ...]:
        # each kind declares its fields in __reduce__; the referrer rides along as state
        reduced = self.__reduce__()
        assert isinstance(reduced, tuple)  # noqa: S101 - ours always are
        if self.referrer is None:
            return reduced
        return (*reduced[:2], {"referrer": self.referrer})


class PathEscapeError(UnsafePathError):
    """
    A path, or a symlink on the way to it, resolves outside the root.

    ``path`` is the path or the link (relative to the root, where the link
    lives), ``target`` the link's text, or ``None`` when the path itself
    climbs above the root with ``..``.
    """

    def __init__(self, path: str, target: str | None = None) -> None:
        rule = "resolves outside the root"
        super().__init__(path, rule)
        self.target = target

    def _message(self) -> str:
        if self.target is None:
            return f"{self.path} {self.rule}"
        return f"{self.path} -> {self.target} {self.rule}"

    def __reduce__(self) -> tuple[type[PathEscapeError], tuple[str, str | None]]:
        return type(self), (self.path, self.target)


class AbsoluteSymlinkError(UnsafePathError):
    """
    A symlink inside the root has an absolute target.

    Rejected by default even when the target happens to be inside the root: a
    checkout's absolute link is right at one location only (pass
    ``allow_absolute=True`` to accept targets below the root's real path).
    """

    def __init__(self, path: str, target: str) -> None:
        super().__init__(path, "absolute symlink targets are rejected (allow_absolute=False)")
        self.target = target

    def _message(self) -> str:
        return f"{self.path} -> {self.target}: {self.rule}"

    def __reduce__(self) -> tuple[type[AbsoluteSymlinkError], tuple[str, str]]:
        return type(self), (self.path, self.target)


class SymlinkLoopError(UnsafePathError):
    """
    Following a symlink never ends.

    Either more than 40 links were followed in one resolution (``a -> b``,
    ``b -> a``), as the kernel's limit, or — while walking — a directory link
    leads back to a directory the walk is already inside (``ancestor``, its
    path relative to the root, ``"."`` for the root itself).
    """

    def __init__(self, path: str, target: str, ancestor: str | None = None) -> None:
        rule = (
            "more than 40 symbolic links followed: a loop"
            if ancestor is None
            else f"leads back to its own ancestor {ancestor!r}: a loop"
        )
        super().__init__(path, rule)
        self.target = target
        self.ancestor = ancestor

    def _message(self) -> str:
        return f"{self.path} -> {self.target}: {self.rule}"

    def __reduce__(self) -> tuple[type[SymlinkLoopError], tuple[str, str, str | None]]:
        return type(self), (self.path, self.target, self.ancestor)


class SpecialFileError(UnsafePathError):
    """
    A FIFO, socket or device where a regular file was expected.

    syncsafe never opens one for reading: a FIFO would block the reader forever
    and a device could be read without end.
    """

    def __init__(self, path: str, kind: str) -> None:
        super().__init__(path, f"is a {kind}: special files are never opened")
        self.kind = kind

    def __reduce__(self) -> tuple[type[SpecialFileError], tuple[str, str]]:
        return type(self), (self.path, self.kind)


class DanglingSymlinkError(UnsafePathError, FileNotFoundError):
    """
    A symlink inside the root whose target (inside the root) does not exist.

    Also a :class:`FileNotFoundError`, which is what reading through it gives.
    """

    def __init__(self, path: str, target: str) -> None:
        UnsafePathError.__init__(self, path, "points to nothing (a dangling symlink)")
        self.target = target
        # OSError.__new__ read the constructor's arguments as (errno, strerror):
        # set the fields an ``except FileNotFoundError`` handler looks at.
        self.errno, self.strerror, self.filename = errno.ENOENT, self.rule, path

    def _message(self) -> str:
        return f"{self.path} -> {self.target}: {self.rule}"

    def __reduce__(self) -> tuple[type[DanglingSymlinkError], tuple[str, str]]:
        return type(self), (self.path, self.target)


class StaleEntryError(SyncsafeError, RuntimeError):
    """
    A :class:`~syncsafe.walk.WalkEntry` was opened after the walk moved past it.

    An entry opens its file relative to the walker's open directory descriptor;
    once the walk has left that directory the descriptor is closed. Read each
    entry before asking the walk for the next one.
    """

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path

    def __str__(self) -> str:
        return (
            f"{self.path}: the walk has moved past this entry's directory; "
            "open each entry before asking for the next"
        )

    def __reduce__(self) -> tuple[type[StaleEntryError], tuple[str]]:
        return type(self), (self.path,)


# ------------------------------------------------------------------- checksum


class UnknownAlgorithm(SyncsafeError, ValueError):
    """A checksum algorithm name is not one syncsafe implements; ``known`` lists those it does."""

    def __init__(self, name: str, known: Sequence[str]) -> None:
        super().__init__(name, tuple(known))
        self.name = name
        self.known: tuple[str, ...] = tuple(known)

    def __str__(self) -> str:
        return f"unknown checksum algorithm {self.name!r}: use one of {', '.join(self.known)}"

    def __reduce__(self) -> tuple[type[UnknownAlgorithm], tuple[str, tuple[str, ...]]]:
        return type(self), (self.name, self.known)


class MalformedKustomization(SyncsafeError, ValueError):
    """
    A kustomization file cannot be read the way ``kustomize build`` reads it.

    ``path`` is the file (relative to the root), ``line`` and ``column`` are
    1-based where the YAML gives them (``None`` otherwise), ``problem`` is the
    rule it breaks. A checksum that skipped such a file would miss whatever it
    refers to, so the file is an error, never a warning.
    """

    def __init__(
        self, path: str, problem: str, line: int | None = None, column: int | None = None
    ) -> None:
        super().__init__(path, problem, line, column)
        self.path = path
        self.problem = problem
        self.line = line
        self.column = column

    def __str__(self) -> str:
        where = self.path
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        return f"{where}: malformed kustomization: {self.problem}"

    def __reduce__(
        self,
    ) -> tuple[type[MalformedKustomization], tuple[str, str, int | None, int | None]]:
        return type(self), (self.path, self.problem, self.line, self.column)


class RemoteReferenceRefused(SyncsafeError, ValueError):
    """
    A kustomization refers to something outside the checkout, and such references were refused.

    A remote reference (a URL or a git reference such as
    ``github.com/org/repo//path?ref=v1``) cannot be hashed from the checkout:
    what it points to can change without any local file changing. Nor can
    an exec or container (KRM function) plugin: what it generates comes from
    a program. ``reason`` says which, in words (``None``: a remote reference).
    """

    def __init__(self, path: str, reference: str, reason: str | None = None) -> None:
        super().__init__(path, reference, reason)
        self.path = path
        self.reference = reference
        self.reason = reason

    def __str__(self) -> str:
        reason = self.reason or "its content is not in the checkout and cannot be hashed"
        return (
            f"{self.path}: remote reference {self.reference} refused: {reason} (allow_remote=False)"
        )

    def __reduce__(
        self,
    ) -> tuple[type[RemoteReferenceRefused], tuple[str, str, str | None]]:
        return type(self), (self.path, self.reference, self.reason)


class CorruptManifest(SyncsafeError, ValueError):
    """A checksum manifest (``Checksum.to_json``) is not valid: ``problem`` says why."""

    def __init__(self, source: str, problem: str) -> None:
        super().__init__(source, problem)
        self.source = source
        self.problem = problem

    def __str__(self) -> str:
        return f"checksum manifest {self.source} is corrupt: {self.problem}"

    def __reduce__(self) -> tuple[type[CorruptManifest], tuple[str, str]]:
        return type(self), (self.source, self.problem)


class NonCanonicalPath(SyncsafeError, ValueError):
    r"""
    A manifest path is a ``str`` that is not how its bytes are written.

    A path's one ``str`` is its bytes decoded as UTF-8 with
    ``surrogateescape`` (what :func:`os.fsdecode` gives). ``"\udcc3\udca9"``
    encodes to the bytes of ``"é"``, so accepting both would let two
    manifests share a digest and one path appear twice; ``canonical`` is the
    ``str`` that must be used instead, or ``None`` when *path* holds a
    surrogate that no byte decodes to and so names no file at all. This is
    not Unicode normalisation: a composed and a decomposed ``é`` are
    different bytes, and different paths.
    """

    def __init__(self, path: str, canonical: str | None) -> None:
        super().__init__(path, canonical)
        self.path = path
        self.canonical = canonical

    def __str__(self) -> str:
        rule = "a path's str is its bytes decoded as UTF-8 with surrogateescape"
        if self.canonical is None:
            return f"path {self.path!r} cannot be encoded to bytes ({rule})"
        return f"path {self.path!r} must be written {self.canonical!r}, the same bytes ({rule})"

    def __reduce__(self) -> tuple[type[NonCanonicalPath], tuple[str, str | None]]:
        return type(self), (self.path, self.canonical)


class IncomparableChecksums(SyncsafeError, ValueError):
    """
    Two checksums of different algorithms, formats or modes were compared file by file.

    A tree's checksum and an overlay's do not compare either: a tree names a
    file by its path through a symlink, an overlay by its physical path.
    """

    def __init__(self, left: str, right: str) -> None:
        super().__init__(left, right)
        self.left = left
        self.right = right

    def __str__(self) -> str:
        return (
            f"cannot diff a {self.left} checksum against a {self.right} checksum: "
            "per-file digests only compare within one algorithm, format and mode"
        )

    def __reduce__(self) -> tuple[type[IncomparableChecksums], tuple[str, str]]:
        return type(self), (self.left, self.right)


class FileChangedWhileHashing(SyncsafeError, OSError):
    """
    A file's size changed between its ``stat`` and the end of reading it.

    The digest would describe no version of the file that ever existed, so
    none is returned: run the checksum again once the writer has finished.
    """

    def __init__(self, path: str, expected: int, actual: int) -> None:
        # One argument: three would be read by OSError as (errno, strerror, filename).
        super().__init__(path)
        self.path = path
        self.expected = expected
        self.actual = actual

    def __str__(self) -> str:
        return (
            f"{self.path} changed while it was hashed: stat said {self.expected} bytes, "
            f"reading gave {self.actual}"
        )

    def __reduce__(self) -> tuple[type[FileChangedWhileHashing], tuple[str, int, int]]:
        return type(self), (self.path, self.expected, self.actual)


# ---------------------------------------------------------------------- guard


class SyncInProgress(SyncsafeError, RuntimeError):
    """
    A run for the key is in flight and the policy is ``"reject"``.

    This is what the incident's documented fix did ("sync already in
    progress"): the request is dropped, and the update it carried is lost
    unless the caller retries. ``generation`` is the run in flight.
    """

    def __init__(self, key: object, generation: int) -> None:
        super().__init__(key, generation)
        self.key = key
        self.generation = generation

    def __str__(self) -> str:
        return (
            f"sync of {self.key!r} rejected: run {self.generation} is in progress "
            "and the policy is 'reject'"
        )

    def __reduce__(self) -> tuple[type[SyncInProgress], tuple[object, int]]:
        return type(self), (self.key, self.generation)


class SyncFailed(SyncsafeError, RuntimeError):
    """
    The run that served this caller raised; another caller executed it.

    The caller that executed the run gets the original exception; every other
    caller of that run gets a ``SyncFailed`` whose ``__cause__`` is that
    exception (when it ran in this process) and whose ``error`` describes it.
    """

    def __init__(self, key: object, generation: int, error: str) -> None:
        super().__init__(key, generation, error)
        self.key = key
        self.generation = generation
        self.error = error

    def __str__(self) -> str:
        return f"sync of {self.key!r} failed: run {self.generation} raised {self.error}"

    def __reduce__(self) -> tuple[type[SyncFailed], tuple[object, int, str]]:
        return type(self), (self.key, self.generation, self.error)


class SyncTimeout(SyncsafeError, TimeoutError):
    """
    A caller gave up waiting for a run after ``timeout`` seconds.

    The run it waited for is not cancelled: the other callers still get it.
    """

    def __init__(self, key: object, timeout: float) -> None:
        super().__init__(key, timeout)
        self.key = key
        self.timeout = timeout

    def __str__(self) -> str:
        return (
            f"sync of {self.key!r}: no run served this call within {self.timeout:g} s "
            "(the run in flight goes on)"
        )

    def __reduce__(self) -> tuple[type[SyncTimeout], tuple[object, float]]:
        return type(self), (self.key, self.timeout)


class ReentrantSync(SyncsafeError, RuntimeError):
    """
    A run called the guard for its own key.

    Waiting would never end: the caller would wait for the run it is inside.
    The guard raises instead of deadlocking.
    """

    def __init__(self, key: object) -> None:
        super().__init__(key)
        self.key = key

    def __str__(self) -> str:
        return (
            f"sync of {self.key!r} called from inside its own run: a run must not wait for itself"
        )

    def __reduce__(self) -> tuple[type[ReentrantSync], tuple[object]]:
        return type(self), (self.key,)


class GuardStateCorrupt(SyncsafeError, ValueError):
    """
    A ``FileSyncGuard`` state file cannot be read back.

    syncsafe writes state files so that no crash leaves them without a whole
    record (two CRC-checked slots, one always intact), so this means
    something else wrote the file, or the disk damaged both slots; the guard
    refuses to guess a generation, which could reuse a fencing token.
    """

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(path, problem)
        self.path = path
        self.problem = problem

    def __str__(self) -> str:
        return f"{self.path}: {self.problem}; a guard state file must be the guard's own JSON"

    def __reduce__(self) -> tuple[type[GuardStateCorrupt], tuple[str, str]]:
        return type(self), (self.path, self.problem)


class GuardUnavailable(SyncsafeError, ConnectionError):
    """
    The guard's store (etcd) could not decide: no quorum, no leader, or no endpoint answered.

    The guard fails closed: the function has not run, and no local lock stood
    in for the store. Raised within about ``request_timeout`` times the number
    of endpoints.
    """

    def __init__(self, key: object, endpoints: Sequence[str], problem: str) -> None:
        super().__init__(key, tuple(endpoints), problem)
        self.key = key
        self.endpoints = tuple(endpoints)
        self.problem = problem

    def __str__(self) -> str:
        where = ", ".join(self.endpoints)
        return (
            f"sync of {self.key!r}: no etcd endpoint could decide ({where}): {self.problem}; "
            "the run did not start (a guard never runs without the store's consent)"
        )

    def __reduce__(self) -> tuple[type[GuardUnavailable], tuple[object, tuple[str, ...], str]]:
        return type(self), (self.key, self.endpoints, self.problem)


class LeaseLost(SyncsafeError, RuntimeError):
    """
    A run can no longer prove that it holds its key: its etcd lease expired or is gone.

    Another run of the key may have started since; whatever this run writes
    from now on must be refused by a fence (``fenced_put`` does it).
    """

    def __init__(self, key: object, generation: int, problem: str) -> None:
        super().__init__(key, generation, problem)
        self.key = key
        self.generation = generation
        self.problem = problem

    def __str__(self) -> str:
        return (
            f"run {self.generation} of {self.key!r} lost its lease: {self.problem}; "
            "a run may act only while its lease is provably alive"
        )

    def __reduce__(self) -> tuple[type[LeaseLost], tuple[object, int, str]]:
        return type(self), (self.key, self.generation, self.problem)


class FencedOut(SyncsafeError, PermissionError):
    """
    A fenced write was refused: the run that made it no longer holds its key.

    Nothing was written. A newer run (a higher generation) may hold the key,
    or none does; either way a late write of an old run must not land.
    """

    def __init__(self, key: object, generation: int, target: str) -> None:
        super().__init__(key, generation, target)
        self.key = key
        self.generation = generation
        self.target = target

    def __str__(self) -> str:
        return (
            f"write of {self.target!r} by run {self.generation} of {self.key!r} refused: "
            "the run no longer holds the key, and only the holder's writes are accepted"
        )

    def __reduce__(self) -> tuple[type[FencedOut], tuple[object, int, str]]:
        return type(self), (self.key, self.generation, self.target)


# ---------------------------------------------------------------- storm/stale


class InvalidDuration(SyncsafeError, ValueError):
    """
    A string is not a Go ``time.ParseDuration`` duration.

    ``problem`` says which rule it broke, in Go's words where Go has them
    (``missing unit``, ``unknown unit "d"``, ``overflows int64 nanoseconds``).
    """

    def __init__(self, text: str, problem: str) -> None:
        super().__init__(text, problem)
        self.text = text
        self.problem = problem

    def __str__(self) -> str:
        return f"invalid duration {self.text!r}: {self.problem}"

    def __reduce__(self) -> tuple[type[InvalidDuration], tuple[str, str]]:
        return type(self), (self.text, self.problem)


class NaiveTimestamp(SyncsafeError, ValueError):
    """
    A datetime without a time zone was given where an instant is needed.

    A naive datetime is a wall-clock reading in an unknown zone: comparing it
    with an aware one raises ``TypeError``, and converting it guesses the host's
    zone. syncsafe refuses it; ``what`` names the value (``SyncEvent.timestamp``,
    ``now``).
    """

    def __init__(self, what: str, value: str) -> None:
        super().__init__(what, value)
        self.what = what
        self.value = value

    def __str__(self) -> str:
        return (
            f"{self.what} {self.value} has no time zone: "
            "must be timezone-aware (e.g. datetime.now(timezone.utc))"
        )

    def __reduce__(self) -> tuple[type[NaiveTimestamp], tuple[str, str]]:
        return type(self), (self.what, self.value)


class WindowMovedPast(SyncsafeError, ValueError):
    """
    A storm detector was asked about a time its window has moved past.

    The detector forgets events older than its window (plus ``lateness``) at
    the newest time it has seen; a question about a window that began before
    that would be answered from a log that has lost events, so it is refused.
    ``now`` is the time asked about, ``earliest`` the earliest time still
    answered exactly.
    """

    def __init__(self, now: str, earliest: str) -> None:
        super().__init__(now, earliest)
        self.now = now
        self.earliest = earliest

    def __str__(self) -> str:
        return (
            f"the window ending at {self.now} has moved past: events before it are "
            f"forgotten, so only times from {self.earliest} on are answered "
            "(a larger lateness keeps more)"
        )

    def __reduce__(self) -> tuple[type[WindowMovedPast], tuple[str, str]]:
        return type(self), (self.now, self.earliest)


class InvalidRevision(SyncsafeError, ValueError):
    """A string is not a Flux or Argo CD source revision; ``problem`` says why."""

    def __init__(self, text: str, problem: str) -> None:
        super().__init__(text, problem)
        self.text = text
        self.problem = problem

    def __str__(self) -> str:
        return f"invalid revision {self.text!r}: {self.problem}"

    def __reduce__(self) -> tuple[type[InvalidRevision], tuple[str, str]]:
        return type(self), (self.text, self.problem)


class UnknownCommit(SyncsafeError, LookupError):
    """
    A repository does not contain the commit a revision names.

    Raised instead of guessing a commit time: a missing commit means the
    repository is not the one the controller applied from, or not fetched.
    """

    def __init__(self, digest: str, repo: str, detail: str = "") -> None:
        super().__init__(digest, repo, detail)
        self.digest = digest
        self.repo = repo
        self.detail = detail

    def __str__(self) -> str:
        tail = f" ({self.detail})" if self.detail else ""
        return f"commit {self.digest} is not in the repository at {self.repo}{tail}"

    def __reduce__(self) -> tuple[type[UnknownCommit], tuple[str, str, str]]:
        return type(self), (self.digest, self.repo, self.detail)


class CommitTimeOutOfRange(SyncsafeError, ValueError):
    """
    A commit's time is outside what a ``datetime`` holds (the years 1 to 9999).

    git stores any number of seconds; a commit dated in the year 33658 is not
    a time anything can be measured against, so it is refused, not clamped.
    """

    def __init__(self, digest: str, repo: str, seconds: int) -> None:
        super().__init__(digest, repo, seconds)
        self.digest = digest
        self.repo = repo
        self.seconds = seconds

    def __str__(self) -> str:
        return (
            f"commit {self.digest} in the repository at {self.repo} is dated {self.seconds} "
            "seconds after 1970, outside the years 1 to 9999"
        )

    def __reduce__(self) -> tuple[type[CommitTimeOutOfRange], tuple[str, str, int]]:
        return type(self), (self.digest, self.repo, self.seconds)


class InvalidMetric(SyncsafeError, ValueError):
    """A Prometheus metric or label name, or a sample, breaks the exposition format's rules."""

    def __init__(self, name: str, problem: str) -> None:
        super().__init__(name, problem)
        self.name = name
        self.problem = problem

    def __str__(self) -> str:
        return f"invalid metric {self.name!r}: {self.problem}"

    def __reduce__(self) -> tuple[type[InvalidMetric], tuple[str, str]]:
        return type(self), (self.name, self.problem)


# ---------------------------------------------------------- a real kustomize


class KustomizeUnavailable(SyncsafeError, OSError):
    """
    No real kustomize could be loaded: ``library`` names what was looked for.

    Raised by :class:`syncsafe.testing.Kustomize`; ``make kustomize`` installs
    the library that ``make test`` uses. A test that needs a real kustomize
    fails with this error instead of skipping.
    """

    def __init__(self, library: str, problem: str) -> None:
        # One argument: two would be read by OSError as (errno, strerror).
        super().__init__(library)
        self.library = library
        self.problem = problem

    def __str__(self) -> str:
        return (
            f"no real kustomize: {self.library}: {self.problem} "
            "('make kustomize' installs kustomize's library from the pykustomize wheel, "
            "for Linux x86-64)"
        )

    def __reduce__(self) -> tuple[type[KustomizeUnavailable], tuple[str, str]]:
        return type(self), (self.library, self.problem)


class KustomizeBuildFailed(SyncsafeError, RuntimeError):
    """``kustomize build`` of ``path`` failed; ``message`` is kustomize's own."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(path, message)
        self.path = path
        self.message = message

    def __str__(self) -> str:
        return f"kustomize build {self.path} failed: {self.message}"

    def __reduce__(self) -> tuple[type[KustomizeBuildFailed], tuple[str, str]]:
        return type(self), (self.path, self.message)
