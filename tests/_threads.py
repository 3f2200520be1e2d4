"""Thread helpers shared by the guard tests."""

from __future__ import annotations

import threading
from collections.abc import Callable

__all__ = ["Threads", "in_run"]


class Threads:
    """Start callables in threads, keep what each returned or raised, join them all."""

    def __init__(self, timeout: float = 30) -> None:
        self.timeout = timeout
        self.results: dict[str, object] = {}
        self._threads: list[threading.Thread] = []

    def start(self, name: str, fn: Callable[[], object]) -> None:
        """Run *fn* in a new thread called *name*."""

        def body() -> None:
            try:
                self.results[name] = fn()
            except BaseException as exc:  # noqa: BLE001 - kept for the test to assert on
                self.results[name] = exc

        thread = threading.Thread(target=body, name=name)
        self._threads.append(thread)
        thread.start()

    def join(self) -> dict[str, object]:
        """Wait for every thread; return what each returned or raised, by name."""
        for thread in self._threads:
            thread.join(timeout=self.timeout)
            assert not thread.is_alive(), f"{thread.name} hangs"
        return self.results


def in_run(
    run: Callable[[str, Callable[[], str]], object], key: str = "app", *, timeout: float = 20
) -> tuple[Threads, threading.Event]:
    """
    Start ``run(key, hold)`` in a thread, *hold* blocking until the returned event is set.

    Return once the run has started. *run* is a guard's ``run`` (or an
    adapter's); the held run returns ``"first"``.
    """
    started = threading.Event()
    release = threading.Event()

    def hold() -> str:
        started.set()
        assert release.wait(timeout)
        return "first"

    threads = Threads()
    threads.start("first", lambda: run(key, hold))
    assert started.wait(timeout)
    return threads, release
