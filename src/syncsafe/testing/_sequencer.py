"""A deterministic sequencer: force an interleaving of threads and asyncio tasks."""

from __future__ import annotations

import asyncio
import threading
import time
from types import TracebackType
from typing import final

__all__ = ["Sequencer"]


@final
class Sequencer:
    """
    Run numbered steps in order, whichever thread or task reaches its step first.

    Like ``trio.testing.Sequencer``, but for threads *and* asyncio tasks, in
    any mix: ``with seq(n):`` (in a thread) or ``async with seq(n):`` (in a
    task) waits until steps ``0 .. n-1`` have ended, runs its body as step
    ``n``, and ends it on exit. Use it to make a race happen on purpose, in
    the same order on every run, without a single sleep:

        seq = Sequencer()

        def first():
            with seq(0):
                app.read()
            with seq(2):
                app.write()

        def second():
            with seq(1):
                app.read()  # always between the other thread's read and write

    Each step number is used once. A step whose body raises breaks the
    sequence: every later step raises ``RuntimeError`` instead of waiting for
    ever; so does any step still waiting after *timeout* seconds (a step that
    never comes), which raises ``TimeoutError``.

    Unlike ``threading.Barrier``, which releases a fixed number of parties at
    once, a sequencer releases one step at a time, in the order you number
    them.

    !!! note "Added in version 0.1.0"
    """

    __slots__ = ("_async_waiters", "_broken", "_claimed", "_cond", "_next", "_timeout")

    def __init__(self, *, timeout: float = 30.0) -> None:
        self._timeout = timeout
        self._cond = threading.Condition(threading.Lock())
        self._next = 0
        self._claimed: set[int] = set()
        self._broken: str | None = None
        self._async_waiters: dict[int, tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = {}

    def __call__(self, position: int) -> _Step:
        """The step *position*: a context manager, sync or async."""
        if position < 0:
            msg = f"step {position}: steps are numbered from 0"
            raise ValueError(msg)
        return _Step(self, position)

    @property
    def position(self) -> int:
        """The next step to run: how many steps have ended."""
        return self._next

    def point(self, position: int) -> None:
        """An empty step: ``with seq(position): pass``, handy as a hook."""
        with self(position):
            pass

    # -------------------------------------------------------------- internals

    def _claim(self, position: int) -> None:
        if position in self._claimed:
            msg = f"step {position} is used twice"
            self._broken = msg
            self._cond.notify_all()
            raise RuntimeError(msg)
        self._claimed.add(position)

    def _check(self) -> None:
        if self._broken is not None:
            msg = f"sequence broken: {self._broken}"
            raise RuntimeError(msg)

    def _enter(self, position: int) -> None:
        deadline = time.monotonic() + self._timeout
        with self._cond:
            self._claim(position)
            while self._next != position:
                self._check()
                left = deadline - time.monotonic()
                if left <= 0 or not self._cond.wait(left):
                    self._break_locked(f"step {position} waited {self._timeout:g} s")
                    msg = f"step {position} still waiting after {self._timeout:g} s"
                    raise TimeoutError(msg)
            self._check()

    async def _aenter(self, position: int) -> None:
        with self._cond:
            self._claim(position)
            if self._next == position:
                self._check()
                return
            self._check()
            loop = asyncio.get_running_loop()
            future: asyncio.Future[None] = loop.create_future()
            self._async_waiters[position] = (loop, future)
        try:
            await asyncio.wait_for(future, self._timeout)
        except asyncio.TimeoutError:
            with self._cond:
                self._break_locked(f"step {position} waited {self._timeout:g} s")
            msg = f"step {position} still waiting after {self._timeout:g} s"
            raise TimeoutError(msg) from None
        with self._cond:
            self._check()

    def _exit(self, position: int, *, failed: bool) -> None:
        with self._cond:
            if failed:
                self._break_locked(f"step {position} raised")
                return
            self._next = position + 1
            self._cond.notify_all()
            waiter = self._async_waiters.pop(self._next, None)
        if waiter is not None:
            loop, future = waiter
            loop.call_soon_threadsafe(_resolve, future)

    def _break_locked(self, why: str) -> None:
        if self._broken is None:
            self._broken = why
        self._cond.notify_all()
        waiters = list(self._async_waiters.values())
        self._async_waiters.clear()
        for loop, future in waiters:
            loop.call_soon_threadsafe(_resolve, future)


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


@final
class _Step:
    """One step of a [`Sequencer`][]: ``with`` it in a thread, ``async with`` it in a task."""

    __slots__ = ("_position", "_sequencer")

    def __init__(self, sequencer: Sequencer, position: int) -> None:
        self._sequencer = sequencer
        self._position = position

    def __enter__(self) -> None:
        self._sequencer._enter(self._position)  # noqa: SLF001 - the sequencer's own step

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._sequencer._exit(self._position, failed=exc_type is not None)  # noqa: SLF001

    async def __aenter__(self) -> None:
        await self._sequencer._aenter(self._position)  # noqa: SLF001

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._sequencer._exit(self._position, failed=exc_type is not None)  # noqa: SLF001
