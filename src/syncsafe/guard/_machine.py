"""
The single-flight policy as a pure state machine: no locks, no I/O, no clock.

Written once, in the sans-I/O style of protocol libraries such as h11, and
driven by three front ends that only add waiting: threads
([`SyncGuard`][syncsafe.guard.SyncGuard]), asyncio tasks
([`AsyncSyncGuard`][syncsafe.guard.AsyncSyncGuard]) and, in each process,
[`FileSyncGuard`][syncsafe.guard.FileSyncGuard] (whose flights' leaders then go to
the cross-process policy, `syncsafe.guard._policy`). A front end calls the methods here
while it excludes every other caller of the same machine (a mutex, or the
event loop's single thread), and does what the return values say: run the
function, wake a caller, wait.

The vocabulary:

- a **caller** is one call of ``run``; it *arrives* with a policy;
- a **flight** is one run of the function for one key and the callers it
  serves. It is *pending* (waiting for the key's current run to end, or for a
  slot under ``max_concurrent``), then *running* (it has a generation and a
  designated leader, whose function it executes), then *done*;
- a key has at most one running flight and at most one pending flight. A
  ``coalesce`` caller that arrives while a flight runs joins the pending one,
  which starts after the running one ends; so every coalesce caller is served
  by a run that started after it arrived (the dirty/processing rule of
  client-go's workqueue). A ``share`` caller joins the running flight; a
  ``reject`` caller is refused;
- **ticks** number arrivals and starts in one guard-wide sequence, and
  **generations** number starts; neither is ever reused, so a generation is a
  fencing token even after a key's state was dropped.

A key with no caller left has no state: the dictionaries shrink back.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Hashable, Sequence
from typing import Final, Literal, cast, final

from syncsafe.errors import ReentrantSync, SyncInProgress
from syncsafe.guard._values import GuardStatistics

__all__ = [
    "DONE",
    "PENDING",
    "POLICIES",
    "RUNNING",
    "Caller",
    "Flight",
    "Machine",
    "Policy",
    "Solo",
]

Policy = Literal["coalesce", "share", "reject"]
"""What a caller does when a run for its key is in flight."""

POLICIES: Final[frozenset[str]] = frozenset({"coalesce", "share", "reject"})

Solo = tuple[int, int, object]
"""A run nobody else joined (yet): its generation, the tick it started at, its runner."""

PENDING: Final = 0
RUNNING: Final = 1
DONE: Final = 2


@final
class Caller:
    """One call of ``run``: when it arrived, which flight serves it, and the front end's handle."""

    __slots__ = ("arrived", "data", "flight", "fresh")

    def __init__(self, arrived: int, flight: Flight, *, fresh: bool) -> None:
        self.arrived = arrived
        """The tick at which the caller arrived."""
        self.flight = flight
        """The flight that serves this caller."""
        self.fresh = fresh
        """Whether that flight starts after this caller arrived."""
        self.data: object = None
        """The front end's own: a lock to release, a function to run."""


@final
class Flight:
    """One run for one key, and the callers it serves."""

    __slots__ = (
        "callers",
        "data",
        "error",
        "generation",
        "key",
        "leader",
        "runner",
        "served",
        "solo",
        "started",
        "state",
        "value",
    )

    def __init__(self, key: Hashable) -> None:
        self.key = key
        self.state = PENDING
        self.callers: list[Caller] = []
        """The callers still waiting for (or leading) this flight, in arrival order."""
        self.generation = 0
        """The fencing token, given when the flight starts."""
        self.started = 0
        """The tick at which the flight started."""
        self.leader: Caller | None = None
        """The caller whose function the flight runs: the first of ``callers`` at the start."""
        self.runner: object = None
        """Who executes the function once it has begun (a thread id, a task): re-entry check."""
        self.value: object = None
        self.error: BaseException | None = None
        self.served = 0
        """How many callers were still attached when the flight ended."""
        self.data: object = None
        """The front end's own: a future that the end of the flight resolves."""
        self.solo: Solo | None = None
        """The solo run this flight was made from, if a second caller joined one."""


