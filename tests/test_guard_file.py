from __future__ import annotations

import asyncio
import fcntl
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import filelock
import pytest

from _guard_files import write_state
from _threads import Threads, in_run
from syncsafe import (
    FileGuardState,
    FileSyncGuard,
    GuardStateCorrupt,
    Outcome,
    SyncFailed,
    SyncInProgress,
    SyncTimeout,
)
from syncsafe.guard import _file, _holder
from syncsafe.guard._file import key_file_stem
from syncsafe.guard._record import Record

pytestmark = pytest.mark.timeout(60)


def blocked_counter(guard: FileSyncGuard) -> threading.Semaphore:
    """A semaphore released each time a caller of *guard* is about to block on a lock."""
    blocked = threading.Semaphore(0)

    def hook(_key: str) -> None:
        blocked.release()

    guard.on_wait = hook
    return blocked


def acquire(semaphore: threading.Semaphore) -> None:
    """Wait until *semaphore* was released once."""
    assert semaphore.acquire(timeout=10), "a caller never blocked"


# ------------------------------------------------------------------ basics


def newest_record(state_file: Path) -> dict[str, object]:
    """The newest record of a state file, read from its slots with plain JSON."""
    raw = state_file.read_bytes()
    size = len(raw) // 2
    records = [json.loads(slot) for slot in (raw[:size], raw[size:]) if slot.startswith(b"{")]
    return max(records, key=lambda r: (r["started"], r["finished"]))


