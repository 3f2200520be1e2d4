from __future__ import annotations

import fcntl
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from _guard_files import write_state
from syncsafe import FileGuardState, FileSyncGuard, GuardStateCorrupt, Outcome
from syncsafe.guard import _file_state
from syncsafe.guard._record import Record, blank_slot, encode, parse, record_slot, update

pytestmark = pytest.mark.timeout(30)


def slots(path: Path) -> tuple[bytes, bytes]:
    """The two slots of the state file at *path*."""
    raw = path.read_bytes()
    size = len(raw) // 2
    return raw[:size], raw[size:]


def fields(path: Path) -> list[tuple[int, int] | None]:
    """``(started, finished)`` of each slot of the state file at *path*, read with plain JSON."""
    found: list[tuple[int, int] | None] = []
    for slot in slots(path):
        record = json.loads(slot) if slot.startswith(b"{") else None
        found.append(None if record is None else (record["started"], record["finished"]))
    return found


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
    record = encode("app", 2, 1, None, 7, boot="boot-a", reserved=9, lock=(3, 4), since=5)
    slot = record_slot(record, size=256)
    assert 256 == len(slot)
    assert slot.startswith(record)
    assert slot.endswith(b" \n")
    check = slot[len(record) : len(record) + 33]
    assert set(check) <= set(b" \t")
    assert ord(" ") == check[0]  # the flag bit, unused since format 2, is written 0
    expected = {"format": 3, "key": "app", "started": 2, "finished": 1, "error": None, "pid": 7}
    expected |= {"boot": "boot-a", "reserved": 9, "lock": [3, 4], "since": 5}
    assert expected == json.loads(slot)
    assert Record(2, 1, None, 7, "boot-a", 9, 256, 0, 3, 4, 5) == parse(slot + slot, "app", "s")


def test_each_write_fills_the_other_slot_and_keeps_the_previous_record(tmp_path: Path) -> None:
    """Each write fills the slot without the newest record, which stays whole beside it."""
    guard = FileSyncGuard(tmp_path, durable=False)
    state_file = guard.files("app")[1]
    ran(guard, 1)
    assert [(1, 0), (1, 1)] == fields(state_file)  # a new file: the start in slot 0, the end in 1
    mid_run: list[list[tuple[int, int] | None]] = []
    guard.run("app", lambda: mid_run.append(fields(state_file)))
    assert [[(2, 1), (1, 1)]] == mid_run  # run 2's start over run 1's; run 1's end kept
    assert [(2, 1), (2, 2)] == fields(state_file)  # run 2's end over run 1's; run 2's start kept
    assert 512 == state_file.stat().st_size
    assert blank_slot(256) not in slots(state_file)  # nothing is blanked any more


def test_the_newest_of_two_whole_records_counts(tmp_path: Path) -> None:
    """A file holds two whole records: the newer one is the state, whichever slot holds it."""
    old = record_slot(encode("app", 4, 4, None, 1), size=256)
    new = record_slot(encode("app", 5, 4, None, 2), size=256)
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
    at, data = update(parse(bytes(raw), "app", "s"), encode("app", 4, 3, None, 9))
    raw[at : at + cut] = data[:cut]  # the write of run 4's start, cut short
    state_file.write_bytes(bytes(raw))
    assert FileGuardState("app", 3, 3, None, os.getpid()) == guard.state("app")
    assert 4 == guard.run("app", lambda: None).generation  # 4 never ran: its start never completed


def test_a_changed_digit_fails_the_crc(tmp_path: Path) -> None:
    """A record whose bytes changed, but that is still valid JSON, is not believed."""
    guard = FileSyncGuard(tmp_path, durable=False)
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
    """Not durable, empty, blank or torn: no generation is guessed (0 would hand out 1 again)."""
    guard = FileSyncGuard(tmp_path, durable=False)
    guard.files("app")[1].write_bytes(content)
    with pytest.raises(GuardStateCorrupt, match=problem):
        guard.run("app", lambda: None)
    with pytest.raises(GuardStateCorrupt, match=problem):
        guard.state("app")


