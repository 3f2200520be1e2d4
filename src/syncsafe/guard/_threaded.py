"""The threaded front end: the pure machine behind one mutex, plus waiting."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Hashable
from typing import TypeVar, cast, final

import attrs

from syncsafe.errors import SyncFailed, SyncTimeout
from syncsafe.guard._machine import (
    Caller,
    Flight,
    Machine,
    Policy,
    Solo,
    _checked,
    _validate_policy,
)
from syncsafe.guard._values import GuardStatistics, Outcome, new_outcome

__all__ = ["SyncGuard"]

T = TypeVar("T")

# A bare lock used as a one-shot signal: made only when a caller must wait, so
# the uncontended path allocates no Event or Condition (each of which builds
# locks and a waiter list of its own).
_allocate_lock = threading.Lock
_get_ident = threading.get_ident


@final
@attrs.define(eq=False)
class SyncGuard:
    """
    At most one run per key at a time, across threads, and no request lost.

    Unlike a ``threading.Lock`` per key, which runs every caller's function
    one after the other, the guard lets callers share runs; unlike Go's
    ``singleflight`` (the ``"share"`` policy), its default ``"coalesce"``
    policy never hands a caller the result of a run that started before the
    caller asked: a caller that arrives during a run waits for the next run,
    and everyone who arrived during one run shares that next run.

    ``SyncGuard(policy="coalesce", max_concurrent=None)``: *policy* is what
    a caller does when a run for its key is in flight: ``"coalesce"`` (wait
    for, and share, the next run), ``"share"`` (join the run in flight) or
    ``"reject"`` (raise [`SyncInProgress`][syncsafe.errors.SyncInProgress]). *max_concurrent*
    caps the runs in flight across all keys (the controller's
    max-concurrent-syncs); runs waiting for a slot start first come, first
    served.

    A run that calls [`run`][syncsafe.guard.SyncGuard.run] for another key while every slot is taken
    waits for a slot like any caller; with ``max_concurrent=1`` that never
    comes, so do not nest runs under a cap.

    !!! note "Added in version 0.1.0"
    """

    policy: Policy = attrs.field(
        default="coalesce", validator=_validate_policy, on_setattr=attrs.setters.frozen
    )
    """The policy of calls that do not name one."""
    max_concurrent: int | None = attrs.field(default=None, on_setattr=attrs.setters.frozen)
    """The cap on runs in flight across keys, or ``None``."""
    on_wait: Callable[[Hashable], None] | None = attrs.field(default=None, kw_only=True, repr=False)
    """
    Called with the key, in the caller's thread and outside the guard's
    lock, each time a caller is about to block. For tests that order callers
    without sleeping
    ([`syncsafe.testing.check_single_flight`][syncsafe.testing._checks.check_single_flight] waits on
    it).
    """
    _machine: Machine = attrs.field(init=False, repr=False)
    _mutex: threading.Lock = attrs.field(init=False, repr=False, factory=threading.Lock)

    def __attrs_post_init__(self) -> None:
        self._machine = Machine(self.max_concurrent, notify=True)

    def run(
        self,
        key: Hashable,
        fn: Callable[[], T],
        *,
        timeout: float | None = None,
        policy: Policy | None = None,
    ) -> Outcome[T]:
        """
        Run *fn* for *key*, or share a run of it, by the guard's policy.

        :param timeout: the longest this caller waits for a run, in seconds;
            on expiry [`SyncTimeout`][syncsafe.errors.SyncTimeout] is raised and the run goes
            on for its other callers. It does not bound a run this caller
            executes.
        :param policy: this call's policy, instead of the guard's.
        :return: the outcome: the value, the run's generation, and how this
            caller was served.
        :raises SyncInProgress: the policy is ``"reject"`` and a run is in flight.
        :raises SyncFailed: the run that served this caller raised, in another
            caller; the original exception is the ``__cause__``.
        :raises ReentrantSync: *fn*, in this thread, called ``run`` for its own key.
        :raises SyncTimeout: *timeout* expired before a run served this caller.

        Whatever *fn* raises reaches the caller that executed it unchanged,
        ``KeyboardInterrupt`` included, and never leaves the key stuck.
        """
        policy_ = self.policy if policy is None else _checked(policy)
        mutex = self._mutex
        machine = self._machine
        box: list[object] = [None]  # what this call holds in the machine, wherever it stops
        try:
            with mutex:
                caller = machine.arrive(key, policy_, _get_ident(), box)
                if not isinstance(caller, tuple) and caller.flight.leader is not caller:
                    waker = _allocate_lock()
                    waker.acquire()
                    caller.data = waker
            if isinstance(caller, tuple):
                # A solo run, nobody else in flight for the key: the hot path, inlined.
                try:
                    value = fn()
                except BaseException as exc:
                    self._finish_solo(key, caller, None, exc)
                    raise
                with mutex:
                    joined = machine.finish_solo(key, caller, value, None)[0]
                    if machine.notify:
                        self._signal()
                shared_with = 0 if joined is None else joined.served - 1
                return new_outcome(Outcome, (value, caller[0], True, True, shared_with, False))
            flight = caller.flight
            if flight.leader is not caller and not self._wait(caller, waker, timeout):
                return self._served(caller)
            try:
                value = fn()
            except BaseException as exc:
                self._finish(flight, None, exc)
                raise
            self._finish(flight, value, None)
            return Outcome(value, flight.generation, True, caller.fresh, flight.served - 1)  # noqa: FBT003
        except BaseException as exc:
            self._repair(key, box, exc)
            raise

    def _finish_solo(
        self, key: Hashable, solo: Solo, value: object, error: BaseException | None
    ) -> None:
        with self._mutex:
            self._machine.finish_solo(key, solo, value, error)
            self._signal()

    def _repair(self, key: Hashable, box: list[object], error: BaseException) -> None:
        """
        Whatever stopped this call, leave nothing of it in the machine, and lose no wake-up.

        An exception can land anywhere in ``run``'s own bookkeeping (a
        ``KeyboardInterrupt`` between two bytecodes): between recording the
        run and calling *fn*, between *fn* returning and the run's end, or
        in a waiter made leader. What the call holds is in *box*; a run still
        recorded as this call's ends with *error*, a caller still waiting
        leaves. Idempotent: a call that ended cleanly changes nothing.
        """
        with self._mutex:
            machine = self._machine
            machine.settle(key, box[0], error)
            self._signal()

    def statistics(self) -> GuardStatistics:
        """A frozen snapshot of the guard's counters and state."""
        with self._mutex:
            return self._machine.statistics()

    # -------------------------------------------------------------- internals

    def _wait(self, caller: Caller, waker: threading.Lock, timeout: float | None) -> bool:
        """Block until *caller* leads a started flight (True) or its flight is done (False)."""
        hook = self.on_wait
        if hook is not None:
            hook(caller.flight.key)
        # KeyboardInterrupt while waiting: run()'s repair makes the caller leave
        acquired = waker.acquire(timeout=-1 if timeout is None else max(timeout, 0.0))
        with self._mutex:
            leads = self._machine.woken(caller, _get_ident(), acquired=acquired)
            if leads is not None:
                return leads
            self._signal()
        raise SyncTimeout(caller.flight.key, timeout if timeout is not None else 0.0)

    def _finish(self, flight: Flight, value: object, error: BaseException | None) -> None:
        with self._mutex:
            self._machine.finish(flight, value, error)
            self._signal()

    def _signal(self) -> None:
        """
        Tell the callers of every flight the machine noted: done, or started (held: the mutex).

        A flight leaves the list only once told, so one interrupted here is
        told again by the next signal; a waker released twice is harmless.
        """
        self._machine.wake_noted(_release)

    @staticmethod
    def _served(caller: Caller) -> Outcome[T]:
        flight = caller.flight
        if flight.error is not None:
            raise SyncFailed(flight.key, flight.generation, repr(flight.error)) from flight.error
        value: T = flight.value  # type: ignore[assignment]  # the leader's fn returned it
        return Outcome(value, flight.generation, False, caller.fresh, flight.served - 1)  # noqa: FBT003


def _release(waker: object) -> None:
    """Release a caller's waker, if it has one and it is not released yet."""
    if waker is not None:
        with contextlib.suppress(RuntimeError):  # released already, by an interrupted signal
            cast("threading.Lock", waker).release()