@final
class Machine:
    """
    The state of every key of one guard, and the transitions between states.

    Every method is O(1) but `leave`, which is O(callers of one flight),
    and `statistics`, which is O(keys).
    """

    __slots__ = (
        "_current",
        "_generation",
        "_max_concurrent",
        "_next",
        "_queue",
        "_running",
        "_tick",
        "begun",
        "coalesced",
        "notify",
        "rejected",
        "timed_out",
    )

    def __init__(self, max_concurrent: int | None = None, *, notify: bool = False) -> None:
        if max_concurrent is not None and max_concurrent < 1:
            msg = f"max_concurrent={max_concurrent}: must be at least 1, or None for no cap"
            raise ValueError(msg)
        self._max_concurrent = max_concurrent
        self._current: dict[Hashable, Flight | Solo] = {}  # key -> its running flight
        self._next: dict[Hashable, Flight] = {}  # key -> its pending flight
        self._queue: deque[Flight] = deque()  # pending flights waiting for a slot, FIFO
        self._running = 0
        self._tick = 0
        self._generation = 0
        self.notify: list[Flight] | None = [] if notify else None
        """
        If asked for: every flight whose callers must be told, in the order it happened.

        A flight done (its followers wake) or started or given a new leader
        (its leader wakes). A front end that signals from this list, and
        removes a flight only once told, loses no wake-up even if an
        exception interrupts it between a transition and its signals.
        """
        self.begun = 0
        """Runs whose function began: solo runs, and flights whose leader called :meth:`begin`."""
        self.coalesced = 0
        self.rejected = 0
        self.timed_out = 0

    # ------------------------------------------------------------ transitions

    def arrive(
        self, key: Hashable, policy: str, owner: object = None, box: list[object] | None = None
    ) -> Caller | Solo:
        """
        A caller arrives for *key*; return it, attached to the flight that will serve it.

        If no run is in flight and a slot is free, the caller starts a *solo*
        run and gets a `Solo` tuple instead: it must execute the
        function now, then call `finish_solo`. If ``caller.flight.leader
        is caller``, the caller's flight has started and the caller must execute
        the function now (*owner* is recorded as its runner). Otherwise the
        caller waits until its flight is done, or until it is made the leader
        of a flight that starts.

        The result is also put in ``box[0]``, if *box* is given: a front end
        finds it there even if an exception lands before it stores it.

        :raises ReentrantSync: *owner* is executing the run for *key*.
        :raises SyncInProgress: a run for *key* is in flight and *policy* is ``"reject"``.
        """
        current = self._current.get(key)
        if current is None:
            flight = self._next.get(key) if self._next else None
            cap = self._max_concurrent
            if flight is None and (cap is None or self._running < cap):
                # The uncontended case: a solo run, a tuple instead of a Flight
                # and a Caller, until a second caller makes it a flight.
                tick = self._tick = self._tick + 2  # one for the arrival, one for the start
                generation = self._generation = self._generation + 1
                self._running += 1
                self.begun += 1
                solo = self._current[key] = (generation, tick, owner)
                if box is not None:
                    box[0] = solo
                return solo
            caller = self._queue_for_slot(key, flight)
        else:
            caller = self._join(key, current, policy, owner)
        if box is not None:
            box[0] = caller
        return caller

    def _queue_for_slot(self, key: Hashable, flight: Flight | None) -> Caller:
        """A caller of an idle key waits for a slot: in the key's pending flight, or a new one."""
        self._tick += 1
        if flight is not None:  # waiting for a slot: it starts after this caller
            caller = Caller(self._tick, flight, fresh=True)
            flight.callers.append(caller)
            return caller
        flight = Flight(key)
        caller = Caller(self._tick, flight, fresh=True)
        flight.callers.append(caller)
        self._next[key] = flight
        self._queue.append(flight)
        return caller

    def _join(self, key: Hashable, current: Flight | Solo, policy: str, owner: object) -> Caller:
        """A caller of a key with a run in flight: refused, or attached by its policy."""
        self._tick += 1
        if isinstance(current, tuple):
            current = self._inflate(key, current)
        if owner is not None and current.runner == owner:
            raise ReentrantSync(key)
        if policy == "coalesce":
            pending = self._next.get(key)
            if pending is None:
                pending = self._next[key] = Flight(key)
            caller = Caller(self._tick, pending, fresh=True)
        elif policy == "share":
            caller = Caller(self._tick, current, fresh=False)
        elif policy == "reject":
            self.rejected += 1
            raise SyncInProgress(key, current.generation)
        else:
            raise ValueError(_bad_policy(policy))
        caller.flight.callers.append(caller)
        return caller

    def inflate(self, key: Hashable, solo: Solo) -> Flight:
        """The flight of the solo run *solo* of *key*, made one if it was not yet."""
        current = self._current[key]
        if current is solo:
            return self._inflate(key, solo)
        assert isinstance(current, Flight)  # noqa: S101 - a key's current run is one or the other
        if current.solo is not solo:
            msg = "that solo run of the key is over"
            raise RuntimeError(msg)
        return current

    def woken(self, caller: Caller, owner: object, *, acquired: bool) -> bool | None:
        """
        A waiting *caller* woke (*acquired*) or its wait timed out: what now.

        False: its flight is done, so it takes the result (perhaps served as
        the timeout expired); True: it was woken to lead, and now does, as
        *owner*; None: it timed out and has left (the front end signals the
        flights that leaving noted, and raises).
        """
        if caller.flight.state == DONE:
            return False
        if acquired:
            self.begin(caller, owner)
            return True
        self.leave(caller)
        return None

    def wake_noted(self, wake: Callable[[object], None]) -> None:
        """
        Call *wake* with the ``data`` of each caller the noted flights must wake.

        A flight that ended wakes its followers; one that started wakes its
        leader. A flight leaves `notify` only once told, so one interrupted
        here is told again by the next call (a front end's waker must bear
        being released twice). The machine must note (``notify``).
        """
        notify = self.notify
        assert notify is not None  # noqa: S101 - only a noting machine is asked
        while notify:
            flight = notify[-1]
            if flight.state == DONE:
                leader = flight.leader
                for caller in flight.callers:
                    if caller is not leader:
                        wake(caller.data)
            else:
                assert flight.leader is not None  # noqa: S101 - a started flight has a leader
                wake(flight.leader.data)
            notify.pop()

    def settle(self, key: Hashable, held: object, error: BaseException | None) -> None:
        """
        Settle what a call interrupted in its own bookkeeping held for *key*.

        *held* is what ``arrive`` gave the call (a `Solo` or a `Caller`), or
        anything else if it got nothing yet. A run still recorded as the
        call's ends with *error*; a caller still waiting leaves. Idempotent:
        what already ended is left alone. The front end wakes its waiters.
        """
        if isinstance(held, tuple):
            current = self.flights(key)[0]
            if current is held or (
                isinstance(current, Flight) and current.solo is held and current.state != DONE
            ):
                self.finish_solo(key, cast("Solo", held), None, error)
        elif isinstance(held, Caller):
            flight = held.flight
            if flight.state == RUNNING and flight.leader is held and flight.runner is not None:
                self.finish(flight, None, error)
            elif flight.state != DONE:
                self.leave(held, timed_out=False)

    def finish_solo(
        self, key: Hashable, solo: Solo, value: object = None, error: BaseException | None = None
    ) -> tuple[Flight | None, Sequence[Flight]]:
        """
        The solo run *solo* of *key* ended: `finish` for a run given as a tuple.

        Return its flight, if other callers joined it and made it one, and the
        flights that started because it ended.
        """
        current = self._current.get(key)
        if current is solo:
            del self._current[key]
            self._running -= 1
            if self._queue:
                return None, self._fill()
            return _NOTHING_STARTED
        if not isinstance(current, Flight) or current.solo is not solo:
            msg = "that solo run of the key is over"
            raise RuntimeError(msg)
        return current, self.finish(current, value, error)

    def begin(self, caller: Caller, owner: object) -> None:
        """The leader *caller* begins executing its flight's function, as *owner*."""
        flight = caller.flight
        if flight.state != RUNNING or flight.leader is not caller or flight.runner is not None:
            msg = "only the designated leader of a started flight can begin it, once"
            raise RuntimeError(msg)
        flight.runner = owner
        if flight.solo is None:  # a solo run was counted when it started
            self.begun += 1

    def finish(
        self, flight: Flight, value: object = None, error: BaseException | None = None
    ) -> list[Flight]:
        """
        The running *flight* ended with *value*, or raised *error*.

        Its callers can read the result from the flight. Return the flights
        that started because this one ended (the key's pending flight, or
        flights that were waiting for a slot): their leaders must be told.
        """
        if flight.state != RUNNING:
            msg = "only a running flight can finish"
            raise RuntimeError(msg)
        flight.value = value
        flight.error = error
        return self._end(flight)

    def leave(self, caller: Caller, *, timed_out: bool = True) -> list[Flight]:
        """
        *caller* stops waiting (a timeout, a cancellation); its flight goes on.

        A caller that was made leader but has not begun passes the lead to
        the next caller of its flight; a flight left with no caller before it
        began is dropped. Return the flights whose leader must be told: a new
        leader, or flights that started because a slot came free. Leaving a
        flight that is done changes nothing.
        """
        flight = caller.flight
        if flight.state == DONE or caller not in flight.callers:
            return []
        flight.callers.remove(caller)
        if timed_out:
            self.timed_out += 1
        if flight.state == PENDING:
            if not flight.callers:
                del self._next[flight.key]
                if flight in self._queue:
                    self._queue.remove(flight)
            return []
        if flight.leader is not caller or flight.runner is not None:
            return []  # a follower left, or the run goes on without the caller that started it
        if flight.callers:
            flight.leader = flight.callers[0]
            if self.notify is not None:
                self.notify.append(flight)
            return [flight]
        return self._end(flight)  # nobody left to run it: it never began

    def withdraw(self, caller: Caller, *, timed_out: bool = True) -> list[Flight]:
        """
        The leader *caller* stops before its function began: `leave`, for a leader.

        For a front end whose leader has more to wait for once its flight
        started (a file lock held by another process): on a timeout, or a
        refusal, the lead passes to the next caller of its flight.
        """
        flight = caller.flight
        if flight.leader is not caller or flight.state != RUNNING:
            msg = "only the leader of a started flight can withdraw"
            raise RuntimeError(msg)
        flight.runner = None
        return self.leave(caller, timed_out=timed_out)

    # -------------------------------------------------------------- internals

    def _start(self, flight: Flight) -> None:
        self._tick += 1
        self._generation += 1
        self._running += 1
        flight.state = RUNNING
        flight.started = self._tick
        flight.generation = self._generation
        flight.leader = flight.callers[0]
        self._current[flight.key] = flight
        if self.notify is not None:
            self.notify.append(flight)

    def _inflate(self, key: Hashable, solo: Solo) -> Flight:
        generation, started, owner = solo
        flight = Flight(key)
        leader = Caller(started - 1, flight, fresh=True)
        flight.callers.append(leader)
        flight.state = RUNNING
        flight.generation = generation
        flight.started = started
        flight.leader = leader
        flight.runner = owner
        flight.solo = solo
        self._current[key] = flight
        return flight

    def _fill(self) -> list[Flight]:
        started: list[Flight] = []
        while self._queue and (
            self._max_concurrent is None or self._running < self._max_concurrent
        ):
            waiting = self._queue.popleft()
            del self._next[waiting.key]
            self._start(waiting)
            started.append(waiting)
        return started

    def _end(self, flight: Flight) -> list[Flight]:
        flight.state = DONE
        served = flight.served = len(flight.callers)
        # Served by a run another call executed: every caller still attached but its leader.
        followers = served - (flight.leader in flight.callers)
        self.coalesced += followers
        if followers and self.notify is not None:
            self.notify.append(flight)
        flight.runner = None
        self._running -= 1
        key = flight.key
        del self._current[key]
        pending = self._next.get(key)
        if pending is not None:
            if self._max_concurrent is None:
                del self._next[key]
                self._start(pending)
                return [pending]
            self._queue.append(pending)  # behind the flights already waiting for a slot
        return self._fill()

    # ------------------------------------------------------------ observation

    @property
    def runs(self) -> int:
        """How many runs started: each took the next generation."""
        return self._generation

    @property
    def running(self) -> int:
        """How many flights are running now."""
        return self._running

    def waiting(self) -> int:
        """How many callers wait: every caller attached to a flight but a running leader."""
        pending = sum(len(f.callers) for f in self._next.values())
        followers = sum(
            len(f.callers) - (f.leader in f.callers)
            for f in self._current.values()
            if isinstance(f, Flight)
        )
        return pending + followers

    def keys(self) -> int:
        """How many keys have state: a running or a pending flight."""
        return len(self._current.keys() | self._next.keys())

    def statistics(self) -> GuardStatistics:
        """A frozen snapshot of the counters and of the callers in flight or waiting."""
        return GuardStatistics(
            runs=self.begun,
            coalesced=self.coalesced,
            rejected=self.rejected,
            timed_out=self.timed_out,
            in_flight=self.running,
            waiting=self.waiting(),
            keys=self.keys(),
        )

    def size(self) -> int:
        """How many entries the machine holds: 0 when every key is idle."""
        return len(self._current) + len(self._next) + len(self._queue)

    def flights(self, key: Hashable) -> tuple[Flight | Solo | None, Flight | None]:
        """The running (solo or flight) and the pending flight of *key*."""
        return self._current.get(key), self._next.get(key)

    @property
    def queued(self) -> tuple[Flight, ...]:
        """The pending flights waiting for a slot, first come first."""
        return tuple(self._queue)


_NOTHING_STARTED: Final[tuple[None, tuple[()]]] = (None, ())


def _bad_policy(policy: object) -> str:
    return f"policy={policy!r}: must be one of 'coalesce', 'share', 'reject'"


def _validate_policy(_instance: object, _attribute: object, policy: str) -> None:
    """An attrs validator: *policy* must be one."""
    _checked(policy)


def _checked(policy: str) -> str:
    """*policy*, if it is one; else a ValueError naming it."""
    if policy not in POLICIES:
        raise ValueError(_bad_policy(policy))
    return policy
