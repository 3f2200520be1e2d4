from __future__ import annotations

import pytest

from syncsafe.errors import ReentrantSync, SyncInProgress
from syncsafe.guard._machine import DONE, PENDING, RUNNING, Caller, Flight, Machine


def test_a_solo_run_is_a_tuple_until_someone_joins() -> None:
    """Alone, a run is a (generation, tick, owner) tuple; a second caller makes it a flight."""
    machine = Machine()
    solo = machine.arrive("k", "coalesce", "t1")
    assert (1, 2, "t1") == solo
    running, pending = machine.flights("k")
    assert running is solo
    assert pending is None
    follower = machine.arrive("k", "share", "t2")
    assert isinstance(follower, Caller)
    assert isinstance(solo, tuple)
    flight = machine.inflate("k", solo)
    assert flight is follower.flight
    assert (RUNNING, 1, "t1") == (flight.state, flight.generation, flight.runner)
    joined, started = machine.finish_solo("k", solo, "v")
    assert joined is flight
    assert [] == list(started)
    assert (DONE, "v", 2) == (flight.state, flight.value, flight.served)


def test_the_runner_itself_is_refused_for_its_key() -> None:
    """The owner running a key cannot arrive for it again, solo or flight."""
    machine = Machine()
    machine.arrive("k", "coalesce", "t1")
    with pytest.raises(ReentrantSync):
        machine.arrive("k", "coalesce", "t1")
    machine.arrive("k", "coalesce", "t2")
    with pytest.raises(ReentrantSync):
        machine.arrive("k", "share", "t1")


def test_misuse_is_refused() -> None:
    """Finishing twice, beginning as a non-leader or a stale solo are errors, not corruption."""
    machine = Machine()
    solo = machine.arrive("k", "coalesce")
    assert isinstance(solo, tuple)
    waiter = machine.arrive("k", "coalesce")
    assert isinstance(waiter, Caller)
    with pytest.raises(RuntimeError, match="designated leader"):
        machine.begin(waiter, "t")
    with pytest.raises(ValueError, match="policy='later'"):
        machine.arrive("k", "later")
    machine.finish_solo("k", solo)
    with pytest.raises(RuntimeError, match="solo run of the key is over"):
        machine.finish_solo("k", solo)
    with pytest.raises(RuntimeError, match="solo run of the key is over"):
        machine.inflate("k", solo)
    flight = waiter.flight
    machine.begin(waiter, "t")
    machine.finish(flight)
    with pytest.raises(RuntimeError, match="only a running flight"):
        machine.finish(flight)
    assert [] == machine.leave(waiter)  # leaving a done flight changes nothing
    assert 0 == machine.size()


def test_reject_names_the_run_in_flight() -> None:
    """Policy reject raises SyncInProgress with the generation in flight, and counts it."""
    machine = Machine()
    machine.arrive("other", "coalesce")
    machine.arrive("k", "coalesce")
    with pytest.raises(SyncInProgress) as info:
        machine.arrive("k", "reject")
    assert 2 == info.value.generation
    assert 1 == machine.rejected


def test_a_solo_run_ending_hands_its_slot_to_the_queue() -> None:
    """Under a cap, the end of a solo run starts the first run waiting for a slot."""
    machine = Machine(max_concurrent=1)
    solo = machine.arrive("a", "coalesce")
    assert isinstance(solo, tuple)
    queued = machine.arrive("b", "coalesce")
    assert isinstance(queued, Caller)
    assert (queued.flight,) == machine.queued
    assert PENDING == queued.flight.state
    joined, started = machine.finish_solo("a", solo)
    assert joined is None
    assert [queued.flight] == list(started)
    assert queued.flight.leader is queued


def test_a_leader_that_leaves_before_beginning_passes_the_lead() -> None:
    """The next caller leads; when none is left the run is dropped and the slot freed."""
    machine = Machine(max_concurrent=1)
    solo = machine.arrive("a", "coalesce")
    assert isinstance(solo, tuple)
    first = machine.arrive("b", "coalesce")
    second = machine.arrive("b", "coalesce")
    third = machine.arrive("c", "coalesce")
    assert isinstance(first, Caller)
    assert isinstance(second, Caller)
    assert isinstance(third, Caller)
    _, started = machine.finish_solo("a", solo)
    flight = first.flight
    assert [flight] == list(started)
    assert [flight] == machine.leave(first)
    assert flight.leader is second
    started = machine.leave(second)  # nobody left to run it: "c" gets the slot
    assert [third.flight] == started
    assert isinstance(flight, Flight)
    assert DONE == flight.state
    assert 2 == machine.timed_out


def test_bad_cap() -> None:
    """max_concurrent must be at least 1."""
    with pytest.raises(ValueError, match="at least 1"):
        Machine(0)
