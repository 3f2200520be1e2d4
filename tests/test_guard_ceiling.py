from __future__ import annotations

import fcntl
import json
import os
import re
import stat
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest
from filelock import FileLock

from _files import open_fds
from syncsafe import FileGuardState, FileSyncGuard, GuardStateCorrupt, SyncInProgress, _atomic
from syncsafe.guard import _ceiling, _file_state, _holder
from syncsafe.guard._record import blank_slot, parse

pytestmark = pytest.mark.timeout(30)


def syncs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record every fsync and fdatasync, by kind: 'file', 'directory' or 'data'."""
    calls: list[str] = []
    fsync, fdatasync = os.fsync, os.fdatasync

    def spy_fsync(fd: int) -> None:
        calls.append("directory" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file")
        fsync(fd)

    def spy_fdatasync(fd: int) -> None:
        calls.append("data")
        fdatasync(fd)

    monkeypatch.setattr(os, "fsync", spy_fsync)
    monkeypatch.setattr(os, "fdatasync", spy_fdatasync)
    return calls


@pytest.fixture
def boot(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """This boot's id as the guard sees it: ``boot[0]``, "boot-a" until a test changes it."""
    current = ["boot-a"]
    monkeypatch.setattr(_holder, "boot_id", lambda: current[0])
    return current


def ran(guard: FileSyncGuard, times: int, key: str = "app") -> list[int]:
    """Run an empty sync of *key* *times* times; the generations handed out."""
    return [guard.run(key, lambda: None).generation for _ in range(times)]


def ceiling(guard: FileSyncGuard, key: str = "app") -> dict[str, object]:
    """The ceiling file of *key*, decoded."""
    data: dict[str, object] = json.loads(guard.files(key)[2].read_bytes())
    return data


def record(guard: FileSyncGuard, key: str = "app") -> tuple[str, int]:
    """``(boot, reserved)`` of the newest record of *key*'s state file."""
    r = parse(guard.files(key)[1].read_bytes(), key, "s")
    return r.boot, r.reserved


# ------------------------------------------------------------ durable runs