@pytest.mark.parametrize(
    "damage",
    [
        lambda _: b"",
        lambda raw: b"\0" * len(raw),
        lambda raw: b" " * (len(raw) - 1) + b"\n",
        lambda raw: raw.replace(b'"started": ', b'"started":  ', 2),  # both slots torn
    ],
)
def test_a_durable_guard_goes_on_above_its_ceiling_after_a_state_file_without_a_record(
    tmp_path: Path, damage: Callable[[bytes], bytes]
) -> None:
    """What a power loss can leave of an unsynced file: the ceiling says where to go on from."""
    guard = FileSyncGuard(tmp_path)
    ran(guard, 2)
    state_file = guard.files("app")[1]
    state_file.write_bytes(damage(state_file.read_bytes()))
    fresh = FileSyncGuard(tmp_path)  # as a new process after the reboot
    assert 1025 == fresh.run("app", lambda: None).generation
    assert FileGuardState("app", 1025, 1025, None, os.getpid()) == fresh.state("app")


@pytest.mark.parametrize("slotted", [True, False])
def test_a_durable_guard_refuses_a_whole_record_of_another_key(
    tmp_path: Path,
    slotted: bool,  # noqa: FBT001
) -> None:
    """Only a file with no whole record is started over: another key's record is refused."""
    guard = FileSyncGuard(tmp_path)
    ran(guard, 1)
    record = encode("other", 5, 5, None, 1)
    other = record_slot(record, size=256) + blank_slot(256) if slotted else record
    guard.files("app")[1].write_bytes(other)
    with pytest.raises(GuardStateCorrupt, match="format and key"):
        guard.run("app", lambda: None)


def test_a_whole_record_for_another_key_is_refused(tmp_path: Path) -> None:
    """A slot with a valid CRC but another key's record is a foreign file, not a torn one."""
    guard = FileSyncGuard(tmp_path)
    slot = record_slot(encode("other", 1, 1, None, 1), size=256)
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
    assert [(8, 6), (8, 8)] == fields(state_file)


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


# ----------------------------------------------------------- unlocked readers


