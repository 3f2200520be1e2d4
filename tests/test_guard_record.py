from __future__ import annotations

import fcntl
import json
import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from syncsafe import FileGuardState, FileSyncGuard, GuardStateCorrupt, Outcome
from syncsafe.guard import _file
from syncsafe.guard._record import Record, blank_slot, encode, parse, record_slot, update

pytestmark = pytest.mark.timeout(30)


def slots(path: Path) -> tuple[bytes, bytes]:
    """The two slots of the state file at *path*."""
    raw = path.read_bytes()
    size = len(raw) // 2
    return raw[:size], raw[size:]


def open_fds() -> int | None:
    """How many fds this process has open, where /proc tells."""
    fd_dir = Path("/proc/self/fd")
    return len(list(fd_dir.iterdir())) if fd_dir.is_dir() else None


def ran(guard: FileSyncGuard, times: int, key: str = "app") -> None:
    """Run an empty sync of *key* *times* times."""
    for _ in range(times):
        guard.run(key, lambda: None)


# ------------------------------------------------------------------ format


def test_a_record_slot_is_json_whitespace_after_the_record() -> None:
    """A slot is the record, 33 spaces and tabs, padding and a newline: JSON reads the record."""
    record = encode("app", 2, 1, None, 7)
    slot = record_slot(record, dir_synced=True, size=256)
    assert 256 == len(slot)
    assert slot.startswith(record)
    assert slot.endswith(b" \n")
    assert set(slot[len(record) : len(record) + 33]) <= set(b" \t")
    assert json.loads(record) == json.loads(slot + blank_slot(256))


def test_the_file_alternates_slots_and_keeps_one_record_at_rest(tmp_path: Path) -> None:
    """Each write moves the record to the other slot and blanks the old one."""
    guard = FileSyncGuard(tmp_path, durable=False)
    state_file = guard.files("app")[1]
    ran(guard, 1)
    mid_run: list[tuple[bytes, bytes]] = []
    guard.run("app", lambda: mid_run.append(slots(state_file)))
    after = slots(state_file)
    assert 512 == state_file.stat().st_size
    for pair in (mid_run[0], after):
        assert 1 == pair.count(blank_slot(256))
    assert (mid_run[0][0] == blank_slot(256)) != (after[0] == blank_slot(256))
    assert {"started": 2, "finished": 1} == {
        k: v for k, v in json.loads(b"".join(mid_run[0])).items() if k in {"started", "finished"}
    }
    assert 2 == json.loads(b"".join(after))["finished"]


def test_the_newest_of_two_whole_records_counts(tmp_path: Path) -> None:
    """A file caught between the two writes holds two records: the newer one is the state."""
    old = record_slot(encode("app", 4, 4, None, 1), dir_synced=False, size=256)
    new = record_slot(encode("app", 5, 4, None, 2), dir_synced=False, size=256)
    for raw in (old + new, new + old):
        assert (5, 4, 2) == _triple(parse(raw, "app", "s"))
    guard = FileSyncGuard(tmp_path)
    guard.files("app")[1].write_bytes(new + old)
    assert 6 == guard.run("app", lambda: None).generation
    assert FileGuardState("app", 6, 6, None, os.getpid()) == guard.state("app")


def _triple(record: Record) -> tuple[int, int, int]:
    return record.started, record.finished, record.pid


@pytest.mark.parametrize("cut", [1, 40, 100])
def test_a_torn_slot_is_ignored_beside_the_previous_record(tmp_path: Path, cut: int) -> None:
    """A start record torn by a crash fails its CRC: the previous record stands, and runs go on."""
    guard = FileSyncGuard(tmp_path)
    ran(guard, 3)
    state_file = guard.files("app")[1]
    raw = bytearray(state_file.read_bytes())
    at, data, _, _ = update(
        parse(bytes(raw), "app", "s"), encode("app", 4, 3, None, 9), dir_synced=True
    )
    raw[at : at + cut] = data[:cut]  # the write of run 4's start, cut short
    state_file.write_bytes(bytes(raw))
    assert FileGuardState("app", 3, 3, None, os.getpid()) == guard.state("app")
    assert 4 == guard.run("app", lambda: None).generation  # 4 never ran: its start never completed


