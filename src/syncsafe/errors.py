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

from collections.abc import Sequence

__all__ = [
    "AnnotationsTooLarge",
    "GuardStateCorrupt",
    "InvalidAnnotationKey",
    "InvalidLabelValue",
    "ReentrantSync",
    "SyncFailed",
    "SyncInProgress",
    "SyncTimeout",
    "SyncsafeError",
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


# ------------------------------------------------------------------- checksum


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

    syncsafe replaces state files atomically, so this means something else
    wrote the file; the guard refuses to guess a generation, which could
    reuse a fencing token.
    """

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(path, problem)
        self.path = path
        self.problem = problem

    def __str__(self) -> str:
        return f"{self.path}: {self.problem}; a guard state file must be the guard's own JSON"

    def __reduce__(self) -> tuple[type[GuardStateCorrupt], tuple[str, str]]:
        return type(self), (self.path, self.problem)


# ---------------------------------------------------------------- storm/stale
