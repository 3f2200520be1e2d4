"""
The deployment storm: 50 concurrent sync requests for one app.

The buggy ``Sync()``, the documented ``FixedSync()`` and [`SyncGuard`][syncsafe.guard.SyncGuard]
each get the same 50 requests; barriers and events, not sleeps, make the
interleaving the same on every run: every buggy request reads the sync count
before any of them increments it, and a commit is pushed while the first
fixed sync is applying what it read.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable

from syncsafe._demo._table import Row
from syncsafe.buggy.sync import App
from syncsafe.guard import Outcome, SyncGuard

INCIDENT = "concurrent syncs of one app"
APP = "payment-service"
REQUESTS = 50
_WAIT = 10.0  # seconds: a bound on every wait, never a delay


def _in_threads(target: Callable[[], object], count: int) -> list[object]:
    """Call *target* in *count* threads at once; return what each returned or raised."""
    results: list[object] = []
    lock = threading.Lock()

    def body() -> None:
        try:
            result = target()
        except RuntimeError as exc:  # "sync already in progress"
            result = exc
        with lock:
            results.append(result)

    threads = [threading.Thread(target=body) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(_WAIT)
    return results


def _buggy_sync() -> Row:
    checked = threading.Barrier(REQUESTS, timeout=_WAIT)  # everyone read "no sync in progress"
    syncing = threading.Barrier(REQUESTS, timeout=_WAIT)
    counts: list[int] = []

    def work() -> None:
        syncing.wait()
        counts.append(app.sync_count)
        syncing.wait()

    def hook(_point: str) -> None:
        checked.wait()

    app = App(APP, "production", hook=hook, work=work)
    results = _in_threads(app.sync, REQUESTS)
    ran = sum(1 for r in results if r is None)
    outcome = (
        f"{REQUESTS} requests: {ran} passed the 'in progress' check; "
        f"{max(counts, default=0)} syncs of one app ran at once"
    )
    return Row(INCIDENT, "buggy", "Sync()", outcome, correct=max(counts, default=0) <= 1)


def _fixed_sync() -> Row:
    repo = ["r1"]
    deployed: list[str] = []
    read = threading.Event()
    others_done = threading.Event()

    def work() -> None:
        deployed.append(repo[-1])  # the sync read the repository
        read.set()
        others_done.wait(_WAIT)

    app = App(APP, "production", work=work)
    first = threading.Thread(target=app.fixed_sync)
    first.start()
    read.wait(_WAIT)
    repo.append("r2")  # a commit lands while the sync applies r1
    results = _in_threads(app.fixed_sync, REQUESTS - 1)
    others_done.set()
    first.join(_WAIT)
    rejected = sum(1 for r in results if isinstance(r, RuntimeError))
    outcome = (
        f"no race now ({len(deployed)} sync ran), but it drops what arrives mid-sync: "
        f"{rejected} of {REQUESTS} requests rejected 'sync already in progress', and "
        f"{repo[-1]}, pushed mid-sync, never deployed (deployed {deployed[-1]})"
    )
    return Row(INCIDENT, "attempted fix", "FixedSync()", outcome, correct=deployed[-1] == repo[-1])


def _guard() -> Row:
    guard = SyncGuard()
    repo = ["r1"]
    deployed: list[str] = []
    read = threading.Event()
    waiting = threading.Semaphore(0)
    release = threading.Event()
    active = peak = 0
    lock = threading.Lock()

    def on_wait(_key: Hashable) -> None:
        waiting.release()

    guard.on_wait = on_wait  # the demo orders threads without sleeping

    def sync() -> str:
        nonlocal active, peak
        with lock:
            active += 1
            peak = max(peak, active)
        deployed.append(repo[-1])
        if len(deployed) == 1:
            read.set()
            release.wait(_WAIT)  # the others arrive while the first sync applies r1
        with lock:
            active -= 1
        return deployed[-1]

    def request() -> Outcome[str]:
        return guard.run(APP, sync)

    first: list[object] = []
    thread = threading.Thread(target=lambda: first.append(request()))
    thread.start()
    read.wait(_WAIT)
    repo.append("r2")
    others: list[object] = []
    collector = threading.Thread(target=lambda: others.extend(_in_threads(request, REQUESTS - 1)))
    collector.start()
    for _ in range(REQUESTS - 1):
        waiting.acquire(timeout=_WAIT)
    release.set()
    thread.join(_WAIT)
    collector.join(_WAIT)
    outcomes = [o for o in [*first, *others] if isinstance(o, Outcome)]
    fresh = sum(1 for o in outcomes if o.fresh)
    runs = guard.statistics().runs
    outcome = (
        f"{runs} syncs, at most {peak} at a time; {fresh} of {REQUESTS} requests served by a "
        f"sync that started after they asked; deployed {deployed[-1]}"
    )
    correct = peak == 1 and fresh == REQUESTS and deployed[-1] == repo[-1]
    return Row(INCIDENT, "fixed", "SyncGuard.run", outcome, correct=correct)


def run() -> list[Row]:
    """Send the 50 requests through each variant."""
    return [_buggy_sync(), _fixed_sync(), _guard()]
