from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from syncsafe.errors import SyncInProgress
from syncsafe.guard import _policy
from syncsafe.guard._policy import EMPTY, UNKNOWN, Held, Serve, State

pytestmark = pytest.mark.property

Decide = Callable[[str, Held | None, Held], Serve | None]


def decide_on_or_after(_name: str, seen: Held | None, current: Held) -> Serve | None:
    """A wrong variant: a finished run serves a coalesce caller if ``finished >= seen.started``."""
    if seen is None or current.finished < seen.started:
        return None
    return Serve(current.finished, current.finished > seen.started, current.error)


class _Caller:
    __slots__ = ("asked", "generation", "policy", "seen", "status")

    def __init__(self, policy: str, asked: int) -> None:
        self.policy = policy
        self.asked = asked
        self.seen: Held | None = None
        self.status = "new"  # new, waiting, holding, running, done
        self.generation = 0


class PolicyModel(RuleBasedStateMachine):
    """
    One key of an out-of-process backend, driven by the pure policy in any interleaving.

    The backend is the least one can be: a lock (one holder, released when its
    holder crashes), one stored record, and a generation allocator that never
    repeats (a ceiling that survives record loss). Arrivals, takes of the key,
    starts, ends, crashes, timeouts and record loss (back to any version ever
    stored, or unreadable) come in any order.
    """

    DECIDE: Decide = staticmethod(_policy.decide)

    def __init__(self) -> None:
        super().__init__()
        self.record: State | None = EMPTY  # None: no whole record can be read
        self.history: list[State] = [EMPTY]
        self.holder: _Caller | None = None
        self.ceiling = 0
        self.clock = 0
        self.started_at: dict[int, int] = {}
        self.ended_at: dict[int, int] = {}
        self.callers: list[_Caller] = []

    def _tick(self) -> int:
        self.clock += 1
        return self.clock

    def _store(self, state: State) -> None:
        self.record = state
        self.history.append(state)

    def _hold(self, caller: _Caller) -> None:
        """*caller* holds the key: the policy decides whether it is served or runs."""
        self.holder = caller
        current = EMPTY if self.record is None else self.record  # a holder starts it over
        served = self.DECIDE(caller.policy, caller.seen, current)
        if served is None:
            caller.status = "holding"
            return
        asked = caller.asked
        started = self.started_at.get(served.generation, 0)  # 0: no such run
        if caller.policy == "share":
            assert self.ended_at.get(served.generation, 0) > asked, (
                "served by a run over before it asked"
            )
        else:
            assert started > asked, "a coalesce caller served by a run that started before it asked"
        assert served.fresh == (started > asked)
        caller.status = "done"
        self.holder = None

    @rule(policy=st.sampled_from(["coalesce", "coalesce", "share", "reject"]))
    def arrive(self, policy: str) -> None:
        """A caller arrives: it takes a free key at once, or loads its ticket."""
        caller = _Caller(policy, self._tick())
        self.callers.append(caller)
        if self.holder is None:
            self._hold(caller)
            return
        caller.seen = UNKNOWN if self.record is None else self.record
        try:
            _policy.contended("k", policy, caller.seen)
        except SyncInProgress:
            assert policy == "reject"
            caller.status = "done"
            return
        caller.status = "waiting"

    @precondition(lambda self: self.holder is None)
    @rule(data=st.data())
    def take(self, data: st.DataObject) -> None:
        """A waiting caller takes the free key."""
        waiting = [c for c in self.callers if c.status == "waiting"]
        if waiting:
            self._tick()
            self._hold(data.draw(st.sampled_from(waiting)))

    @precondition(lambda self: self.holder is not None and self.holder.status == "holding")
    @rule(skip=st.integers(0, 3))
    def start(self, skip: int) -> None:
        """The holder stores its start, with a generation from the allocator (which may skip)."""
        holder = self.holder
        assert holder is not None
        current = EMPTY if self.record is None else self.record
        generation = max(self.ceiling, _policy.next_generation(current) - 1) + 1 + skip
        assert generation not in self.started_at, "a generation repeated"
        assert all(generation > g for g in self.started_at), "generations went back"
        self.ceiling = generation
        self._store(_policy.start(current, generation))
        self.started_at[generation] = self._tick()
        holder.generation = generation
        holder.status = "running"

    @precondition(lambda self: self.holder is not None and self.holder.status == "running")
    @rule(failed=st.booleans())
    def end(self, *, failed: bool) -> None:
        """The run returns or raises: it stores its end (unless its hold was lost) and releases."""
        holder = self.holder
        assert holder is not None
        current = EMPTY if self.record is None else self.record
        ended = _policy.end(current, holder.generation, "boom" if failed else None)
        if ended is not None:
            self._store(ended)
        self.ended_at[holder.generation] = self._tick()
        holder.status = "done"
        self.holder = None

    @precondition(lambda self: self.holder is not None)
    @rule()
    def crash(self) -> None:
        """The holder dies, before or after its start: the key is released, no end stored."""
        holder = self.holder
        assert holder is not None
        if holder.status == "running":
            self.ended_at[holder.generation] = self._tick()  # over, though never recorded
        holder.status = "done"
        self.holder = None

    @rule(data=st.data())
    def time_out(self, data: st.DataObject) -> None:
        """A waiting caller stops waiting."""
        waiting = [c for c in self.callers if c.status == "waiting"]
        if waiting:
            data.draw(st.sampled_from(waiting)).status = "done"

    @rule(data=st.data(), unreadable=st.booleans())
    def lose(self, data: st.DataObject, *, unreadable: bool) -> None:
        """
        The record goes back to a version stored before, or holds nothing whole.

        Loss only goes back: a power loss or a restored snapshot leaves an
        older version, and what was lost never comes back by itself, so the
        versions after the one it went back to leave the history.
        """
        if unreadable:
            self.record = None
            return
        index = data.draw(st.integers(0, len(self.history) - 1))
        del self.history[index + 1 :]
        self.record = self.history[index]

    @invariant()
    def one_run(self) -> None:
        """At most one caller holds or runs the key."""
        active = [c for c in self.callers if c.status in {"holding", "running"}]
        assert active == ([] if self.holder is None else [self.holder])

    def teardown(self) -> None:
        """Once no run holds the key, every waiting caller is served or runs, in bounded steps."""
        if self.holder is not None and self.holder.status == "running":
            self.end(failed=False)
        elif self.holder is not None:
            self.crash()
        for _ in range(2 * len(self.callers) + 1):
            waiting = [c for c in self.callers if c.status == "waiting"]
            if not waiting:
                break
            self._hold(waiting[0])
            if waiting[0].status == "holding":
                self.start(0)
                self.end(failed=False)
        assert all(c.status == "done" for c in self.callers), "a caller waits for ever"


