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
    "InvalidAnnotationKey",
    "InvalidLabelValue",
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


# ---------------------------------------------------------------- storm/stale