def test_an_uncontended_run_writes_the_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run leads, gets generation 1, and leaves a state file saying run 1 finished."""
    monkeypatch.setattr(_holder, "boot_id", lambda: "boot-a")
    guard = FileSyncGuard(tmp_path / "locks")
    assert Outcome("v", 1, True, True, 0) == guard.run("app", lambda: "v")  # noqa: FBT003
    lock_file, state_file, ceiling_file = guard.files("app")
    assert (
        lock_file.parent
        == state_file.parent
        == ceiling_file.parent
        == guard.directory
        == tmp_path / "locks"
    )
    assert [".lock", ".state", ".ceiling"] == [f.suffix for f in guard.files("app")]
    expected = {"format": 3, "key": "app", "started": 1, "finished": 1, "error": None}
    expected |= {"boot": "boot-a", "reserved": 1024, "lock": [0, 0]}
    record = newest_record(state_file)
    assert _holder._process(os.getpid()) == ("R", record.pop("since"))
    assert expected == {k: v for k, v in record.items() if k != "pid"}
    assert {"format": 1, "key": "app", "reserved": 1024} == json.loads(ceiling_file.read_text())
    assert FileGuardState("app", 1, 1, None, os.getpid()) == guard.state("app")
    assert 2 == guard.run("app", lambda: None).generation
    assert 0 == guard.statistics().keys


def test_generations_survive_a_new_guard(tmp_path: Path) -> None:
    """The generation lives in the state file: a new guard, or a new process, goes on from it."""
    FileSyncGuard(tmp_path).run("app", lambda: None)
    assert 2 == FileSyncGuard(tmp_path, durable=False).run("app", lambda: None).generation


@pytest.mark.parametrize(
    "key",
    ["app", "../../etc/passwd", "a/b\\c", "", ".hidden", "CON", "ü-ñ", "x" * 300, "a\x00b"],
)
def test_any_key_gets_a_safe_file_name(tmp_path: Path, key: str) -> None:
    """Lock, state and ceiling files stay in the directory for any key; names are short, plain."""
    guard = FileSyncGuard(tmp_path)
    assert "ok" == guard.run(key, lambda: "ok").value
    lock_file, state_file, ceiling_file = guard.files(key)
    stem = key_file_stem(key)
    assert [stem + ".lock", stem + ".state", stem + ".ceiling"] == [
        f.name for f in guard.files(key)
    ]
    assert lock_file.parent == state_file.parent == ceiling_file.parent == tmp_path
    assert not stem.startswith(".")
    assert len(stem) <= 70
    assert set(stem) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-")
    assert state_file.exists()
    assert ceiling_file.exists()


def test_keys_that_differ_only_in_what_is_dropped_get_different_files() -> None:
    """Case, unsafe characters and length never make two keys share a file."""
    stems = {key_file_stem(k) for k in ["App", "app", "a/b", "a_b", "a?b", "x" * 60, "x" * 61]}
    assert 7 == len(stems)


def test_bad_arguments(tmp_path: Path) -> None:
    """A non-str key is a TypeError; an unknown policy a ValueError."""
    guard = FileSyncGuard(tmp_path)
    with pytest.raises(TypeError, match="must be a str"):
        guard.run(42, lambda: None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="policy='nope'"):
        guard.run("k", lambda: None, policy="nope")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="policy='nope'"):
        FileSyncGuard(tmp_path, "nope")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"{not json", "unreadable"),
        (b"[]", "unreadable"),
        (b'{"format": 1}', "unreadable"),
        (
            b'{"format": 1, "key": "other", "started": 1, "finished": 1, "error": null, "pid": 1}',
            "format and key",
        ),
        (
            b'{"format": 1, "key": "app", "started": 1, "finished": 2, "error": null, "pid": 1}',
            "must be integers",
        ),
        (
            b'{"format": 1, "key": "app", "started": "1", "finished": 0, "error": null, "pid": 1}',
            "must be integers",
        ),
        (
            b'{"format": 1, "key": "app", "started": 1, "finished": 1, "error": 5, "pid": 1}',
            "error must be",
        ),
        (
            (
                b'{"format": 4, "key": "app", "started": 1, "finished": 1, "error": null, "pid": 1,'
                b' "boot": "", "reserved": 0, "lock": [0, 0], "since": 0}'
            ),
            "format and key",
        ),
        (
            b'{"format": 2, "key": "app", "started": 1, "finished": 1, "error": null, "pid": 1}',
            "unreadable",  # format 2 has "boot" and "reserved"
        ),
        (
            (
                b'{"format": 3, "key": "app", "started": 1, "finished": 1, "error": null, "pid": 1,'
                b' "boot": "", "reserved": 0}'
            ),
            "unreadable",  # format 3 has "lock" and "since"
        ),
        (
            (
                b'{"format": 3, "key": "app", "started": 1, "finished": 1, "error": null, "pid": 1,'
                b' "boot": "", "reserved": 0, "lock": [1], "since": 0}'
            ),
            "lock must be two integers",
        ),
        (
            (
                b'{"format": 3, "key": "app", "started": 1, "finished": 1, "error": null, "pid": 1,'
                b' "boot": "", "reserved": 0, "lock": [1, 2], "since": -1}'
            ),
            "since an integer >= 0",
        ),
        (
            b'{"format": 4, "key": "app", "started": 1, "finished": 1, "error": null, "pid": 1}',
            r"format and key are \(4, 'app'\)",  # the format is judged before its fields
        ),
        (
            b'{"format": true, "key": "app", "started": 1, "finished": 1, "error": null, "pid": 1}',
            r"format and key are \(True, 'app'\)",  # equal to 1, but not the integer 1
        ),
        (
            (
                b'{"format": 2, "key": "app", "started": 1, "finished": 1, "error": null, "pid": 1,'
                b' "boot": 5, "reserved": 0}'
            ),
            "boot must be a string",
        ),
        (
            (
                b'{"format": 2, "key": "app", "started": 1, "finished": 1, "error": null, "pid": 1,'
                b' "boot": "", "reserved": -1}'
            ),
            "reserved an integer >= 0",
        ),
        (
            (
                b'{"format": 2, "key": "app", "started": 1, "finished": 1, "error": null, "pid": 1,'
                b' "boot": "", "reserved": true}'
            ),
            "reserved an integer >= 0",
        ),
    ],
)
def test_a_foreign_state_file_is_refused(tmp_path: Path, content: bytes, problem: str) -> None:
    """A state file the guard did not write raises GuardStateCorrupt instead of guessing."""
    guard = FileSyncGuard(
        tmp_path, durable=False
    )  # a durable guard starts over a file of no record
    guard.files("app")[1].write_bytes(content)
    with pytest.raises(GuardStateCorrupt, match=problem):
        guard.run("app", lambda: None)


# ------------------------------------------------------ threads in a process


def test_reject_in_process_and_across_processes(tmp_path: Path) -> None:
    """'reject' raises SyncInProgress whether the run is in this process or another."""
    guard = FileSyncGuard(tmp_path)
    threads, release = in_run(guard.run, timeout=10)
    with pytest.raises(SyncInProgress, match="run 1 is in progress"):
        guard.run("app", lambda: None, policy="reject")
    with pytest.raises(SyncInProgress, match="run 1 is in progress"):
        FileSyncGuard(tmp_path, "reject").run("app", lambda: None)  # a guard of its own
    release.set()
    threads.join()
    assert 1 == guard.statistics().rejected


def test_timeouts_in_process_and_on_the_file_lock(tmp_path: Path) -> None:
    """SyncTimeout when the wait for either lock is too long; the run in flight goes on."""
    guard = FileSyncGuard(tmp_path)
    threads, release = in_run(guard.run, timeout=10)
    with pytest.raises(SyncTimeout):
        guard.run("app", lambda: None, timeout=0.01)  # behind the in-process lock
    with pytest.raises(SyncTimeout):
        FileSyncGuard(tmp_path).run("app", lambda: None, timeout=0.01)  # behind the file lock
    release.set()
    assert Outcome("first", 1, True, True, 0) == threads.join()["first"]  # noqa: FBT003
    assert 1 == guard.statistics().timed_out


def test_a_run_error_is_recorded_in_the_state_file(tmp_path: Path) -> None:
    """A run that raised leaves its error's repr as the state's error; the key runs again."""
    guard = FileSyncGuard(tmp_path)
    boom = ValueError("render failed")

    def failing() -> None:
        raise boom

    with pytest.raises(ValueError, match="render failed") as raised:
        guard.run("app", failing)
    assert raised.value is boom
    assert FileGuardState("app", 1, 1, "ValueError('render failed')", os.getpid()) == guard.state(
        "app"
    )
    assert 2 == guard.run("app", lambda: None).generation


# --------------------------------------------------- another process's runs


def test_a_caller_served_by_another_process_returns_without_running(tmp_path: Path) -> None:
    """A run that started after the request and finished elsewhere serves it: remote, no value."""
    guard = FileSyncGuard(tmp_path)
    other = FileSyncGuard(tmp_path)  # writes the state as another process would
    blocked = blocked_counter(guard)
    lock_file, state_file, _ = guard.files("app")
    held = filelock.FileLock(lock_file)  # another process, between taking the lock and its start
    threads = Threads()
    holder_ready = threading.Event()
    done = threading.Event()

    def other_process() -> None:
        with held:
            holder_ready.set()
            acquire(blocked)  # the request has been made and read the state
            write_state(other, state_file, FileGuardState("app", 1, 1, None, 4242))
        done.set()

    threads.start("other", other_process)
    assert holder_ready.wait(10)
    threads.start("caller", lambda: guard.run("app", lambda: "never"))
    results = threads.join()
    assert Outcome(None, 1, False, True, 0, True) == results["caller"]  # noqa: FBT003
    assert 1 == guard.statistics().coalesced


def test_a_caller_that_waited_in_process_keeps_its_ticket_at_the_file_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Behind this process's run, then another process's: that later run serves the caller."""
    guard = FileSyncGuard(tmp_path)
    other = FileSyncGuard(tmp_path)  # writes the state as another process would
    blocked = blocked_counter(guard)
    lock_file, state_file, _ = guard.files("app")
    # Another process's lock, taken by one thread and released by another.
    other_process = filelock.FileLock(lock_file, thread_local=False)
    handed_off = threading.Event()

    class HandOff(filelock.FileLock):
        """The guard's file lock: when its first holder lets go, the other process takes it."""

        def release(self, force: bool = False) -> None:  # noqa: FBT001, FBT002 - filelock's API
            super().release(force=force)
            if not handed_off.is_set():
                other_process.acquire(timeout=0)
                handed_off.set()

    monkeypatch.setattr(_file, "FileLock", HandOff)
    threads, release = in_run(guard.run, timeout=10)
    threads.start("caller", lambda: guard.run("app", lambda: "never"))
    acquire(blocked)  # behind this process's run 1, on the in-process lock
    release.set()
    acquire(blocked)  # then behind the other process, on the file lock
    assert handed_off.is_set()
    write_state(
        other, state_file, FileGuardState("app", 2, 2, None, 4242)
    )  # its run 2, started later
    other_process.release()
    results = threads.join()
    assert Outcome("first", 1, True, True, 0) == results["first"]  # noqa: FBT003
    assert Outcome(None, 2, False, True, 0, True) == results["caller"]  # noqa: FBT003