def test_a_changed_digit_fails_the_crc(tmp_path: Path) -> None:
    """A record whose bytes changed, but that is still valid JSON, is not believed."""
    guard = FileSyncGuard(tmp_path)
    ran(guard, 2)
    state_file = guard.files("app")[1]
    raw = state_file.read_bytes()
    state_file.write_bytes(raw.replace(b'"started": 2', b'"started": 1'))
    with pytest.raises(GuardStateCorrupt, match="no slot holds a complete record"):
        guard.run("app", lambda: None)


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"", "unreadable"),
        (b" " * 511 + b"\n", "no slot holds a complete record"),
        (b" " * 255 + b"\n" + b" " * 255 + b"\n", "no slot holds a complete record"),
        (b"{" + b" " * 254 + b"\n" + b" " * 255 + b"\n", "no slot holds a complete record"),
        (b" " * 299 + b"\n", "a slotted file of 300 bytes"),
    ],
)
def test_a_state_file_with_no_whole_record_is_refused(
    tmp_path: Path, content: bytes, problem: str
) -> None:
    """Empty, blank or torn: no generation is guessed (0 would hand out run 1 again)."""
    guard = FileSyncGuard(tmp_path)
    guard.files("app")[1].write_bytes(content)
    with pytest.raises(GuardStateCorrupt, match=problem):
        guard.run("app", lambda: None)


def test_a_whole_record_for_another_key_is_refused(tmp_path: Path) -> None:
    """A slot with a valid CRC but another key's record is a foreign file, not a torn one."""
    guard = FileSyncGuard(tmp_path)
    slot = record_slot(encode("other", 1, 1, None, 1), dir_synced=False, size=256)
    guard.files("app")[1].write_bytes(slot + blank_slot(256))
    with pytest.raises(GuardStateCorrupt, match="format and key"):
        guard.state("app")


def test_the_earlier_single_record_format_is_read_and_rewritten(tmp_path: Path) -> None:
    """A state file that is one bare JSON record goes on from its generation, then gets slots."""
    guard = FileSyncGuard(tmp_path)
    state_file = guard.files("app")[1]
    state_file.write_bytes(
        b'{"format": 1, "key": "app", "started": 7, "finished": 6, "error": null, "pid": 1}'
    )
    assert FileGuardState("app", 7, 6, None, 1) == guard.state("app")
    assert 8 == guard.run("app", lambda: None).generation
    assert 512 == state_file.stat().st_size
    assert 8 == json.loads(state_file.read_bytes())["started"]


def test_a_record_that_outgrows_its_slot_moves_to_a_bigger_file(tmp_path: Path) -> None:
    """A long error is kept whole: the file is rewritten with bigger slots, generations go on."""
    guard = FileSyncGuard(tmp_path, "share")
    state_file = guard.files("app")[1]
    ran(guard, 1)
    message = "x" * 3000

    def fail() -> None:
        raise ValueError(message)

    with pytest.raises(ValueError, match="x"):
        guard.run("app", fail)
    assert 2 * 4096 == state_file.stat().st_size
    assert repr(ValueError(message)) == guard.state("app").error
    assert Outcome(None, 3, True, True, 0) == guard.run("app", lambda: None)  # noqa: FBT003
    assert FileGuardState("app", 3, 3, None, os.getpid()) == guard.state("app")
    assert 2 * 4096 == state_file.stat().st_size  # slots never shrink


# --------------------------------------------------------------- durability


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


def test_durable_runs_fdatasync_the_start_and_sync_the_directory_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Creation: file and directory fsynced; then one fdatasync per run, and one directory sync."""
    guard = FileSyncGuard(tmp_path)
    calls = syncs(monkeypatch)
    ran(guard, 1)
    assert ["file", "directory"] == calls  # the new file, then its name
    calls.clear()
    ran(guard, 1)
    assert ["directory", "data"] == calls  # the first in-place start records the name as synced
    calls.clear()
    ran(guard, 3)
    assert ["data"] * 3 == calls
    assert 5 == guard.state("app").finished


def test_a_durable_guard_syncs_the_directory_of_a_file_made_without(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file made with durable=False gets its directory fsynced by the first durable start."""
    ran(FileSyncGuard(tmp_path, durable=False), 2)
    calls = syncs(monkeypatch)
    ran(FileSyncGuard(tmp_path), 2)
    assert ["directory", "data", "data"] == calls