PolicyModel.TestCase.settings = settings(max_examples=300, stateful_step_count=40, deadline=None)
TestPolicyModel = PolicyModel.TestCase


class OnOrAfterModel(PolicyModel):
    """The model, deciding with the wrong variant."""

    DECIDE: Decide = staticmethod(decide_on_or_after)


def test_on_or_after_fails_the_model() -> None:
    """The model catches a decision on ``finished >= seen.started``: the incident's lost update."""
    wrong = settings(
        max_examples=500,
        stateful_step_count=40,
        deadline=None,
        database=None,
        report_multiple_bugs=False,
    )
    with pytest.raises(AssertionError, match="before it asked"):
        run_state_machine_as_test(OnOrAfterModel, settings=wrong)


def test_start_refuses_a_generation_not_above() -> None:
    """start() refuses a generation that is not above the newest one handed out."""
    with pytest.raises(ValueError, match="above 3"):
        _policy.start(State(3, 3, None), 3)
    assert State(4, 2, "e") == _policy.start(State(3, 2, "e"), 4)


def test_end_refuses_a_run_that_lost_its_hold() -> None:
    """end() is None when another run started since: a lost hold overwrites nothing."""
    assert _policy.end(State(5, 4, None), 4, None) is None
    assert State(5, 5, "x") == _policy.end(State(5, 4, None), 5, "x")


def test_decide_rules() -> None:
    """The decision on each policy, for a caller that saw a run in flight."""
    seen = State(3, 2, None)
    assert _policy.decide("coalesce", seen, State(3, 3, None)) is None
    assert Serve(4, fresh=True, error=None) == _policy.decide("coalesce", seen, State(4, 4, None))
    assert Serve(3, fresh=False, error="e") == _policy.decide("share", seen, State(3, 3, "e"))
    assert _policy.decide("share", State(3, 3, None), State(3, 3, None)) is None
    assert _policy.decide("coalesce", None, State(9, 9, None)) is None
    assert _policy.decide("coalesce", UNKNOWN, State(9, 9, None)) is None