def test_another_process_failure_is_reported_as_text(tmp_path: Path) -> None:
    """A failed run in another process serves the waiting caller SyncFailed with the error text."""
    guard = FileSyncGuard(tmp_path)
    blocked = blocked_counter(guard)
    lock_file, state_file, _ = guard.files("app")
    threads = Threads()
    holder_ready = threading.Event()

    def other_process() -> None:
        with filelock.FileLock(lock_file):
            holder_ready.set()
            acquire(blocked)
            state = FileGuardState("app", 1, 1, "OSError('disk full')", 4242)
            write_state(guard, state_file, state)

    threads.start("other", other_process)
    assert holder_ready.wait(10)
    threads.start("caller", lambda: guard.run("app", lambda: "never"))
    error = threads.join()["caller"]
    assert isinstance(error, SyncFailed)
    assert error.__cause__ is None
    assert "sync of 'app' failed: run 1 raised OSError('disk full')" == str(error)


CHILD = """
import sys
from syncsafe import FileSyncGuard

def sync():
    print("running", flush=True)
    sys.stdin.readline()  # holds the run until the parent kills this process
    return "never"

FileSyncGuard(sys.argv[1]).run("app", sync)
"""


def test_a_process_killed_mid_run_leaves_the_key_free(tmp_path: Path) -> None:
    """SIGKILL mid-run: the waiting caller runs next, with a new generation; the state is intact."""
    guard = FileSyncGuard(tmp_path)
    blocked = blocked_counter(guard)
    with subprocess.Popen(
        [sys.executable, "-c", CHILD, str(tmp_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as child:
        assert child.stdout is not None
        assert "running\n" == child.stdout.readline()
        threads = Threads()
        threads.start("waiter", lambda: guard.run("app", lambda: "after the crash"))
        acquire(blocked)
        assert FileGuardState("app", 1, 0, None, child.pid) == guard.state("app")
        child.kill()
        assert -9 == child.wait(timeout=10)
    results = threads.join()
    assert Outcome("after the crash", 2, True, True, 0) == results["waiter"]  # noqa: FBT003
    assert FileGuardState("app", 2, 2, None, os.getpid()) == guard.state("app")
    assert 3 == guard.run("app", lambda: None).generation


WORKER = """
import json, os, sys, time
from syncsafe import FileSyncGuard

directory, marker = sys.argv[1:3]
guard = FileSyncGuard(directory)
print("ready", flush=True)
sys.stdin.readline()

def sync():
    started = time.monotonic_ns()
    fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)  # fails if another run is in
    os.close(fd)
    os.unlink(marker)
    return started

for _ in range(12):
    asked = time.monotonic_ns()
    o = guard.run("app", sync)
    print(json.dumps([asked, o.generation, o.leader, o.value, o.remote]), flush=True)
"""


@pytest.mark.timeout(90)
def test_stress_4_processes_one_key(tmp_path: Path) -> None:
    """4 processes x 12 calls: one run at a time, every call served by a run started after it."""
    marker = tmp_path / "running"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(tmp_path / "locks"), str(marker)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    outputs: list[str] = []
    try:
        for proc in procs:
            assert proc.stdout is not None
            assert "ready\n" == proc.stdout.readline()
        for proc in procs:
            out, _ = proc.communicate("go\n", timeout=60)
            outputs.append(out)
            assert 0 == proc.returncode
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    calls = [json.loads(line) for out in outputs for line in out.splitlines()]
    assert 48 == len(calls)
    starts = {generation: value for _, generation, leader, value, _ in calls if leader}
    for asked, generation, _, _, _ in calls:
        assert starts[generation] > asked, "served by a run that started before the call"
    state = FileSyncGuard(tmp_path / "locks").state("app")
    assert state.started == state.finished == max(starts)
    assert sorted(starts) == list(range(1, len(starts) + 1))  # no generation lost or reused


# ------------------------------------------------------------ filelock traps


def test_a_shared_filelock_with_thread_local_false_excludes_no_thread(tmp_path: Path) -> None:
    """The trap: one FileLock(thread_local=False) shared by threads lets them all in."""
    lock = filelock.FileLock(tmp_path / "x.lock", thread_local=False)
    inside = threading.Event()
    entered: list[str] = []

    def second() -> None:
        assert inside.wait(10)
        with lock.acquire(timeout=0):  # no Timeout: the first thread's hold counts for it too
            entered.append("second")

    with lock:
        thread = threading.Thread(target=second)
        thread.start()
        inside.set()
        thread.join(timeout=10)
    assert ["second"] == entered


def test_the_guard_excludes_threads_of_one_process(tmp_path: Path) -> None:
    """Not exposed: two guards, even, in two threads of one process never run at once."""
    first, second = FileSyncGuard(tmp_path), FileSyncGuard(tmp_path)
    blocked = blocked_counter(second)
    threads, release = in_run(first.run, timeout=10)
    threads.start("second", lambda: second.run("app", lambda: "second"))
    acquire(blocked)  # blocked on the file lock while the first run holds it
    release.set()
    results = threads.join()
    assert 2 == results["second"].generation  # type: ignore[attr-defined]


def test_a_shared_async_filelock_lets_two_tasks_in(tmp_path: Path) -> None:
    """The trap: one AsyncFileLock shared by tasks lets a second task in while the first holds."""

    async def main() -> list[str]:
        lock = filelock.AsyncFileLock(tmp_path / "x.lock")
        entered: list[str] = []
        async with lock:
            entered.append("first")
            await asyncio.wait_for(lock.acquire(), 5)  # no wait at all
            entered.append("second")
            await lock.release()
        return entered

    assert ["first", "second"] == asyncio.run(main())


def test_the_guard_excludes_asyncio_tasks(tmp_path: Path) -> None:
    """Not exposed: tasks that call the guard through threads run one at a time."""
    guard = FileSyncGuard(tmp_path)
    blocked = blocked_counter(guard)
    started = threading.Event()
    release = threading.Event()
    active: list[str] = []

    def hold() -> str:
        active.append("first")
        started.set()
        assert release.wait(10)
        active.remove("first")
        return "first"

    def second_sync() -> str:
        assert not active, "two runs at once"
        return "second"

    async def main() -> list[Outcome[str | None]]:
        first = asyncio.ensure_future(asyncio.to_thread(guard.run, "app", hold))
        await asyncio.to_thread(started.wait, 10)
        second = asyncio.ensure_future(asyncio.to_thread(guard.run, "app", second_sync))
        await asyncio.to_thread(acquire, blocked)  # the second task's call waits
        release.set()
        return list(await asyncio.gather(first, second))

    first, second = asyncio.run(main())
    assert Outcome("first", 1, True, True, 0) == first  # noqa: FBT003
    assert Outcome("second", 2, True, True, 0) == second  # noqa: FBT003


# ----------------------------------------------------------- damaged files
def test_a_fifo_in_place_of_the_state_file_fails_instead_of_hanging(tmp_path: Path) -> None:
    """state(), a run, and a caller waiting on another holder all raise GuardStateCorrupt."""
    guard = FileSyncGuard(tmp_path)
    lock_file, state_file, _ = guard.files("app")
    os.mkfifo(state_file)
    with pytest.raises(GuardStateCorrupt, match="a FIFO"):
        guard.state("app")
    with pytest.raises(GuardStateCorrupt, match="a FIFO"):
        guard.run("app", lambda: "never")
    # another process holds the key: the caller reads the state to wait
    with filelock.FileLock(lock_file), pytest.raises(GuardStateCorrupt, match="a FIFO"):
        guard.run("app", lambda: "never", timeout=10)
    assert 0 == guard.statistics().keys


def test_a_directory_in_place_of_the_state_file_is_refused(tmp_path: Path) -> None:
    """A directory where the state file belongs is GuardStateCorrupt, not IsADirectoryError."""
    guard = FileSyncGuard(tmp_path)
    guard.files("app")[1].mkdir()
    with pytest.raises(GuardStateCorrupt, match="a directory"):
        guard.state("app")


# ------------------------------------------------------ the lock file removed
def test_a_locked_file_no_longer_at_its_path_is_refused_at_acquisition(tmp_path: Path) -> None:
    """
    The check run at each acquisition refuses a locked file that was removed or replaced.

    So a caller that opened the lock file, then locked it after it was removed
    (or replaced by a rename), retries on the file now at the path.
    """
    path = tmp_path / "app.lock"
    fd = _flocked(path)
    check = _holder.Locked(os.fspath(path))
    check(fd)  # the file at the path: accepted
    assert (path.stat().st_dev, path.stat().st_ino) == check.ident
    assert check.still()
    path.unlink()
    assert not check.still()
    with pytest.raises(_holder.Moved):
        check(fd)
    other = _flocked(path)
    with pytest.raises(_holder.Moved):
        check(fd)
    check(other)
    os.close(fd)
    os.close(other)


def _flocked(path: Path) -> int:
    """An fd of *path* (made if missing) holding its flock, as another process would."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


HOLDER = """
import sys
from syncsafe import FileSyncGuard

def sync():
    print("running", flush=True)
    sys.stdin.readline()  # holds the run until the parent says, or kills this process
    return "a"

outcome = FileSyncGuard(sys.argv[1]).run("app", sync)
print("done", outcome.generation, flush=True)
"""


def _process_holding(directory: Path) -> subprocess.Popen[str]:
    """Another process running key "app" in *directory*, held until a line reaches its stdin."""
    child = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(directory)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    assert "running\n" == child.stdout.readline()
    return child


def test_a_lock_file_removed_under_a_run_lets_no_other_process_run_the_key(
    tmp_path: Path,
) -> None:
    """
    A's lock file removed mid-run: B locks a new one, but waits for A's run instead of running.

    B times out while A runs; once A's run ends, B runs after it (generation
    2, and its function sees A's end recorded), served by the policy as a
    caller that arrived while run 1 was in flight.
    """
    guard = FileSyncGuard(tmp_path)
    blocked = blocked_counter(guard)
    lock_file = guard.files("app")[0]
    with _process_holding(tmp_path) as a:
        assert a.stdin is not None
        assert a.stdout is not None
        lock_file.unlink()  # a cleaner of temporary files
        with pytest.raises(SyncTimeout):
            guard.run("app", lambda: "overlapping", timeout=0.05)
        acquire(blocked)
        assert lock_file.exists()  # B made a new lock file, and locked it
        seen: list[FileGuardState] = []

        def b_sync() -> str:
            seen.append(guard.state("app"))
            return "b"

        threads = Threads()
        threads.start("b", lambda: guard.run("app", b_sync))
        acquire(blocked)  # B waits for A's run, though no one else holds the lock file
        assert [] == seen
        assert 1 == guard.statistics().waiting
        a.stdin.write("go\n")
        a.stdin.flush()
        assert "done 1\n" == a.stdout.readline()
        assert 0 == a.wait(timeout=10)
    assert Outcome("b", 2, True, True, 0) == threads.join()["b"]  # noqa: FBT003
    assert [FileGuardState("app", 2, 1, None, os.getpid())] == seen  # A's end came first
    assert 1 == guard.statistics().timed_out


def test_a_holder_killed_after_its_lock_file_was_removed_leaves_the_key_free(
    tmp_path: Path,
) -> None:
    """SIGKILL of a holder whose lock file was removed: the next caller runs (not reaped yet)."""
    guard = FileSyncGuard(tmp_path)
    with _process_holding(tmp_path) as a:
        guard.files("app")[0].unlink()
        a.kill()  # not waited for yet: a zombie, until reaped, is gone too
        outcome = guard.run("app", lambda: "after the crash", timeout=30)
        assert -9 == a.wait(timeout=10)
    assert Outcome("after the crash", 2, True, True, 0) == outcome  # noqa: FBT003
    assert FileGuardState("app", 2, 2, None, os.getpid()) == guard.state("app")


def test_a_run_whose_lock_file_goes_before_its_start_record_runs_once_on_the_new_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """
    The lock file removed between the lock and the start record: the run begins again.

    A newcomer that made a new lock file then would have read the record
    before this run's start, and run: so this caller does not run on the
    removed file. It locks the file now at the path, finds its own start
    record (its process, no longer holding that file) and runs once.
    """
    guard = FileSyncGuard(tmp_path)
    lock_file = guard.files("app")[0]
    boot_id = _holder.boot_id
    removed: list[bool] = []

    def boot_and_remove() -> str:  # read between the lock and the start record
        if not removed:
            removed.append(True)
            lock_file.unlink()
        return boot_id()

    monkeypatch.setattr(_holder, "boot_id", boot_and_remove)
    calls: list[str] = []

    def sync() -> str:
        calls.append("run")
        return "v"

    outcome = guard.run("app", sync)
    assert ["run"] == calls
    assert Outcome("v", 2, True, True, 0) == outcome  # noqa: FBT003
    assert FileGuardState("app", 2, 2, None, os.getpid()) == guard.state("app")


def test_which_record_names_a_live_holder_through_another_lock_file() -> None:
    """Only a run in flight, of this boot, through another file, by a live process of that start."""
    boot = _holder.boot_id()
    pid, since = _holder.this_process()
    parent = os.getppid()
    parent_since = _holder._process(parent)
    assert parent_since is not None
    held, other = (1, 2), (1, 3)

    def record(pid: int, since: int, lock: tuple[int, int] = other, b: str = boot) -> Record:
        return Record(2, 1, None, pid, b, 0, 256, 0, *lock, since)

    assert _holder.holds_elsewhere(record(parent, parent_since[1]), held)
    assert not _holder.holds_elsewhere(record(parent, parent_since[1] + 1), held)  # pid reused
    assert not _holder.holds_elsewhere(record(parent, parent_since[1], lock=held), held)
    assert not _holder.holds_elsewhere(record(parent, parent_since[1], lock=(0, 0)), held)
    assert not _holder.holds_elsewhere(record(parent, 0), held)  # an older format's record
    assert not _holder.holds_elsewhere(record(parent, parent_since[1], b="another boot"), held)
    assert not _holder.holds_elsewhere(record(pid, since), held)  # this process: not held here
    _holder.HELD.add(other)
    try:
        assert _holder.holds_elsewhere(record(pid, since), held)  # another guard's run, here
    finally:
        _holder.HELD.discard(other)
    assert _holder._process(-1) is None
