"""Scripted interleavings of the incident: buggy Sync(), FixedSync() and the guard, side by side."""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable

import pytest

from syncsafe import Outcome, SyncGuard
from syncsafe.buggy.sync import App
from syncsafe.testing import Sequencer

pytestmark = pytest.mark.timeout(30)


def in_threads(*bodies: Callable[[], object]) -> list[object]:
    """Run each body in its own thread; return what each returned or raised."""
    results: list[object] = [None] * len(bodies)

    def wrap(n: int) -> None:
        try:
            results[n] = bodies[n]()
        except BaseException as exc:  # noqa: BLE001 - kept for the test to assert on
            results[n] = exc

    threads = [threading.Thread(target=wrap, args=(n,)) for n in range(len(bodies))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=20)
        assert not t.is_alive()
    return results


def test_the_buggy_sync_runs_two_syncs_at_once() -> None:
    """Both requests read 'no sync in progress' before either increments: two syncs at once."""
    seq = Sequencer(timeout=10)
    both_syncing = threading.Barrier(2, timeout=10)
    seen: list[int] = []
    hooks = {"first": [0, 2], "second": [1]}  # first reads, second reads, then both act
    local = threading.local()

    def hook(_point: str) -> None:
        for step in hooks[local.name]:
            seq.point(step)

    def work() -> None:
        both_syncing.wait()
        seen.append(app.sync_count)
        both_syncing.wait()

    app = App("payment-service", "production", hook=hook, work=work)

    def request(name: str) -> Callable[[], None]:
        def body() -> None:
            local.name = name
            app.sync()

        return body

    results = in_threads(request("first"), request("second"))
    assert [None, None] == results  # neither was told "sync already in progress"
    assert [2, 2] == seen  # two syncs of one app in progress at once
    assert 0 == app.sync_count


def test_fixed_sync_drops_the_update_that_arrived_mid_run() -> None:
    """A commit pushed after the running sync read the repository is never deployed."""
    seq = Sequencer(timeout=10)
    repo = ["r1"]
    deployed: list[str] = []

    def work() -> None:
        deployed.append(repo[-1])  # the sync reads the repository and applies it
        seq.point(0)
        seq.point(2)

    app = App("payment-service", "production", work=work)

    def push_then_request() -> BaseException | None:
        with seq(1):
            repo.append("r2")
            try:
                app.fixed_sync()
            except RuntimeError as exc:
                return exc
        return None

    first, second = in_threads(app.fixed_sync, push_then_request)
    assert first is None
    assert isinstance(second, RuntimeError)
    assert "sync already in progress" == str(second)
    assert ["r1"] == deployed
    assert "r2" == repo[-1]  # pushed, acknowledged by nobody, never deployed


def test_the_guard_neither_runs_twice_nor_drops_the_update() -> None:
    """Under the same interleaving the guard runs one sync at a time and deploys the new commit."""
    seq = Sequencer(timeout=10)
    guard = SyncGuard()
    repo = ["r1"]
    deployed: list[str] = []
    active = peak = 0

    def waiting(_key: Hashable) -> None:
        seq.point(2)  # the second request is queued before the first sync ends

    guard.on_wait = waiting

    def sync(*, first: bool) -> Callable[[], str]:
        def run() -> str:
            nonlocal active, peak
            active += 1
            peak = max(peak, active)
            deployed.append(repo[-1])
            if first:
                seq.point(0)
                seq.point(3)
            active -= 1
            return deployed[-1]

        return run

    def push_then_request() -> Outcome[str]:
        with seq(1):
            repo.append("r2")
        return guard.run("payment-service", sync(first=False))

    first, second = in_threads(
        lambda: guard.run("payment-service", sync(first=True)), push_then_request
    )
    assert 1 == peak
    assert ["r1", "r2"] == deployed
    assert Outcome("r1", 1, True, True, 0) == first  # noqa: FBT003
    assert Outcome("r2", 2, True, True, 0) == second  # noqa: FBT003
