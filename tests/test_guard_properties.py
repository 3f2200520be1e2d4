from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Hashable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from syncsafe.buggy.sync import App
from syncsafe.errors import SyncInProgress
from syncsafe.guard._machine import DONE, PENDING, RUNNING, Caller, Flight, Machine, Solo
from syncsafe.testing import Sequencer

pytestmark = pytest.mark.property

KEYS = st.sampled_from(["a", "b", "c"])


class GuardMachineModel(RuleBasedStateMachine):
    """
    Drive the pure state machine through arrivals, starts, ends and departures in any order.

    ``POLICIES`` are the policies callers arrive with; the invariants are the
    guard's promises for ``coalesce`` (``reject`` callers are refused, never
    served).
    """

    POLICIES: tuple[str, ...] = ("coalesce", "coalesce", "reject")
    STRICT = True  # check freshness for every served caller, not only those told it is fresh

    callers = Bundle("callers")

    def __init__(self) -> None:
        super().__init__()
        self.machine = Machine()
        self.cap: int | None = None
        self.waiting: dict[int, Caller] = {}  # id -> a caller not yet served and not gone
        self.running: dict[Hashable, Flight | Solo] = {}  # key -> the run the model saw start
        self.begun: set[int] = set()  # ids of flights whose leader began
        self.last_generation: dict[Hashable, int] = {}  # survives the key going idle
        self.served = 0

    @initialize(cap=st.sampled_from([None, 1, 2]))
    def make(self, cap: int | None) -> None:
        """A machine with no cap, or a cap of one or two runs."""
        self.machine = Machine(cap)
        self.cap = cap

    # ------------------------------------------------------------- bookkeeping

    def _started(self, key: Hashable, generation: int, run: Flight | Solo) -> None:
        assert key not in self.running, f"two runs of {key!r} at once"
        assert generation > self.last_generation.get(key, 0), "a generation went backwards"
        self.last_generation[key] = generation
        self.running[key] = run

    def _started_flights(self, flights: object) -> None:
        assert isinstance(flights, (list, tuple))
        for flight in flights:
            assert isinstance(flight, Flight)
            assert flight.state == RUNNING
            if self.running.get(flight.key) is flight:
                continue  # a new leader for a flight that had started already
            self._started(flight.key, flight.generation, flight)

    def _ended(self, key: Hashable, flight: Flight | None) -> None:
        del self.running[key]
        if flight is None:
            return
        assert flight.state == DONE
        for caller in flight.callers:
            self.waiting.pop(id(caller), None)
            self.served += 1
        for caller in flight.callers:
            # The promise: every caller is served by a run that started after it arrived.
            if self.STRICT or caller.fresh:
                assert flight.started > caller.arrived, (
                    "served by a run that started before it asked"
                )

    # ------------------------------------------------------------------ rules

    @rule(target=callers, key=KEYS, data=st.data())
    def arrive(self, key: str, data: st.DataObject) -> Caller | None:
        """A caller arrives with a policy: it starts a run, waits, or is refused."""
        policy = data.draw(st.sampled_from(self.POLICIES), label="policy")
        try:
            arrived = self.machine.arrive(key, policy, object())
        except SyncInProgress:
            assert policy == "reject"
            assert key in self.running
            return None
        if isinstance(arrived, tuple):
            self._started(key, arrived[0], arrived)
            return None
        assert arrived.flight.leader is not arrived  # only a solo run starts on arrival
        assert arrived.fresh or policy == "share"
        self.waiting[id(arrived)] = arrived
        return arrived

    @rule(data=st.data())
    def begin(self, data: st.DataObject) -> None:
        """The leader of a started flight begins executing."""
        ready = [
            f for f in self.running.values() if isinstance(f, Flight) and id(f) not in self.begun
        ]
        if not ready:
            return
        flight = data.draw(st.sampled_from(ready), label="flight")
        leader = flight.leader
        assert leader is not None
        assert leader in flight.callers
        self.machine.begin(leader, object())
        self.begun.add(id(flight))
        self.waiting.pop(id(leader), None)  # it executes now

    @rule(data=st.data(), failed=st.booleans())
    def finish(self, data: st.DataObject, failed: bool) -> None:  # noqa: FBT001
        """A run that began ends, returning or raising."""
        ready = [
            (key, run)
            for key, run in self.running.items()
            if isinstance(run, tuple) or id(run) in self.begun
        ]
        if not ready:
            return
        key, run = data.draw(st.sampled_from(ready), label="run")
        error = ValueError("boom") if failed else None
        if isinstance(run, tuple):
            joined, started = self.machine.finish_solo(key, run, "v", error)
        else:
            joined = run
            started = self.machine.finish(run, "v", error)
        if joined is not None:
            assert joined.error is error
        self._ended(key, joined)
        self._started_flights(started)

    @rule(caller=consumes(callers), cancelled=st.booleans())
    def leave(self, caller: Caller | None, cancelled: bool) -> None:  # noqa: FBT001
        """A waiting caller times out or is cancelled."""
        if caller is None or id(caller) not in self.waiting:
            return
        del self.waiting[id(caller)]
        flight = caller.flight
        was_running = flight.state == RUNNING
        timeouts = self.machine.timed_out
        started = self.machine.leave(caller, timed_out=not cancelled)
        assert timeouts + (not cancelled) == self.machine.timed_out
        if was_running and flight.state == DONE:  # its last caller left before it began
            del self.running[flight.key]
        self._started_flights(started)

    # ------------------------------------------------------------- invariants

    @invariant()
    def at_most_cap_runs(self) -> None:
        """Never more runs at once than max_concurrent, and the model agrees with the machine."""
        assert self.machine.running == len(self.running)
        if self.cap is not None:
            assert self.machine.running <= self.cap

    @invariant()
    def no_caller_is_stranded(self) -> None:
        """Every waiting caller's flight is pending or running, and a pending one can start."""
        for caller in self.waiting.values():
            flight = caller.flight
            assert flight.state in {PENDING, RUNNING}
            assert caller in flight.callers
            if flight.state == PENDING and flight.key not in self.running:
                # waiting for a slot: only while every slot is taken
                assert flight in self.machine.queued
                assert self.cap is not None
                assert self.machine.running == self.cap

    @invariant()
    def idle_means_no_state(self) -> None:
        """With no run and no waiting caller, the machine holds nothing."""
        if not self.running and not self.waiting:
            assert self.machine.size() == 0
            assert self.machine.keys() == 0

    def teardown(self) -> None:
        """Drain: every run ends, every waiting caller is served, and nothing is left."""
        for _ in range(1000):
            if not self.running:
                break
            key, run = next(iter(self.running.items()))
            if isinstance(run, Flight) and id(run) not in self.begun:
                assert run.leader is not None
                self.machine.begin(run.leader, object())
                self.begun.add(id(run))
                self.waiting.pop(id(run.leader), None)
            if isinstance(run, tuple):
                joined, started = self.machine.finish_solo(key, run)
            else:
                joined, started = run, self.machine.finish(run)
            self._ended(key, joined)
            self._started_flights(started)
        assert not self.running
        assert not self.waiting, "a caller was never served"
        assert self.machine.size() == 0


