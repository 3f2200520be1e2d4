from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

import pytest

from syncsafe import (
    AsyncSyncGuard,
    Outcome,
    SyncInProgress,
)
from syncsafe.testing import Sequencer

pytestmark = pytest.mark.timeout(30)

T = TypeVar("T")


def run(main: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run *main* in a new event loop, bounded."""
    return asyncio.run(asyncio.wait_for(main(), 20))


def size(guard: AsyncSyncGuard) -> int:
    """How many entries the guard's state machine holds."""
    return guard._machine.size()


def value(v: T) -> Callable[[], Awaitable[T]]:
    """An async function that returns *v*."""

    async def fn() -> T:
        return v

    return fn


async def settle() -> None:
    """Let every ready task run until it blocks: a few turns of the loop."""
    for _ in range(5):
        await asyncio.sleep(0)


def test_coalesce_in_the_order_a_sequencer_sets() -> None:
    """Tasks arriving mid-run, in a scripted order, share one later run."""
    seq = Sequencer(timeout=10)

    async def main() -> tuple[Outcome[str], Outcome[str], Outcome[str]]:
        guard = AsyncSyncGuard()

        async def first() -> str:
            async with seq(0):
                pass
            async with seq(3):  # after both others arrived
                return "first"

        async def arrive(step: int, name: str) -> Outcome[str]:
            async with seq(step):
                call = asyncio.ensure_future(guard.run("app", value(name)))
                await settle()
            return await call

        return await asyncio.gather(
            guard.run("app", first), arrive(1, "second"), arrive(2, "third")
        )

    first, second, third = run(main)
    assert Outcome("first", 1, True, True, 0) == first  # noqa: FBT003
    assert Outcome("second", 2, True, True, 1) == second  # noqa: FBT003
    assert Outcome("second", 2, False, True, 1) == third  # noqa: FBT003


def test_racing_tasks_never_execute_a_run_twice() -> None:
    """Many tasks asking at once under 'share': fn runs once, everyone gets that run."""
    executions = 0

    async def sync() -> int:
        nonlocal executions
        executions += 1
        await asyncio.sleep(0)
        return executions

    async def main() -> list[Outcome[int]]:
        guard = AsyncSyncGuard(policy="share")
        return await asyncio.gather(*(guard.run("app", sync) for _ in range(20)))

    outcomes = run(main)
    assert 1 == executions
    assert {1} == {o.generation for o in outcomes}
    assert 1 == sum(o.leader for o in outcomes)


def test_cancelling_a_waiter_does_not_cancel_the_run() -> None:
    """A cancelled caller stops waiting; the run goes on and serves the others."""
    release = asyncio.Event

    async def main() -> tuple[Outcome[str], Outcome[str], bool, int]:
        guard = AsyncSyncGuard(policy="share")
        gate = release()
        done: list[str] = []

        async def sync() -> str:
            await gate.wait()
            done.append("synced")
            return "synced"

        leader = asyncio.ensure_future(guard.run("app", sync))
        doomed = asyncio.ensure_future(guard.run("app", sync))
        patient = asyncio.ensure_future(guard.run("app", sync))
        await settle()
        doomed.cancel()
        await settle()
        gate.set()
        return await leader, await patient, doomed.cancelled(), len(done)

    leader, patient, cancelled, executions = run(main)
    assert cancelled
    assert 1 == executions
    assert Outcome("synced", 1, True, True, 1) == leader  # noqa: FBT003
    assert Outcome("synced", 1, False, False, 1) == patient  # noqa: FBT003


def test_cancelling_the_caller_that_started_the_run_does_not_cancel_it() -> None:
    """The run has its own task: the others still get it, and the key is then free."""

    async def main() -> tuple[Outcome[str], int, bool]:
        guard = AsyncSyncGuard(policy="share")
        gate = asyncio.Event()

        async def sync() -> str:
            await gate.wait()
            return "synced"

        starter = asyncio.ensure_future(guard.run("app", sync))
        await settle()
        follower = asyncio.ensure_future(guard.run("app", sync))
        await settle()
        starter.cancel()
        await settle()
        gate.set()
        outcome = await follower
        return outcome, size(guard), starter.cancelled()

    outcome, left, cancelled = run(main)
    assert cancelled
    assert Outcome("synced", 1, False, False, 0) == outcome  # noqa: FBT003
    assert 0 == left


def test_a_run_nobody_waits_for_still_finishes_and_frees_the_key() -> None:
    """Every caller cancelled: the run completes, its error is retrieved, no state is left."""

    async def main() -> tuple[int, int]:
        guard = AsyncSyncGuard()
        gate = asyncio.Event()
        finished = asyncio.Event()

        async def failing() -> None:
            await gate.wait()
            finished.set()
            raise ValueError("nobody listens")

        caller = asyncio.ensure_future(guard.run("app", failing))
        await settle()
        caller.cancel()
        await settle()
        gate.set()
        await finished.wait()
        await settle()
        return size(guard), guard.statistics().timed_out

    assert (0, 0) == run(main)


def test_reject_and_bad_policy() -> None:
    """Policy 'reject' raises SyncInProgress mid-run; an unknown policy is a ValueError."""

    async def main() -> SyncInProgress:
        guard = AsyncSyncGuard(policy="reject")
        gate = asyncio.Event()

        async def held() -> None:
            await gate.wait()

        first = asyncio.ensure_future(guard.run("app", held))
        await settle()
        try:
            await guard.run("app", held)
        except SyncInProgress as exc:
            gate.set()
            await first
            return exc
        raise AssertionError

    assert 1 == run(main).generation
    with pytest.raises(ValueError, match="policy='nope'"):
        AsyncSyncGuard("nope")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="policy='nope'"):
        run(lambda: AsyncSyncGuard().run("k", value(1), policy="nope"))  # type: ignore[arg-type]


def test_max_concurrent_first_come_first_served() -> None:
    """One slot: runs of other keys start in arrival order once it frees."""
    order: list[str] = []

    async def main() -> None:
        guard = AsyncSyncGuard(max_concurrent=1)
        gate = asyncio.Event()

        async def held() -> None:
            await gate.wait()

        def sync(key: str) -> Callable[[], Awaitable[None]]:
            async def fn() -> None:
                order.append(key)

            return fn

        first = asyncio.ensure_future(guard.run("a", held))
        await settle()
        others = [asyncio.ensure_future(guard.run(k, sync(k))) for k in "bcd"]
        await settle()
        assert 3 == guard.statistics().waiting
        gate.set()
        await asyncio.gather(first, *others)

    run(main)
    assert ["b", "c", "d"] == order


@pytest.mark.timeout(60)
def test_stress_200_tasks_one_key() -> None:
    """200 tasks x 5 calls: never two runs at once, every call served by a run started after it."""
    clock = itertools.count()
    starts: dict[int, int] = {}
    calls: list[tuple[int, Outcome[int]]] = []
    active = peak = 0

    async def sync() -> int:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        started = next(clock)
        await asyncio.sleep(0)
        active -= 1
        return started

    async def main() -> AsyncSyncGuard:
        guard = AsyncSyncGuard()

        async def task() -> None:
            for _ in range(5):
                asked = next(clock)
                outcome = await guard.run("app", sync)
                calls.append((asked, outcome))
                if outcome.leader:
                    starts[outcome.generation] = outcome.value

        await asyncio.gather(*(task() for _ in range(200)))
        return guard

    guard = run(main)
    assert 1 == peak
    assert 1000 == len(calls)
    for asked, outcome in calls:
        assert starts[outcome.generation] > asked
    assert 0 == size(guard)
