"""The values a guard hands out: an outcome per call, a statistics snapshot, and the fence."""

from __future__ import annotations

import threading
from typing import Final, TypeVar, final

import attrs

__all__ = ["Fence", "GuardStatistics", "Outcome", "new_outcome"]

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


@final
class Outcome(tuple[T_co, int, bool, bool, int, bool]):
    """
    What one call of ``run`` got: the run that served it and that run's result.

    Unlike the value Go's ``singleflight.Group.Do`` returns (``v, err,
    shared``), an outcome says *which* run served the call (``generation``)
    and whether that run started after the call (``fresh``), which is the
    difference between a sync that saw the caller's update and one that may
    not have.

    An immutable value. It is a tuple underneath, not an attrs class, because
    every call of ``run`` makes one and a tuple is built in a fraction of the
    time; it compares equal only to another ``Outcome``.

    !!! note "Added in version 0.1.0"
    """

    __slots__ = ()

    def __new__(  # noqa: PLR0917 - the fields, in order, like any tuple's
        cls,
        value: T_co,
        generation: int,
        leader: bool,  # noqa: FBT001
        fresh: bool,  # noqa: FBT001
        shared_with: int,
        remote: bool = False,  # noqa: FBT001, FBT002
    ) -> Outcome[T_co]:
        return tuple.__new__(cls, (value, generation, leader, fresh, shared_with, remote))

    @property
    def value(self) -> T_co:
        """What the function returned. ``None`` when ``remote`` (see there)."""
        return self[0]

    @property
    def generation(self) -> int:
        """The run's fencing token: strictly increasing per key, never reused."""
        return self[1]

    @property
    def leader(self) -> bool:
        """Whether this caller executed the function."""
        return self[2]

    @property
    def fresh(self) -> bool:
        """Whether the run started after this call: always, under ``"coalesce"``."""
        return self[3]

    @property
    def shared_with(self) -> int:
        """How many other callers of this guard got this run's outcome when it ended."""
        return self[4]

    @property
    def remote(self) -> bool:
        """
        Whether another process executed the run (``FileSyncGuard`` only).

        A value cannot cross processes, so ``value`` is then ``None``.
        """
        return self[5]

    def __eq__(self, other: object) -> bool:
        return type(other) is Outcome and tuple.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        return not self == other

    def __hash__(self) -> int:
        return tuple.__hash__(self)

    def __getnewargs__(self) -> tuple[T_co, int, bool, bool, int, bool]:
        return (self[0], self[1], self[2], self[3], self[4], self[5])

    def __repr__(self) -> str:
        fields = zip(_OUTCOME_FIELDS, self, strict=True)
        return "Outcome(" + ", ".join(f"{name}={value!r}" for name, value in fields) + ")"


_OUTCOME_FIELDS: Final = ("value", "generation", "leader", "fresh", "shared_with", "remote")
# Builds an Outcome without a call to its __new__: the hot path's constructor.
new_outcome: Final = tuple.__new__


@final
@attrs.frozen
class GuardStatistics:
    """
    A snapshot of a guard's state and counters, from its ``statistics()`` method.

    Like the statistics of trio's primitives, it is a frozen value: it does
    not change as the guard goes on.

    !!! note "Added in version 0.1.0"
    """

    runs: int
    """
    Calls of the function this guard began since it was made: one per run,
    whether it returned, raised or was interrupted.
    """
    coalesced: int
    """
    Calls that got the outcome (value or error) of a run that another call
    executed, in this guard or, for ``FileSyncGuard``, in another process,
    counted when served. A caller that waited and then led a run itself is
    not one: every call that was not refused, did not stop waiting and was
    not interrupted is counted once in ``runs`` (as the run's leader) or
    once here.
    """
    rejected: int
    """Calls refused with ``SyncInProgress``."""
    timed_out: int
    """
    Calls whose ``timeout`` expired before a run served them (the run went
    on). A caller interrupted while it waited (a cancellation, a
    ``KeyboardInterrupt``) is not counted.
    """
    in_flight: int
    """Runs whose function is executing now."""
    waiting: int
    """
    Calls waiting now: for a run in flight, the next run, a slot, or (for
    ``FileSyncGuard``) another process's hold of the key.
    """
    keys: int
    """Keys with state in memory now: 0 when the guard is idle."""


@final
class Fence:
    """
    The writer's side of fencing: accept a generation only if it is newer.

    A leader that paused (a long garbage collection, a stopped VM) can wake
    after a newer run has written its result; if both pass their
    ``Outcome.generation`` to the same fence before writing, the old one is
    refused. Unlike a plain ``max()`` kept by each writer, the check and the
    update are one atomic step, safe across threads.

    !!! note "Added in version 0.1.0"
    """

    __slots__ = ("_last", "_lock")

    def __init__(self, last: int | None = None) -> None:
        self._last = last
        self._lock = threading.Lock()

    @property
    def last(self) -> int | None:
        """The newest generation accepted so far, or ``None``."""
        return self._last

    def accept(self, generation: int) -> bool:
        """Record *generation* and return True if it is newer than every one accepted before."""
        with self._lock:
            if self._last is not None and generation <= self._last:
                return False
            self._last = generation
            return True

    def __repr__(self) -> str:
        return f"Fence(last={self._last!r})"