def test_the_state_machine_keeps_every_promise() -> None:
    """One run per key, every caller served by a later-started run, no state when idle."""
    run_state_machine_as_test(
        GuardMachineModel, settings=settings(max_examples=150, stateful_step_count=40)
    )


class MixedPoliciesModel(GuardMachineModel):
    """Every policy at once; a shared caller is told its run is not fresh, and that is checked."""

    POLICIES = ("coalesce", "share", "reject")
    STRICT = False


def test_mixed_policies_keep_every_promise() -> None:
    """Sharing callers change nothing for the others, and freshness is reported truthfully."""
    run_state_machine_as_test(
        MixedPoliciesModel, settings=settings(max_examples=100, stateful_step_count=40)
    )


class SharePolicyModel(GuardMachineModel):
    """The same invariants, for callers that join the run in flight (Go's singleflight)."""

    POLICIES = ("share",)


def test_the_share_policy_fails_the_freshness_promise() -> None:
    """Joining the run in flight serves callers with a run that started before they asked."""
    with pytest.raises(AssertionError, match="started before it asked"):
        run_state_machine_as_test(
            SharePolicyModel,
            settings=settings(
                max_examples=150,
                stateful_step_count=40,
                report_multiple_bugs=False,
                database=None,
            ),
        )


# --------------------------------------------------------- scheduled threads