@pytest.mark.usefixtures("boot")
def test_the_first_durable_run_reserves_a_block_and_the_next_do_not_sync(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run 1 fsyncs the ceiling file, then its directory; runs 2 to 1024 sync nothing at all."""
    guard = FileSyncGuard(tmp_path)
    calls = syncs(monkeypatch)
    assert [1] == ran(guard, 1)
    assert ["file", "directory"] == calls  # the new ceiling, then its name
    ceiling_file = guard.files("app")[2]
    assert '{"format": 1, "key": "app", "reserved": 1024}\n' == ceiling_file.read_text()
    assert ("boot-a", 1024) == record(guard)
    calls.clear()
    assert [2, 3, 4, 5, 6] == ran(guard, 5)
    assert [] == calls  # neither the state file nor anything else is synced
    assert ("boot-a", 1024) == record(guard)
    assert not guard.files("app")[2].with_suffix(".ceiling.tmp").exists()


@pytest.mark.usefixtures("boot")
def test_the_run_past_the_block_reserves_the_next_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With RESERVE 3, runs 1, 4 and 7 reserve: reserved is the generation + RESERVE - 1."""
    monkeypatch.setattr(_ceiling, "RESERVE", 3)
    guard = FileSyncGuard(tmp_path)
    calls = syncs(monkeypatch)
    seen: list[tuple[int, list[str], object]] = []
    for _ in range(7):
        generation = guard.run("app", lambda: None).generation
        seen.append((generation, list(calls), ceiling(guard)["reserved"]))
        calls.clear()
    sync = ["file", "directory"]
    assert [
        (1, sync, 3),
        (2, [], 3),
        (3, [], 3),
        (4, sync, 6),
        (5, [], 6),
        (6, [], 6),
        (7, sync, 9),
    ] == seen
    assert {"format": 1, "key": "app", "reserved": 9} == ceiling(guard)


@pytest.mark.usefixtures("boot")
def test_the_ceiling_is_on_disk_before_the_start_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ceiling is written, fsynced, renamed and its directory fsynced before run 1 starts."""
    monkeypatch.setattr(_ceiling, "RESERVE", 2)
    guard = FileSyncGuard(tmp_path)
    events: list[str] = []
    fsync, replace = os.fsync, os.replace
    real_write_at: Callable[[int, bytes, int], None] = _file_state._write_at
    real_write_all: Callable[[int, bytes], None] = _atomic._write_all

    def name(fd: int) -> str:
        return Path(f"/proc/self/fd/{fd}").readlink().name.removeprefix(guard.files("app")[0].stem)

    def spy_fsync(fd: int) -> None:
        events.append("fsync " + ("directory" if stat.S_ISDIR(os.fstat(fd).st_mode) else name(fd)))
        fsync(fd)

    def spy_replace(source: str, target: str) -> None:
        events.append("rename " + Path(source).name.removeprefix(Path(target).stem))
        replace(source, target)

    def spy_write_at(fd: int, data: bytes, offset: int) -> None:
        events.append("write " + name(fd))
        real_write_at(fd, data, offset)

    def spy_write_all(fd: int, data: bytes) -> None:  # a whole new file's bytes
        events.append("write " + name(fd))
        real_write_all(fd, data)

    monkeypatch.setattr(os, "fsync", spy_fsync)
    monkeypatch.setattr(os, "replace", spy_replace)
    monkeypatch.setattr(_file_state, "_write_at", spy_write_at)
    monkeypatch.setattr(_atomic, "_write_all", spy_write_all)
    ceiling_first = ["write .ceiling.tmp", "fsync .ceiling.tmp", "rename .ceiling.tmp"]
    ceiling_first += ["fsync directory"]
    ran(guard, 1)  # the state file is new: its start record is a new file, renamed into place
    assert [*ceiling_first, "write .state.tmp", "rename .state.tmp", "write .state"] == events
    events.clear()
    ran(guard, 2)  # run 3 is past the block of 2: the ceiling first, then the start in place
    assert [
        "write .state",
        "write .state",
        *ceiling_first,
        "write .state",
        "write .state",
    ] == events


def test_a_reboot_resumes_above_the_ceiling(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, boot: list[str]
) -> None:
    """After a reboot a record may be stale: the next generation is ceiling + 1, never a repeat."""
    guard = FileSyncGuard(tmp_path)
    assert [1] == ran(guard, 1)
    state_file = guard.files("app")[1]
    after_run_1 = state_file.read_bytes()
    assert [2, 3] == ran(guard, 2)
    boot[0] = "boot-b"
    state_file.write_bytes(after_run_1)  # what the disk kept of a state file never fsynced
    guard = FileSyncGuard(tmp_path)  # a new process, after the power came back
    assert FileGuardState("app", 1, 1, None, os.getpid()) == guard.state("app")
    calls = syncs(monkeypatch)
    assert [1025] == ran(guard, 1)
    assert ["file", "directory"] == calls
    assert {"format": 1, "key": "app", "reserved": 2048} == ceiling(guard)
    assert ("boot-b", 2048) == record(guard)
    calls.clear()
    assert [1026, 1027] == ran(guard, 2)
    assert [] == calls


def test_a_reboot_with_the_state_file_lost_resumes_above_the_ceiling(
    tmp_path: Path, boot: list[str]
) -> None:
    """A state file whose name never reached the disk is no run yet only below the ceiling."""
    guard = FileSyncGuard(tmp_path)
    assert [1, 2] == ran(guard, 2)
    guard.files("app")[1].unlink()
    boot[0] = "boot-b"
    assert [1025] == ran(FileSyncGuard(tmp_path), 1)


def test_an_unknown_boot_reserves_on_every_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, boot: list[str]
) -> None:
    """Without a boot id no record can be trusted: each run fsyncs a ceiling of its generation."""
    boot[0] = ""
    guard = FileSyncGuard(tmp_path)
    calls = syncs(monkeypatch)
    for generation in range(1, 5):
        assert [generation] == ran(guard, 1)
        assert ["file", "directory"] == calls
        assert {"format": 1, "key": "app", "reserved": generation} == ceiling(guard)
        assert ("", generation) == record(guard)
        calls.clear()


@pytest.mark.usefixtures("boot")
def test_durable_false_never_syncs_nor_writes_a_ceiling(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """durable=False: no fsync and no fdatasync, even when the file is created; no ceiling file."""
    monkeypatch.setattr(_ceiling, "RESERVE", 2)
    calls = syncs(monkeypatch)
    guard = FileSyncGuard(tmp_path, durable=False)
    assert [1, 2, 3, 4, 5] == ran(guard, 5)
    assert [] == calls
    assert (_holder.boot_id(), 0) == record(guard)  # its boot, so its next run trusts it
    assert [".lock", ".state"] == sorted(p.suffix for p in tmp_path.iterdir())


@pytest.mark.usefixtures("boot")
def test_a_durable_guard_reserves_above_runs_made_without(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, boot: list[str]
) -> None:
    """Durable and non-durable guards on one key, in one boot: one sequence, one ceiling."""
    boot[0] = ""
    ran(FileSyncGuard(tmp_path, durable=False), 2)  # no boot known: nothing to trust later
    boot[0] = "boot-a"
    calls = syncs(monkeypatch)
    durable = FileSyncGuard(tmp_path)
    assert ["directory"] == calls  # the directory's own name, in its parent
    calls.clear()
    assert [3, 4] == ran(durable, 2)
    assert ["file", "directory"] == calls
    assert {"format": 1, "key": "app", "reserved": 1026} == ceiling(durable)
    assert [5, 6] == ran(FileSyncGuard(tmp_path, durable=False), 2)  # this boot: the record
    calls.clear()
    assert [7] == ran(durable, 1)  # this boot, below the ceiling: no fsync
    assert [] == calls


def test_a_guard_that_is_not_durable_never_repeats_a_durable_generation(
    tmp_path: Path, boot: list[str]
) -> None:
    """After a power loss a non-durable guard goes on above the ceiling, like a durable one."""
    durable = FileSyncGuard(tmp_path)
    assert [1] == ran(durable, 1)
    state_file = durable.files("app")[1]
    after_run_1 = state_file.read_bytes()
    assert [2, 3] == ran(durable, 2)
    state_file.write_bytes(after_run_1)  # the power loss took the unsynced writes
    boot[0] = "boot-b"
    assert [1025] == ran(FileSyncGuard(tmp_path, durable=False), 1)


# --------------------------------------------------------- corrupt ceilings


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"", "unreadable"),
        (b"garbage\n", "unreadable"),
        (b"[]\n", "unreadable"),
        (b'{"format": 1, "key": "app"}\n', "unreadable"),
        (b'{"format": 1, "key": "other", "reserved": 5}\n', "not the ceiling of key 'app'"),
        (b'{"format": 2, "key": "app", "reserved": 5}\n', "not the ceiling of key 'app'"),
        (b'{"format": 1, "key": "app", "reserved": -1}\n', "not the ceiling of key 'app'"),
        (b'{"format": 1, "key": "app", "reserved": "5"}\n', "not the ceiling of key 'app'"),
        (b'{"format": 1, "key": "app", "reserved": true}\n', "not the ceiling of key 'app'"),
        (b'{"format": 1, "key": "app", "reserved": 5.0}\n', "not the ceiling of key 'app'"),
        (b'{"format": true, "key": "app", "reserved": 5}\n', "not the ceiling of key 'app'"),
        (b'{"format": 1.0, "key": "app", "reserved": 5}\n', "not the ceiling of key 'app'"),
    ],
)
@pytest.mark.usefixtures("boot")
def test_a_corrupt_ceiling_is_refused_not_read_as_zero(
    tmp_path: Path, content: bytes, problem: str
) -> None:
    """A ceiling file that is not this key's raises GuardStateCorrupt naming it; nothing runs."""
    guard = FileSyncGuard(tmp_path)
    ceiling_file = guard.files("app")[2]
    ceiling_file.write_bytes(content)
    ran_: list[str] = []
    pattern = re.escape(str(ceiling_file)) + ": " + re.escape(problem)
    with pytest.raises(GuardStateCorrupt, match=pattern):
        guard.run("app", lambda: ran_.append("ran"))
    assert not guard.files("app")[1].exists()
    assert [] == ran_
    assert content == ceiling_file.read_bytes()


def test_a_corrupt_ceiling_is_refused_after_a_reboot(tmp_path: Path, boot: list[str]) -> None:
    """A state file of another boot sends the run to the ceiling: a corrupt one stops it there."""
    guard = FileSyncGuard(tmp_path)
    ran(guard, 2)
    guard.files("app")[2].write_bytes(b'{"format": 1, "key": "app", "reserved": -5}\n')
    assert [3] == ran(guard, 1)  # this boot's record below its ceiling is the truth
    boot[0] = "boot-b"
    with pytest.raises(GuardStateCorrupt, match=r"\.ceiling: not the ceiling"):
        guard.run("app", lambda: None)
    assert FileGuardState("app", 3, 3, None, os.getpid()) == guard.state("app")


@pytest.mark.usefixtures("boot")
def test_a_failed_ceiling_write_starts_no_run_and_leaks_no_fd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An fsync error surfaces before the run: nothing runs, no fd leaks, the next run goes on."""
    guard = FileSyncGuard(tmp_path)
    fds = open_fds()

    def fail(_fd: int) -> None:
        raise OSError(5, "EIO")

    monkeypatch.setattr(os, "fsync", fail)
    ran_: list[str] = []
    with pytest.raises(OSError, match="EIO"):
        guard.run("app", lambda: ran_.append("ran"))
    monkeypatch.undo()
    assert [] == ran_
    assert fds == open_fds()
    assert not guard.files("app")[1].exists()
    assert not guard.files("app")[2].exists()
    assert [] == list(tmp_path.glob("*.tmp"))  # the ceiling's temporary file is removed
    assert [1] == ran(guard, 1)
    assert {"format": 1, "key": "app", "reserved": 1024} == ceiling(guard)


# ------------------------------------------------------------------ format 1


def format_1_slot(started: int, finished: int, *, flag: int) -> bytes:
    """A slot as format 1 wrote it: no boot, no reserved, and the directory flag in the check."""
    body = (
        f'{{"format": 1, "key": "app", "started": {started}, "finished": {finished}, '
        f'"error": null, "pid": 1}}'
    ).encode("ascii")
    value = flag << 32 | zlib.crc32(body + bytes((flag,)))
    check = f"{value:033b}".encode("ascii").translate(bytes.maketrans(b"01", b" \t"))
    return (body + check).ljust(255) + b"\n"


@pytest.mark.parametrize("flag", [0, 1])
@pytest.mark.usefixtures("boot")
def test_a_format_1_state_file_is_read_and_continued(tmp_path: Path, flag: int) -> None:
    """Format-1 records (either flag) read with no boot: a durable run reserves above them."""
    guard = FileSyncGuard(tmp_path)
    state_file = guard.files("app")[1]
    state_file.write_bytes(format_1_slot(7, 6, flag=flag) + format_1_slot(7, 7, flag=flag))
    assert FileGuardState("app", 7, 7, None, 1) == guard.state("app")
    assert ("", 0) == record(guard)
    assert [8, 9] == ran(guard, 2)
    assert {"format": 1, "key": "app", "reserved": 8 + 1024 - 1} == ceiling(guard)
    assert ("boot-a", 1031) == record(guard)


@pytest.mark.usefixtures("boot")
def test_a_format_1_state_file_below_an_existing_ceiling_goes_on_above_it(
    tmp_path: Path,
) -> None:
    """A format-1 record names no boot: the run goes on above the ceiling, not above the record."""
    guard = FileSyncGuard(tmp_path)
    ran(guard, 1)  # the ceiling is 1024
    state_file = guard.files("app")[1]
    state_file.write_bytes(format_1_slot(5, 5, flag=1) + blank_slot(256))
    assert [1025] == ran(guard, 1)


# ------------------------------------------------------------------ boot id


def test_the_boot_id_is_read_from_proc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The boot id is the file's text, stripped; "" if the file is missing or not ASCII."""
    boot_id = tmp_path / "boot_id"
    monkeypatch.setattr(_holder, "_BOOT_ID", str(boot_id))
    read: Callable[[], str] = _holder.boot_id.__wrapped__
    boot_id.write_text("0f2e6a3c-5b8d-4c1e-9a7f-123456789abc\n")
    assert "0f2e6a3c-5b8d-4c1e-9a7f-123456789abc" == read()
    boot_id.write_bytes(b"\xff\xfe\n")
    assert "" == read()
    boot_id.unlink()
    assert "" == read()


def test_a_durable_guard_makes_the_directories_it_creates_durable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A ceiling is as safe as its directory's name: a directory made is fsynced in its parent."""
    fsynced: list[str] = []
    fsync = os.fsync

    def spy(fd: int) -> None:
        fsynced.append(str(Path(f"/proc/self/fd/{fd}").readlink()))
        fsync(fd)

    monkeypatch.setattr(os, "fsync", spy)
    FileSyncGuard(tmp_path / "a" / "b")
    assert [str(tmp_path), str(tmp_path / "a")] == fsynced
    fsynced.clear()
    FileSyncGuard(tmp_path / "a" / "b")  # made before, by anyone: its own name is synced
    assert [str(tmp_path / "a")] == fsynced
    fsynced.clear()
    FileSyncGuard(tmp_path / "c", durable=False)
    assert [] == fsynced
    assert (tmp_path / "c").is_dir()


def test_a_guard_made_with_a_relative_directory_keeps_it_after_a_chdir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The directory is made absolute once: a chdir cannot point the guard at other files."""
    monkeypatch.chdir(tmp_path)
    guard = FileSyncGuard("locks")
    assert [1, 2] == ran(guard, 2)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert [3] == ran(guard, 1)
    assert tmp_path / "locks" == guard.files("app")[0].parent
    assert [] == list(elsewhere.iterdir())


# ------------------------------------------------- readers of a file with no record


def _emptied(tmp_path: Path) -> FileSyncGuard:
    """A durable guard that ran once, then a power loss left its state file empty."""
    guard = FileSyncGuard(tmp_path)
    ran(guard, 1)
    guard.files("app")[1].write_bytes(b"")
    return FileSyncGuard(tmp_path)  # as a new process after the reboot


@pytest.mark.usefixtures("boot")
def test_a_reader_of_a_file_with_no_record_gets_zeros_and_a_rejected_caller_no_error(
    tmp_path: Path,
) -> None:
    """Before the holder of the lock starts it over, state() is zeros and reject says 0."""
    guard = _emptied(tmp_path)
    assert FileGuardState("app") == guard.state("app")
    held = FileLock(guard.files("app")[0])  # as a run in another process holds it
    with held, pytest.raises(SyncInProgress) as info:
        guard.run("app", lambda: None, policy="reject")
    assert 0 == info.value.generation


@pytest.mark.usefixtures("boot")
def test_a_waiter_that_saw_no_record_is_never_served_and_runs_itself(tmp_path: Path) -> None:
    """It cannot tell which run had started when it asked: no run may serve it."""
    guard = _emptied(tmp_path)
    holder = FileSyncGuard(tmp_path)
    held = FileLock(guard.files("app")[0])
    held.acquire()

    def meanwhile(_key: str) -> None:  # the holder's run ends while this caller waits
        held.release()
        assert 1025 == holder.run("app", lambda: None).generation

    guard.on_wait = meanwhile
    outcome = guard.run("app", lambda: "mine")
    assert (True, 1026, "mine") == (outcome.leader, outcome.generation, outcome.value)


def test_a_reader_unlocks_before_it_closes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A child forked during a read shares the open file: the close alone would not unlock it."""
    guard = FileSyncGuard(tmp_path, durable=False)
    ran(guard, 1)
    calls: list[str] = []
    flock, close = fcntl.flock, os.close

    def spy_flock(fd: int, operation: int) -> None:
        calls.append({fcntl.LOCK_SH: "shared", fcntl.LOCK_UN: "unlock"}.get(operation, "other"))
        flock(fd, operation)

    def spy_close(fd: int) -> None:
        calls.append("close")
        close(fd)

    monkeypatch.setattr(fcntl, "flock", spy_flock)
    monkeypatch.setattr(os, "close", spy_close)
    guard.state("app")
    assert ["shared", "unlock", "close"] == calls


def test_a_directory_named_through_a_link_and_dotdot_is_the_one_the_os_finds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Made absolute without normalising: "link/.." goes where the kernel goes, not up the name."""
    (tmp_path / "real" / "sub").mkdir(parents=True)
    (tmp_path / "link").symlink_to("real/sub")
    monkeypatch.chdir(tmp_path)
    guard = FileSyncGuard("link/../guards", durable=False)
    ran(guard, 1)
    assert (tmp_path / "real" / "guards").is_dir()
    assert not (tmp_path / "guards").exists()
    assert (tmp_path / "real" / "guards") == guard.files("app")[1].resolve().parent
