"""
SyncGuard and FileSyncGuard against a bare lock and against Go-style singleflight.

- uncontended ``run``: against a bare ``threading.Lock`` (the floor) and
  against the ``singleflight`` package (a peer; its ``call`` builds a
  ``threading.Event`` per call, the guard's uncontended path builds none);
- contended: 64 threads calling for one key; ``extra_info["calls_per_second"]``;
- ``FileSyncGuard`` uncontended against a bare, reused ``filelock.FileLock``
  acquire and release (the target: at most 1.5x, durable or not), and
  against a raw ``open`` + ``flock`` + ``close``, the floor under both.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Callable
from pathlib import Path

import filelock
import pytest
from pytest_benchmark.fixture import BenchmarkFixture
from singleflight.basic import SingleFlight

from benchmarks._interleave import compare
from syncsafe import FileSyncGuard, SyncGuard

FULL = os.environ.get("SYNCSAFE_BENCH_FULL") == "1"

Measure = Callable[[str, bool], BenchmarkFixture]

THREADS = 64
CALLS = 20  # per thread per round


def _sync() -> int:
    return 1


# ----------------------------------------------------------- uncontended


def test_guard_uncontended_vs_lock(measure: Measure) -> None:
    """SyncGuard.run with nobody else in flight, beside a bare lock."""
    guard = SyncGuard()
    assert 1 == measure("guard-uncontended-vs-lock", False)(guard.run, "app", _sync).value  # noqa: FBT003


def test_bare_lock_baseline(measure: Measure) -> None:
    """Baseline: ``with lock: fn()`` — mutual exclusion and nothing else."""
    lock = threading.Lock()

    def locked() -> int:
        with lock:
            return _sync()

    assert 1 == measure("guard-uncontended-vs-lock", True)(locked)  # noqa: FBT003


def test_guard_uncontended_vs_singleflight(measure: Measure) -> None:
    """SyncGuard.run with nobody else in flight, beside singleflight (target: under 1/3)."""
    guard = SyncGuard()
    outcome = measure("guard-uncontended-vs-singleflight", False)(guard.run, "app", _sync)  # noqa: FBT003
    assert 1 == outcome.value


def test_singleflight_baseline(measure: Measure) -> None:
    """Peer: singleflight 0.1.3's ``SingleFlight.call`` (Go's singleflight, ported)."""
    group = SingleFlight()
    assert 1 == measure("guard-uncontended-vs-singleflight", True)(group.call, _sync, "app")  # noqa: FBT003


# -------------------------------------------------------------- contended


class _Pool:
    """THREADS threads that each make CALLS calls per round, all rounds on one key."""

    def __init__(self, call: Callable[[], object]) -> None:
        self._call = call
        self._start = threading.Barrier(THREADS + 1)
        self._end = threading.Barrier(THREADS + 1)
        self._stop = False
        self._threads = [threading.Thread(target=self._work) for _ in range(THREADS)]
        for thread in self._threads:
            thread.start()

    def _work(self) -> None:
        while True:
            self._start.wait(timeout=60)
            if self._stop:
                return
            for _ in range(CALLS):
                self._call()
            self._end.wait(timeout=60)

    def round(self) -> int:
        """One round: every thread makes its calls; the number of calls made."""
        self._start.wait(timeout=60)
        self._end.wait(timeout=60)
        return THREADS * CALLS

    def close(self) -> None:
        self._stop = True
        self._start.wait(timeout=60)
        for thread in self._threads:
            thread.join(timeout=60)


def _contended(measure: Measure, name: str, call: Callable[[], object], *, baseline: bool) -> None:
    pool = _Pool(call)
    try:
        bench = measure("guard-contended-64-threads", baseline)
        assert THREADS * CALLS == bench(pool.round)
        if bench.stats is not None:  # None when benchmarks are disabled (a quick run)
            bench.extra_info["calls_per_second"] = round(THREADS * CALLS / bench.stats.stats.mean)
        bench.extra_info["what"] = name
    finally:
        pool.close()


@pytest.mark.timeout(300)
def test_guard_contended(measure: Measure) -> None:
    """64 threads x 20 calls for one key through SyncGuard (coalesce): one round."""
    guard = SyncGuard()
    _contended(measure, "SyncGuard", lambda: guard.run("app", _sync), baseline=False)


@pytest.mark.timeout(300)
def test_lock_contended_baseline(measure: Measure) -> None:
    """Baseline: the same 64 threads through one bare lock (every call runs fn)."""
    lock = threading.Lock()

    def locked() -> int:
        with lock:
            return _sync()

    _contended(measure, "threading.Lock", locked, baseline=True)


@pytest.mark.timeout(300)
def test_singleflight_contended(measure: Measure) -> None:
    """Peer: the same 64 threads through singleflight."""
    group = SingleFlight()
    _contended(measure, "singleflight", lambda: group.call(_sync, "app"), baseline=False)


# ------------------------------------------------------------------ files


@pytest.fixture
def lock_dir(tmp_path: Path) -> Path:
    """A directory for lock files."""
    path = tmp_path / "locks"
    path.mkdir()
    return path


def test_bare_filelock_baseline(measure: Measure, lock_dir: Path) -> None:
    """Baseline: acquire and release one ``filelock.FileLock`` around fn."""
    lock = filelock.FileLock(lock_dir / "app.lock")

    def locked() -> int:
        with lock:
            return _sync()

    assert 1 == measure("file-guard-uncontended", True)(locked)  # noqa: FBT003


def test_filelock_per_acquisition(measure: Measure, lock_dir: Path) -> None:
    """A new ``FileLock`` per acquisition, as the guard makes (no instance shared by threads)."""

    def locked() -> int:
        with filelock.FileLock(lock_dir / "app.lock"):
            return _sync()

    assert 1 == measure("file-guard-uncontended", False)(locked)  # noqa: FBT003


def test_filelock_per_acquisition_as_the_guard_builds_it(measure: Measure, lock_dir: Path) -> None:
    """The guard's floor: a new ``FileLock`` per acquisition from a str, ``thread_local=False``."""
    path = str(lock_dir / "app.lock")

    def locked() -> int:
        lock = filelock.FileLock(path, thread_local=False)
        lock.acquire(timeout=0)
        try:
            return _sync()
        finally:
            lock.release()

    assert 1 == measure("file-guard-uncontended", False)(locked)  # noqa: FBT003


