"""The asyncio front end: the pure machine on the event loop's thread, plus waiting."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Hashable
from typing import TypeVar, cast, final

import attrs

from syncsafe.errors import SyncFailed, SyncTimeout
from syncsafe.guard._machine import (
    DONE,
    Caller,
    Flight,
    Machine,
    Policy,
    _checked,
    _validate_policy,
)
from syncsafe.guard._values import GuardStatistics, Outcome

__all__ = ["AsyncSyncGuard"]

T = TypeVar("T")


@final
@attrs.define(eq=False)
class AsyncSyncGuard:
    """
    [`SyncGuard`][syncsafe.guard.SyncGuard]'s semantics for asyncio tasks.

    Unlike an ``asyncio.Lock`` per key, callers share runs; unlike awaiting a
    shared task directly, cancelling one caller never cancels the run the
    others wait for. Each run executes in a task of its own, so the run goes
    on even when every caller that waited for it was cancelled (a sync cut
    half way is worse than one nobody waits for). Arrival is one synchronous
    step with no ``await`` inside, so two tasks that race can never both
    start a run for the same key.

    Use it from one event loop; it is not thread-safe (use
    [`SyncGuard`][syncsafe.guard.SyncGuard] across threads).

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
    Called with the key, in the event loop's thread, each time a caller is
    about to wait for a run. For tests that order tasks without sleeping.
    """
    _machine: Machine = attrs.field(init=False, repr=False)
    # the runs' tasks: the event loop keeps only weak references
    _tasks: set[asyncio.Task[None]] = attrs.field(init=False, repr=False, factory=set)

    def __attrs_post_init__(self) -> None:
        self._machine = Machine(self.max_concurrent)

    async def run(
        self,
        key: Hashable,
        fn: Callable[[], Awaitable[T]],
        *,
        timeout: float | None = None,
        policy: Policy | None = None,
    ) -> Outcome[T]:
        """
        Run ``await fn()`` for *key*, or share a run of it, by the guard's policy.

        The same contract as [`syncsafe.SyncGuard.run`][syncsafe.guard.SyncGuard.run]. A caller that
        is cancelled, or whose *timeout* expires, stops waiting; the run goes on
        for the others. A run that awaits ``run`` for its own key raises
        [`ReentrantSync`][syncsafe.errors.ReentrantSync] (the check follows the run's task).
        """
        policy_ = self.policy if policy is None else _checked(policy)
        machine = self._machine
        arrived = machine.arrive(key, policy_, asyncio.current_task())
        if isinstance(arrived, tuple):  # a solo run: each run has a task here, so make it a flight
            flight = machine.inflate(key, arrived)
            caller = flight.callers[0]
        else:
            caller = arrived
            flight = caller.flight
        caller.data = fn
        done = flight.data
        if done is None:
            done = flight.data = asyncio.get_running_loop().create_future()
        assert isinstance(done, asyncio.Future)  # noqa: S101 - set above or by an earlier caller
        if flight.leader is caller:
            flight.runner = None
            self._launch(flight)
        elif self.on_wait is not None:
            self.on_wait(key)
        try:
            finished, _ = await asyncio.wait((done,), timeout=timeout)
        except BaseException:  # cancelled: stop waiting, the run goes on
            self._launch_all(machine.leave(caller, timed_out=False))
            raise
        if not finished:
            self._launch_all(machine.leave(caller))
            raise SyncTimeout(key, timeout if timeout is not None else 0.0)
        return self._served(caller)

    def statistics(self) -> GuardStatistics:
        """A frozen snapshot of the guard's counters and state."""
        return self._machine.statistics()

    # -------------------------------------------------------------- internals

    def _launch(self, flight: Flight) -> None:
        """Start the task that executes the started *flight*'s leader's function."""
        leader = flight.leader
        assert leader is not None  # noqa: S101 - a started flight has a leader
        fn = leader.data
        assert callable(fn)  # noqa: S101 - every caller stores its function
        task = asyncio.get_running_loop().create_task(self._execute(flight, fn))
        self._machine.begin(leader, task)
        self._tasks.add(task)
        task.add_done_callback(functools.partial(self._reap, flight))

    def _reap(self, flight: Flight, task: asyncio.Task[None]) -> None:
        """
        The run's task is done: settle its flight if the task never did.

        A task cancelled before its first step (shutdown code that cancels
        every other task) never enters `_execute`: without this, its
        key would stay in flight for good.
        """
        self._tasks.discard(task)
        if flight.state != DONE:
            error: BaseException = asyncio.CancelledError()
            if not task.cancelled() and task.exception() is not None:  # pragma: no cover
                error = cast("BaseException", task.exception())
            self._settle(flight, None, error)

    def _launch_all(self, started: list[Flight]) -> None:
        for flight in started:
            self._launch(flight)

    async def _execute(self, flight: Flight, fn: Callable[[], Awaitable[object]]) -> None:
        try:
            value = await fn()
        except BaseException as exc:
            self._settle(flight, None, exc)
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise  # the loop must still stop
            return  # every caller of the run gets the exception: none is left unretrieved
        self._settle(flight, value, None)

    def _settle(self, flight: Flight, value: object, error: BaseException | None) -> None:
        started = self._machine.finish(flight, value, error)
        done = flight.data
        if isinstance(done, asyncio.Future) and not done.done():
            done.set_result(None)
        self._launch_all(started)

    @staticmethod
    def _served(caller: Caller) -> Outcome[T]:
        flight = caller.flight
        assert flight.state == DONE  # noqa: S101 - its future resolved
        leader = flight.leader is caller
        if flight.error is not None:
            if leader:
                raise flight.error
            raise SyncFailed(flight.key, flight.generation, repr(flight.error)) from flight.error
        value: T = flight.value  # type: ignore[assignment]  # the leader's fn returned it
        return Outcome(value, flight.generation, leader, caller.fresh, flight.served - 1)