def test_durable_false_never_syncs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """durable=False: no fsync and no fdatasync, even when the file is created."""
    calls = syncs(monkeypatch)
    ran(FileSyncGuard(tmp_path, durable=False), 3)
    assert [] == calls


# ----------------------------------------------------------- unlocked readers


def test_an_unlocked_reader_is_kept_out_between_the_two_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between the new record and the blanking, the file is flocked; it then holds both records."""
    guard = FileSyncGuard(tmp_path, durable=False)
    ran(guard, 1)
    state_file = str(guard.files("app")[1])
    seen: list[tuple[bool, tuple[int, int, int]]] = []
    real_write_at: Callable[[int, bytes, int], None] = _file._write_at

    def write_at(fd: int, data: bytes, offset: int) -> None:
        if data.strip() == b"" and not seen:  # the blanking, once the new record is in
            reader = os.open(state_file, os.O_RDONLY)
            try:
                try:
                    fcntl.flock(reader, fcntl.LOCK_SH | fcntl.LOCK_NB)
                except BlockingIOError:
                    shut_out = True
                else:
                    shut_out = False
                raw = os.pread(reader, 4096, 0)
            finally:
                os.close(reader)
            seen.append((shut_out, _triple(parse(raw, "app", state_file))))
        real_write_at(fd, data, offset)

    monkeypatch.setattr(_file, "_write_at", write_at)
    guard.run("app", lambda: None)
    assert [(True, (2, 1, os.getpid()))] == seen


def test_a_slot_too_small_for_its_record_is_refused() -> None:
    """record_slot never truncates a record: a slot without room for it is a ValueError."""
    with pytest.raises(ValueError, match="does not fit a slot of 256"):
        record_slot(b"x" * 300, dir_synced=False, size=256)


@pytest.mark.parametrize(
    "damage",
    [
        lambda slot: slot.replace(b"}\t", b"}x", 1).replace(b"} ", b"}x", 1),  # check not blank
        lambda slot: slot[:-3] + b"x \n",  # junk in the padding
        lambda slot: slot[:40] + b" " * (len(slot) - 41) + b"\n",  # the check cut off
    ],
)
def test_a_slot_with_a_damaged_check_or_padding_does_not_count(
    damage: Callable[[bytes], bytes],
) -> None:
    """Only a record, its exact check, spaces and a newline make a slot count."""
    old = record_slot(encode("app", 1, 1, None, 1), dir_synced=False, size=256)
    new = record_slot(encode("app", 2, 1, None, 1), dir_synced=False, size=256)
    assert (2, 1, 1) == _triple(parse(old + new, "app", "s"))
    damaged = damage(new)
    assert 256 == len(damaged)
    assert (1, 1, 1) == _triple(parse(old + damaged, "app", "s"))


def test_a_state_file_bigger_than_one_read_is_read_whole(tmp_path: Path) -> None:
    """An error of 40,000 characters makes a 128 KiB file, read back whole."""
    guard = FileSyncGuard(tmp_path, durable=False)
    message = "y" * 40_000

    def fail() -> None:
        raise RuntimeError(message)

    with pytest.raises(RuntimeError):
        guard.run("app", fail)
    assert 2 * 65536 == guard.files("app")[1].stat().st_size
    assert repr(RuntimeError(message)) == guard.state("app").error


def test_a_failed_replace_leaves_the_old_file_and_no_fd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failed rename surfaces; the run's start stays the newest record, and no fd leaks."""
    guard = FileSyncGuard(tmp_path, durable=False)
    ran(guard, 1)
    fds = open_fds()

    def fail(_source: str, _target: str) -> None:
        raise PermissionError(13, "denied")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(PermissionError):
        guard._write(tmp_path / "new.state", FileGuardState("new", 1, 0, None, 1), sync=True)

    def fail_long() -> None:
        raise ValueError("z" * 600)  # its record outgrows the 256-byte slots: a new file

    with pytest.raises(PermissionError):
        guard.run("app", fail_long)
    monkeypatch.undo()
    assert fds == open_fds()
    assert FileGuardState("app", 2, 1, None, os.getpid()) == guard.state("app")
    assert 3 == guard.run("app", lambda: None).generation