def test_file_guard_uncontended(measure: Measure, lock_dir: Path) -> None:
    """FileSyncGuard.run, durable (the default): generations reserved on disk, 1 fsync in 1024."""
    guard = FileSyncGuard(lock_dir)
    assert 1 == measure("file-guard-uncontended", False)(guard.run, "app", _sync).value  # noqa: FBT003


def test_file_guard_uncontended_not_durable(measure: Measure, lock_dir: Path) -> None:
    """FileSyncGuard.run with durable=False: the read and the two in-place writes, no ceiling."""
    guard = FileSyncGuard(lock_dir, durable=False)
    assert 1 == measure("file-guard-uncontended", False)(guard.run, "app", _sync).value  # noqa: FBT003


def test_file_guard_interleaved(measure: Measure, lock_dir: Path) -> None:
    """
    A bare FileLock, raw open+flock+close, a FileLock per acquisition, FileSyncGuard: interleaved.

    The ratios in extra_info compare the fastest batch of each: measured
    side by side, so that the machine's drift over the group's minutes
    cannot skew them.
    """
    lock = filelock.FileLock(lock_dir / "bare.lock")
    path = str(lock_dir / "fresh.lock")
    durable = FileSyncGuard(lock_dir / "durable")
    fast = FileSyncGuard(lock_dir / "not-durable", durable=False)

    def bare() -> None:
        with lock:
            _sync()

    def fresh() -> None:
        new = filelock.FileLock(path, thread_local=False)
        new.acquire(timeout=0)
        try:
            _sync()
        finally:
            new.release()

    raw_path = str(lock_dir / "raw.lock")

    def raw() -> None:  # the floor under both: open, flock, unlock, close
        fd = os.open(raw_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            try:
                _sync()
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    candidates = {
        "bare_filelock": bare,
        "raw_open_flock_close": raw,
        "filelock_per_acquisition": fresh,
        "guard_durable": lambda: durable.run("app", _sync),
        "guard_not_durable": lambda: fast.run("app", _sync),
    }
    rounds, calls = (60, 200) if FULL else (2, 5)
    bench = measure("file-guard-interleaved", True)  # noqa: FBT003
    times = compare(bench, candidates, baseline="bare_filelock", rounds=rounds, calls=calls)
    assert set(candidates) == set(times)