class _Steps:
    """One thread's numbered steps: each ``advance`` ends its step and waits for the next."""

    def __init__(self, seq: Sequencer, positions: list[int]) -> None:
        self._seq = seq
        self._left = list(positions)
        self._step: contextlib.AbstractContextManager[None] | None = None

    def _exit(self) -> None:
        step = self._step
        if step is not None:
            step.__exit__(None, None, None)
            self._step = None

    def advance(self) -> None:
        self._exit()
        if self._left:
            step = self._step = self._seq(self._left.pop(0))
            step.__enter__()

    def finish(self) -> None:
        self._exit()
        while self._left:
            self._seq.point(self._left.pop(0))


def _run_schedule(schedule: list[int], bodies: list[Callable[[_Steps], None]]) -> None:
    """Run each body in a thread; thread t's k-th step is where t appears k-th in *schedule*."""
    seq = Sequencer(timeout=10)
    steps = [_Steps(seq, [i for i, t in enumerate(schedule) if t == n]) for n in range(len(bodies))]
    errors: list[BaseException] = []

    def thread(n: int) -> None:
        try:
            steps[n].advance()
            bodies[n](steps[n])
            steps[n].finish()
        except BaseException as exc:  # noqa: BLE001 - reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=thread, args=(n,)) for n in range(len(bodies))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=20)
    assert not errors, errors


def _interleavings(per_thread: int, threads: int = 2) -> st.SearchStrategy[list[int]]:
    return st.permutations([t for t in range(threads) for _ in range(per_thread)])


def _concurrent_syncs(schedule: list[int]) -> int:
    """Run the incident's Sync() in two threads under *schedule*; the most syncs seen at once."""
    local = threading.local()
    seen: list[int] = []

    def work() -> None:
        local.steps.advance()  # the increment is over: the sync itself
        seen.append(app.sync_count)
        local.steps.advance()

    app = App("payment-service", "production", hook=lambda _: local.steps.advance(), work=work)

    def request(steps: _Steps) -> None:
        local.steps = steps
        # read and check, [hook] increment, [work] sync, decrement; or "sync already in progress"
        with contextlib.suppress(RuntimeError):
            app.sync()

    _run_schedule(schedule, [request, request])
    return max(seen)


def test_the_buggy_sync_fails_the_one_at_a_time_property() -> None:
    """The property 'at most one sync at a time' is falsified for the incident's Sync()."""

    @settings(max_examples=100, database=None)
    @given(_interleavings(per_thread=4))
    def one_at_a_time(schedule: list[int]) -> None:
        assert _concurrent_syncs(schedule) == 1

    with pytest.raises(AssertionError):
        one_at_a_time()


def _deployed_after(schedule: list[int]) -> tuple[str, str, int]:
    """
    FixedSync() in two threads under *schedule*: A requests; B pushes a commit, then requests.

    Return the revision deployed at the end, the newest revision pushed, and
    the most syncs seen at once.
    """
    repo = ["r1"]
    deployed: list[str] = []
    peak: list[int] = []
    local = threading.local()

    def work() -> None:
        local.steps.advance()  # the sync reads the repository and applies it
        deployed.append(repo[-1])
        peak.append(app.sync_count)
        local.steps.advance()

    app = App("payment-service", "production", work=work)

    def request_a(steps: _Steps) -> None:
        local.steps = steps
        with contextlib.suppress(RuntimeError):
            app.fixed_sync()

    def push_then_request_b(steps: _Steps) -> None:
        local.steps = steps
        repo.append("r2")
        steps.advance()
        with contextlib.suppress(RuntimeError):  # "sync already in progress": dropped
            app.fixed_sync()

    # A's steps: call, read and apply, end. B's: push, call, read and apply, end.
    _run_schedule(schedule, [request_a, push_then_request_b])
    return deployed[-1], repo[-1], max(peak)


def _two_thread_schedules() -> st.SearchStrategy[list[int]]:
    return st.permutations([0, 0, 0, 1, 1, 1, 1])


def test_fixed_sync_fails_the_no_lost_update_property() -> None:
    """The property 'the newest pushed revision is deployed' is falsified for FixedSync()."""

    @settings(max_examples=100, database=None)
    @given(_two_thread_schedules())
    def newest_revision_deployed(schedule: list[int]) -> None:
        deployed, newest, _ = _deployed_after(schedule)
        assert newest == deployed

    with pytest.raises(AssertionError):
        newest_revision_deployed()


@settings(max_examples=30)
@given(_two_thread_schedules())
def test_fixed_sync_never_runs_two_syncs_at_once(schedule: list[int]) -> None:
    """The documented fix does close the race: under every schedule, one sync at a time."""
    _, _, peak = _deployed_after(schedule)
    assert 1 == peak