def test_a_reader_without_the_lock_is_kept_out_of_a_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each in-place write holds an exclusive flock: a reader's shared flock waits it out."""
    guard = FileSyncGuard(tmp_path, durable=False)
    ran(guard, 1)
    state_file = guard.files("app")[1]
    shut_out: list[bool] = []
    real_write_at: Callable[[int, bytes, int], None] = _file_state._write_at

    def write_at(fd: int, data: bytes, offset: int) -> None:
        with state_file.open("rb") as file:  # as a reader in another process
            try:
                fcntl.flock(file, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                shut_out.append(True)
            else:
                shut_out.append(False)
        real_write_at(fd, data, offset)

    monkeypatch.setattr(_file_state, "_write_at", write_at)
    guard.run("app", lambda: None)
    assert [True, True] == shut_out  # the run's start and its end


def test_a_read_overtaken_by_two_writes_would_find_the_record_before_the_newest() -> None:
    """Why readers lock: slot 0 copied, then slot 1 mid-write: only an older record is whole."""
    size = 256
    slot = {
        g: record_slot(encode("app", g[0], g[1], None, 1), size=size)
        for g in ((2, 1), (2, 2), (3, 3))
    }
    newest_when_asked = slot[(2, 1)] + slot[(2, 2)]  # the newest, (2, 2), in slot 1
    copied_slot_0 = newest_when_asked[:size]  # copied before run 3's start lands in slot 0
    torn_slot_1 = slot[(3, 3)][:100] + slot[(2, 2)][100:]  # run 3's end, half written
    assert (2, 2, 1) == _triple(parse(newest_when_asked, "app", "s"))
    assert (2, 1, 1) == _triple(parse(copied_slot_0 + torn_slot_1, "app", "s"))


def test_a_slot_too_small_for_its_record_is_refused() -> None:
    """record_slot never truncates a record: a slot without room for it is a ValueError."""
    with pytest.raises(ValueError, match="does not fit a slot of 256"):
        record_slot(b"x" * 300, size=256)


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
    old = record_slot(encode("app", 1, 1, None, 1), size=256)
    new = record_slot(encode("app", 2, 1, None, 1), size=256)
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
    assert 2 == guard.run("app", lambda: None).generation  # read whole under the lock too


def test_a_failed_replace_leaves_the_old_file_and_no_fd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failed rename surfaces (behind a failed run's own error); no fd or temp file is left."""
    guard = FileSyncGuard(tmp_path, durable=False)
    ran(guard, 1)
    fds = open_fds()

    def fail(_source: str, _target: str) -> None:
        raise PermissionError(13, "denied")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(PermissionError):
        write_state(guard, tmp_path / "new.state", FileGuardState("new", 1, 0, None, 1))

    def fail_long() -> None:
        raise ValueError("z" * 600)  # its record outgrows the 256-byte slots: a new file

    with pytest.raises(ValueError, match="zzz") as failed:
        guard.run("app", fail_long)
    assert failed.value.__context__ is None  # its own, untouched by the failed write
    if sys.version_info >= (3, 11):
        assert [
            "app: the run's end was not recorded: PermissionError(13, 'denied')"
        ] == failed.value.__notes__
    monkeypatch.undo()
    assert fds == open_fds()
    assert [] == list(tmp_path.glob("*.tmp"))
    assert FileGuardState("app", 2, 1, None, os.getpid()) == guard.state("app")
    assert 3 == guard.run("app", lambda: None).generation


# ---------------------------------------------------------------- parse memo


def parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record the key of every state file the guard parses."""
    keys: list[str] = []
    real_parse: Callable[[bytes, str, str], Record] = parse

    def parse_(raw: bytes, key: str, path: str) -> Record:
        keys.append(key)
        return real_parse(raw, key, path)

    monkeypatch.setattr(_file_state, "parse", parse_)
    return keys


def test_a_guard_reads_back_what_it_wrote_without_parsing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bytes a guard left in a state file, read back unchanged, are not parsed again."""
    guard = FileSyncGuard(tmp_path, durable=False)
    ran(guard, 1)
    parsed = parses(monkeypatch)
    assert FileGuardState("app", 1, 1, None, os.getpid()) == guard.state("app")
    ran(guard, 2)
    assert FileGuardState("app", 3, 3, None, os.getpid()) == guard.state("app")
    assert [] == parsed


def test_a_state_file_changed_behind_the_guards_back_is_parsed_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another guard's run, a _write, or older bytes put back: the file is read, not the memo."""
    guard = FileSyncGuard(tmp_path, durable=False)
    other = FileSyncGuard(tmp_path, durable=False)  # as another process writes
    state_file = guard.files("app")[1]
    ran(guard, 1)
    parsed = parses(monkeypatch)
    pid = os.getpid()
    ran(other, 1)
    assert FileGuardState("app", 2, 2, None, pid) == guard.state("app")
    assert 3 == guard.run("app", lambda: None).generation
    write_state(other, state_file, FileGuardState("app", 7, 7, "OSError()", pid))
    assert FileGuardState("app", 7, 7, "OSError()", pid) == guard.state("app")
    earlier = state_file.read_bytes()
    assert 8 == guard.run("app", lambda: None).generation
    state_file.write_bytes(earlier)  # the same size, other bytes: what the guard left is gone
    parsed.clear()
    assert FileGuardState("app", 7, 7, "OSError()", pid) == guard.state("app")
    assert ["app"] == parsed
    assert 8 == guard.run("app", lambda: None).generation


def test_the_memo_keeps_the_64_state_files_written_last(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A guard remembers at most 64 state files: the one written longest ago is parsed again."""
    guard = FileSyncGuard(tmp_path, durable=False)
    keys = [f"app-{i}" for i in range(65)]
    for key in keys:
        ran(guard, 1, key)
    ran(guard, 1, keys[1])  # written again: now the newest
    parsed = parses(monkeypatch)
    assert 2 == guard.state(keys[1]).finished
    assert 1 == guard.state(keys[64]).finished
    assert [] == parsed
    assert 1 == guard.state(keys[0]).finished
    assert [keys[0]] == parsed
    assert 64 == len(guard._states.known)


def test_the_memo_changes_only_under_the_guards_mutex(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Threads running other keys share the memo: every change to it holds the guard's mutex."""
    guard = FileSyncGuard(tmp_path, durable=False)
    unguarded: list[str] = []

    class Watched(dict[str, tuple[bytes, Record]]):
        def __setitem__(self, path: str, value: tuple[bytes, Record]) -> None:
            if not guard._mutex.locked():
                unguarded.append(f"set {path}")
            super().__setitem__(path, value)

        def __delitem__(self, path: str) -> None:
            if not guard._mutex.locked():
                unguarded.append(f"del {path}")
            super().__delitem__(path)

    monkeypatch.setattr(guard._states, "known", Watched())
    monkeypatch.setattr(_file_state, "_KNOWN_MAX", 2)
    for key in ("a", "b", "c", "a"):
        ran(guard, 1, key)
    assert [] == unguarded
    assert 2 == len(guard._states.known)
