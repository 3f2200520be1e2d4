"""
The deployment-storm incident's app controller sync: ``Sync()`` and ``FixedSync()``.

From the write-up's Go reproduction, line for line, but that Go's
``sync.RWMutex`` is [`RWMutex`][syncsafe.buggy.sync.RWMutex] here, the two ``time.Sleep`` calls are
*hook* and *work* (so that tests schedule the interleaving instead of
sleeping), ``fmt.Printf`` appends to `App.log`, and a returned Go error
is a raised ``RuntimeError``.

- [`App.sync`][syncsafe.buggy.sync.App.sync] (Go ``Sync``): reads ``SyncCount`` under a read lock,
  checks it, and only then increments it — under a *read* lock, which other
  readers share. Every request that reads 0 before the first increment
  passes the check: in the incident, 47 syncs of one app ran at once.
- [`App.fixed_sync`][syncsafe.buggy.sync.App.fixed_sync] (Go ``FixedSync``, "the patched version"):
  check and increment under the write lock, and reject when busy. No two syncs
  run at once, but a request that arrives while a sync runs is dropped
  with "sync already in progress", so an update pushed after the running
  sync read the repository is never deployed.

Replaced by [`syncsafe.SyncGuard`][syncsafe.guard.SyncGuard] (and its asyncio and cross-process
siblings), whose default policy neither runs twice nor drops the request.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import final

__all__ = ["App", "RWMutex"]


def _nothing() -> None:
    return None


@final
class RWMutex:
    """Go's ``sync.RWMutex``: any number of readers, or one writer."""

    __slots__ = ("_cond", "_readers", "_writer")

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._readers = 0
        self._writer = False

    def rlock(self) -> None:
        """``RLock``: wait until no writer holds the lock, then share it."""
        with self._cond:
            self._cond.wait_for(lambda: not self._writer)
            self._readers += 1

    def runlock(self) -> None:
        """``RUnlock``."""
        with self._cond:
            self._readers -= 1
            self._cond.notify_all()

    def lock(self) -> None:
        """``Lock``: wait until nobody holds the lock, then hold it alone."""
        with self._cond:
            self._cond.wait_for(lambda: not self._writer and not self._readers)
            self._writer = True

    def unlock(self) -> None:
        """``Unlock``."""
        with self._cond:
            self._writer = False
            self._cond.notify_all()


@final
class App:
    """
    BUGGY: the incident's simplified ArgoCD Application and its two sync methods.

    :param hook: called as ``hook("checked")`` in [`sync`][syncsafe.buggy.sync.App.sync] between the
        check and the increment, where the Go code sleeps 10 ms ("sync
        preparation"): the window of the race.
    :param work: the sync itself, where the Go code sleeps 100 ms.
    """

    def __init__(
        self,
        name: str,
        namespace: str = "",
        *,
        hook: Callable[[str], None] | None = None,
        work: Callable[[], None] = _nothing,
    ) -> None:
        self.name = name
        self.namespace = namespace
        self.sync_count = 0
        self.mu = RWMutex()
        self.hook = hook
        self.work = work
        self.log: list[str] = []

    def sync(self) -> None:
        """BUGGY (Go ``Sync``): check under a read lock, then increment under a read lock."""
        # Simulate reading app state (unlocked read, which is the bug)
        self.mu.rlock()
        current_syncs = self.sync_count
        self.mu.runlock()
        # This check is supposed to prevent concurrent syncs, but without a write lock,
        # multiple goroutines pass this check simultaneously
        if current_syncs > 0:
            msg = "sync already in progress"
            raise RuntimeError(msg)
        # Simulate sync preparation (takes 10ms)
        if self.hook is not None:
            self.hook("checked")
        # BUG: Write to SyncCount without a write lock, leading to lost updates
        self.mu.rlock()
        self.sync_count += 1
        self.mu.runlock()
        # Simulate actual sync work (100ms)
        self.work()
        # Decrement sync count (also unlocked, bug)
        self.mu.rlock()
        self.sync_count -= 1
        self.mu.runlock()
        self.log.append(f"App {self.name} synced successfully. Total syncs: {self.sync_count}")

    def fixed_sync(self) -> None:
        """BUGGY (Go ``FixedSync``): no race, but a request that arrives mid-sync is dropped."""
        self.mu.lock()
        try:
            if self.sync_count > 0:
                msg = "sync already in progress"
                raise RuntimeError(msg)
            self.sync_count += 1
            self.log.append(f"Starting sync for app {self.name} (sync count: {self.sync_count})")
            self.mu.unlock()
            # Simulate sync work
            self.work()
            self.mu.lock()
            self.sync_count -= 1
            self.log.append(f"Completed sync for app {self.name} (sync count: {self.sync_count})")
        finally:
            self.mu.unlock()  # Go: defer a.mu.Unlock()
