from __future__ import annotations

import itertools
import pickle
import threading
from collections.abc import Hashable

import attrs
import pytest

import syncsafe
from _threads import Threads, in_run
from syncsafe import (
    Fence,
    Outcome,
    ReentrantSync,
    SyncFailed,
    SyncGuard,
    SyncInProgress,
    SyncTimeout,
)
from syncsafe.guard._machine import Machine

pytestmark = pytest.mark.timeout(30)


def waiting_counter(guard: SyncGuard) -> threading.Semaphore:
    """A semaphore released each time a caller of *guard* is about to block."""
    blocked = threading.Semaphore(0)

    def hook(_key: Hashable) -> None:
        blocked.release()

    guard.on_wait = hook
    return blocked


def acquire(semaphore: threading.Semaphore, times: int = 1) -> None:
    """Wait until *semaphore* was released *times* times."""
    for _ in range(times):
        assert semaphore.acquire(timeout=10), "a caller never blocked"


def machine(guard: SyncGuard) -> Machine:
    """The guard's pure state machine."""
    return guard._machine


# ------------------------------------------------------------------ basics


def test_generations_grow_across_keys_and_idle_periods() -> None:
    """A generation is never reused: not for another key, not after the key's state was dropped."""
    guard = SyncGuard()
    generations = [guard.run(key, lambda: None).generation for key in ["a", "b", "a", "a"]]
    assert [1, 2, 3, 4] == generations
    assert 0 == machine(guard).size()


def test_idle_keys_leave_no_state() -> None:
    """20,000 distinct keys in a row: the guard holds nothing afterwards."""
    guard = SyncGuard()
    for n in range(20_000):
        guard.run(("app", n), lambda: None)
    assert 0 == machine(guard).size()
    assert 0 == guard.statistics().keys
    assert 20_000 == guard.statistics().runs


def test_the_uncontended_path_makes_no_event_or_condition(monkeypatch: pytest.MonkeyPatch) -> None:
    """No threading.Event or Condition is built for a run nobody else waits for."""
    guard = SyncGuard()

    def forbidden(*_args: object, **_kwargs: object) -> None:
        pytest.fail("the uncontended path built an Event or a Condition")

    monkeypatch.setattr(threading, "Event", forbidden)
    monkeypatch.setattr(threading, "Condition", forbidden)
    assert "ok" == guard.run("app", lambda: "ok").value
    assert "ok" == guard.run("app", lambda: "ok", policy="share").value


