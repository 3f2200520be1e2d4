from __future__ import annotations

import asyncio
import threading

import pytest

from syncsafe.testing import Sequencer

pytestmark = pytest.mark.timeout(30)


def test_threads_run_their_steps_in_order() -> None:
    """Whichever thread starts first, the steps run in the order of their numbers."""
    seq = Sequencer(timeout=10)
    order: list[str] = []

    def worker(name: str, steps: list[int]) -> None:
        for step in steps:
            with seq(step):
                order.append(f"{name}{step}")

    threads = [
        threading.Thread(target=worker, args=("b", [1, 2])),
        threading.Thread(target=worker, args=("a", [0, 3])),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert ["a0", "b1", "b2", "a3"] == order
    assert 4 == seq.position


def test_tasks_and_threads_share_one_sequence() -> None:
    """Async steps and thread steps interleave in one numbered order."""
    seq = Sequencer(timeout=10)
    order: list[str] = []

    def thread_steps() -> None:
        for step in [0, 2]:
            with seq(step):
                order.append(f"thread{step}")

    async def main() -> None:
        async def task_steps(steps: list[int]) -> None:
            for step in steps:
                async with seq(step):
                    order.append(f"task{step}")

        thread = threading.Thread(target=thread_steps)
        thread.start()
        await asyncio.gather(task_steps([3]), task_steps([1, 4]))
        thread.join(timeout=10)

    asyncio.run(main())
    assert ["thread0", "task1", "thread2", "task3", "task4"] == order


def test_a_step_used_twice_is_an_error() -> None:
    """Numbering a step twice is a mistake the sequencer reports."""
    seq = Sequencer(timeout=10)
    seq.point(0)
    with pytest.raises(RuntimeError, match="step 0 is used twice"):
        seq.point(0)


def test_a_failing_step_breaks_the_sequence() -> None:
    """A step that raises makes every waiting and later step raise instead of hanging."""
    seq = Sequencer(timeout=10)
    errors: list[BaseException] = []

    def later() -> None:
        try:
            seq.point(1)
        except RuntimeError as exc:
            errors.append(exc)

    thread = threading.Thread(target=later)
    thread.start()
    with pytest.raises(ZeroDivisionError), seq(0):
        _ = 1 / 0
    thread.join(timeout=10)
    assert 1 == len(errors)
    assert "sequence broken: step 0 raised" == str(errors[0])
    with pytest.raises(RuntimeError, match="sequence broken"):
        seq.point(2)


def test_a_step_that_never_comes_times_out() -> None:
    """Waiting for a step nobody runs raises TimeoutError, for threads and tasks alike."""
    with pytest.raises(TimeoutError, match="step 1 still waiting"):
        Sequencer(timeout=0.01).point(1)

    async def main() -> None:
        async with Sequencer(timeout=0.01)(1):
            pass

    with pytest.raises(TimeoutError, match="step 1 still waiting"):
        asyncio.run(main())


def test_a_broken_sequence_wakes_async_waiters() -> None:
    """A task waiting for a step raises once another step fails."""
    seq = Sequencer(timeout=10)

    async def main() -> BaseException | None:
        async def waiter() -> None:
            async with seq(1):
                pass

        task = asyncio.ensure_future(waiter())
        await asyncio.sleep(0)
        with pytest.raises(KeyError):
            async with seq(0):
                raise KeyError
        results = await asyncio.gather(task, return_exceptions=True)
        return results[0]

    error = asyncio.run(main())
    assert isinstance(error, RuntimeError)


def test_negative_steps_are_rejected() -> None:
    """Steps are numbered from 0."""
    with pytest.raises(ValueError, match="numbered from 0"):
        Sequencer()(-1)