def test_bad_policies_are_rejected() -> None:
    """An unknown policy is a ValueError naming it, at construction and per call."""
    with pytest.raises(ValueError, match="policy='sometimes'"):
        SyncGuard("sometimes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="policy='never'"):
        SyncGuard().run("k", lambda: None, policy="never")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_concurrent=0"):
        SyncGuard(max_concurrent=0)


# --------------------------------------------------------------- policies


def test_reject_raises_sync_in_progress() -> None:
    """A reject caller is refused while a run is in flight, naming the key and the run."""
    guard = SyncGuard()
    threads, release = in_run(guard.run, timeout=10)
    with pytest.raises(SyncInProgress, match="'app' rejected: run 1 is in progress") as info:
        guard.run("app", lambda: None, policy="reject")
    release.set()
    threads.join()
    assert 1 == info.value.generation
    assert 1 == guard.statistics().rejected
    assert 2 == guard.run("app", lambda: None, policy="reject").generation


# ------------------------------------------------------- errors and timeouts


def test_reentry_is_caught_after_others_joined_the_run() -> None:
    """The check follows the running thread even once the solo run became a shared flight."""
    guard = SyncGuard(policy="share")
    blocked = waiting_counter(guard)
    joined = threading.Event()
    errors: list[BaseException] = []

    def reentrant() -> None:
        assert joined.wait(10)
        try:
            guard.run("app", lambda: None)
        except ReentrantSync as exc:
            errors.append(exc)

    threads = Threads()
    threads.start("leader", lambda: guard.run("app", reentrant))

    def join_when_the_follower_waits() -> None:
        acquire(blocked)
        joined.set()

    threads.start("joiner", join_when_the_follower_waits)
    threads.start("follower", lambda: guard.run("app", lambda: None))
    threads.join()
    assert 1 == len(errors)


# ---------------------------------------------------------- max_concurrent


def test_max_concurrent_caps_runs_across_keys_first_come_first_served() -> None:
    """With one slot, runs of other keys wait, and start in arrival order."""
    guard = SyncGuard(max_concurrent=1)
    blocked = waiting_counter(guard)
    threads, release = in_run(guard.run, "a", timeout=10)
    order: list[str] = []
    for key in ["b", "c", "d"]:
        threads.start(key, lambda key=key: guard.run(key, lambda: order.append(key)))  # type: ignore[misc]
        acquire(blocked)
    stats = guard.statistics()
    assert (1, 3, 4) == (stats.in_flight, stats.waiting, stats.keys)
    release.set()
    threads.join()
    assert ["b", "c", "d"] == order
    assert 0 == machine(guard).size()


def test_a_caller_joins_a_run_waiting_for_a_slot() -> None:
    """A second caller for a key whose run waits for a slot shares that run."""
    guard = SyncGuard(max_concurrent=1)
    blocked = waiting_counter(guard)
    threads, release = in_run(guard.run, "a", timeout=10)
    threads.start("b1", lambda: guard.run("b", lambda: "b"))
    acquire(blocked)
    threads.start("b2", lambda: guard.run("b", lambda: "never"))
    acquire(blocked)
    release.set()
    results = threads.join()
    assert Outcome("b", 2, True, True, 1) == results["b1"]  # noqa: FBT003
    assert Outcome("b", 2, False, True, 1) == results["b2"]  # noqa: FBT003


# ----------------------------------------------------------------- stress


@pytest.mark.timeout(60)
def test_stress_64_threads_one_key() -> None:
    """64 threads x 5 calls: never two runs at once, every call served by a run started after it."""
    guard = SyncGuard()
    clock = itertools.count()  # next() is atomic under the GIL
    lock = threading.Lock()
    active = peak = 0
    starts: dict[int, int] = {}
    calls: list[tuple[int, Outcome[int]]] = []
    barrier = threading.Barrier(64)

    def sync() -> int:
        nonlocal active, peak
        with lock:
            active += 1
            peak = max(peak, active)
        started = next(clock)
        with lock:
            active -= 1
        return started

    def worker() -> None:
        barrier.wait(timeout=10)
        for _ in range(5):
            asked = next(clock)
            outcome = guard.run("app", sync)
            calls.append((asked, outcome))
            if outcome.leader:
                starts[outcome.generation] = outcome.value

    threads = [threading.Thread(target=worker) for _ in range(64)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=50)
    assert 1 == peak
    assert 320 == len(calls)
    for asked, outcome in calls:
        assert outcome.fresh
        assert starts[outcome.generation] > asked
    stats = guard.statistics()
    assert stats.runs == len(starts)
    assert 320 == stats.runs + stats.coalesced
    assert 0 == machine(guard).size()


# ----------------------------------------------------- statistics and values


def test_statistics_is_a_frozen_snapshot() -> None:
    """statistics() is a value: it does not change, and cannot be changed."""
    guard = SyncGuard()
    before = guard.statistics()
    guard.run("app", lambda: None)
    assert 0 == before.runs
    assert 1 == guard.statistics().runs
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        before.runs = 5  # type: ignore[misc]


def test_outcome_is_an_immutable_value() -> None:
    """Outcome compares by value, only to outcomes; it hashes, pickles and cannot be changed."""
    outcome = Outcome("v", 3, True, False, 2)  # noqa: FBT003
    assert ("v", 3, True, False, 2, False) == (
        outcome.value,
        outcome.generation,
        outcome.leader,
        outcome.fresh,
        outcome.shared_with,
        outcome.remote,
    )
    assert outcome == Outcome("v", 3, True, False, 2, False)  # noqa: FBT003
    assert outcome != ("v", 3, True, False, 2, False)
    assert hash(outcome) == hash(Outcome("v", 3, True, False, 2))  # noqa: FBT003
    assert outcome == pickle.loads(pickle.dumps(outcome))  # noqa: S301 - our own data
    assert repr(outcome) == (
        "Outcome(value='v', generation=3, leader=True, fresh=False, shared_with=2, remote=False)"
    )
    with pytest.raises(AttributeError):
        outcome.value = "w"  # type: ignore[misc]


def test_fence_accepts_only_newer_generations() -> None:
    """A paused old leader's generation is refused once a newer one was accepted."""
    assert Fence().last is None
    fence = Fence()
    assert fence.accept(2)
    assert not fence.accept(1)
    assert not fence.accept(2)
    assert fence.accept(7)
    assert 7 == fence.last
    assert "Fence(last=7)" == repr(fence)
    assert not Fence(last=9).accept(9)


def test_fence_check_and_set_is_atomic_across_threads() -> None:
    """Of many threads offering the same generation, exactly one is accepted."""
    fence = Fence()
    barrier = threading.Barrier(16)
    accepted: list[bool] = []

    def offer() -> None:
        barrier.wait(timeout=10)
        accepted.append(fence.accept(1))

    threads = [threading.Thread(target=offer) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert 1 == accepted.count(True)


def test_the_guard_is_exported() -> None:
    """The guard's names are importable from syncsafe and syncsafe.guard alike."""
    assert syncsafe.SyncGuard is syncsafe.guard.SyncGuard


# ------------------------------------------------- waiting, at the edges


class _LateLock:
    """A waker whose timed wait reports a timeout just after it was released: the races at once."""

    def __init__(self) -> None:
        self._released = threading.Event()
        self._armed = False

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:  # noqa: ARG002, FBT001, FBT002
        if not self._armed:
            self._armed = True
            return True  # the guard arms the waker: locked
        assert self._released.wait(10)
        return False  # "timed out" at the very moment it was woken

    def release(self) -> None:
        self._released.set()


class _InterruptedLock:
    """A waker whose wait is interrupted, as by Ctrl-C in the main thread."""

    def __init__(self) -> None:
        self._armed = False

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:  # noqa: ARG002, FBT001, FBT002
        if not self._armed:
            self._armed = True
            return True
        raise KeyboardInterrupt

    def release(self) -> None:
        pytest.fail("an interrupted waiter was woken")


def _first_waker_is(monkeypatch: pytest.MonkeyPatch, fake: object) -> None:
    """Make the guard's next waker *fake*, and every later one a real lock."""
    wakers = iter([fake])

    def allocate() -> object:
        return next(wakers, None) or threading.Lock()

    monkeypatch.setattr("syncsafe.guard._threaded._allocate_lock", allocate)


def test_a_waiter_timing_out_as_it_is_served_takes_the_result(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A timeout that expires as the run ends is no timeout: the caller gets the outcome."""
    guard = SyncGuard(policy="share")
    blocked = waiting_counter(guard)
    _first_waker_is(monkeypatch, _LateLock())
    threads, release = in_run(guard.run, timeout=10)
    threads.start("late", lambda: guard.run("app", lambda: "never", timeout=5))
    acquire(blocked)
    release.set()
    assert Outcome("first", 1, False, False, 1) == threads.join()["late"]  # noqa: FBT003
    assert 0 == guard.statistics().timed_out


def test_a_leader_timing_out_as_it_is_promoted_passes_the_lead(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Made leader just as its timeout expired, a caller gives the run to the next one."""
    guard = SyncGuard()
    blocked = waiting_counter(guard)
    _first_waker_is(monkeypatch, _LateLock())
    threads, release = in_run(guard.run, timeout=10)
    threads.start("late", lambda: guard.run("app", lambda: "late", timeout=5))
    acquire(blocked)
    threads.start("next", lambda: guard.run("app", lambda: "next"))
    acquire(blocked)
    release.set()
    results = threads.join()
    assert isinstance(results["late"], SyncTimeout)
    assert Outcome("next", 2, True, True, 0) == results["next"]  # noqa: FBT003
    assert 0 == machine(guard).size()


def test_a_promoted_leader_alone_timing_out_drops_the_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With nobody to pass the lead to, the promoted run is dropped and the key freed."""
    guard = SyncGuard()
    blocked = waiting_counter(guard)
    _first_waker_is(monkeypatch, _LateLock())
    threads, release = in_run(guard.run, timeout=10)
    threads.start("late", lambda: guard.run("app", lambda: "late", timeout=5))
    acquire(blocked)
    release.set()
    assert isinstance(threads.join()["late"], SyncTimeout)
    assert 0 == machine(guard).size()
    assert 3 == guard.run("app", lambda: None).generation  # the dropped run's generation is spent


def test_an_interrupted_waiter_leaves(monkeypatch: pytest.MonkeyPatch) -> None:
    """KeyboardInterrupt while waiting: the caller leaves, nobody waits for it, no state is left."""
    guard = SyncGuard()
    blocked = waiting_counter(guard)
    _first_waker_is(monkeypatch, _InterruptedLock())
    threads, release = in_run(guard.run, timeout=10)
    threads.start("interrupted", lambda: guard.run("app", lambda: "never"))
    acquire(blocked)
    release.set()
    assert isinstance(threads.join()["interrupted"], KeyboardInterrupt)
    assert 1 == guard.statistics().runs
    assert 0 == machine(guard).size()


def test_a_promoted_leader_that_raises_fails_its_followers() -> None:
    """A failure in a coalesced run reaches its leader unchanged and its followers as SyncFailed."""
    guard = SyncGuard()
    blocked = waiting_counter(guard)
    threads, release = in_run(guard.run, timeout=10)
    boom = OSError("apply failed")

    def failing() -> None:
        raise boom

    threads.start("second", lambda: guard.run("app", failing))
    acquire(blocked)
    threads.start("third", lambda: guard.run("app", lambda: "never"))
    acquire(blocked)
    release.set()
    results = threads.join()
    assert results["second"] is boom
    assert isinstance(results["third"], SyncFailed)
    assert results["third"].__cause__ is boom
    assert 0 == machine(guard).size()


def test_settings_are_read_only_and_shown() -> None:
    """A guard's policy and cap are fixed at construction and shown in its repr."""
    guard = SyncGuard("share", 4)
    assert "SyncGuard(policy='share', max_concurrent=4)" == repr(guard)
    with pytest.raises(attrs.exceptions.FrozenAttributeError):
        guard.policy = "reject"
