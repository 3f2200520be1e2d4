r"""
The bytes of a ``FileSyncGuard`` state file: two checksummed JSON slots.

A state file is ``2 * size`` bytes: slot 0 at offset 0, slot 1 at offset
``size`` (``size`` a power of two, at least 256). A slot is either blank
(``size - 1`` spaces and a newline) or one record:

    {"format": 3, "key": ..., "started": g, "finished": f, "error": ..., "pid": p,
     "boot": ..., "reserved": r, "lock": [dev, ino], "since": t}
    <33 spaces and tabs: a flag bit and the CRC-32>  <spaces>  \n

The record is the JSON object; the 33 characters right after its closing
brace are the check, one bit each (space 0, tab 1), most significant first:
a flag (unused since format 2, written 0) and the CRC-32 of the record's
bytes followed by the flag as one byte. Spaces and tabs are JSON whitespace,
so each slot's record reads with any JSON reader. A slot is valid only if its
check matches: a slot caught half written, by a crash, fails it and is
ignored.

The newest valid slot is the state: records are ordered by
``(started, finished)``, which every write increases. A writer writes the new
record into the slot that does not hold the newest record, which stays
whole beside it as the previous one, so the newest record is never
overwritten until a newer one is complete.

A file that does not end with a newline is read as one JSON object with no
check: the earlier format (one record, replaced whole by rename), which the
next write turns into the slotted one, or a foreign file, refused with what
is wrong with it.
"""

from __future__ import annotations

import json
import zlib
from typing import Final, NamedTuple

from syncsafe.errors import GuardStateCorrupt

__all__ = [
    "FORMAT",
    "SLOT_OVERHEAD",
    "Record",
    "blank_slot",
    "encode",
    "holds_a_record",
    "parse",
    "record_slot",
    "slot_size_for",
    "update",
]

FORMAT: Final = 3
_HOLDER_SINCE: Final = 3  # the first format that names the writer's lock file and start time
_FORMATS: Final = frozenset({1, 2, 3})  # 1 lacks "boot" and "reserved"; 2, "lock" and "since"
_CHECK_BITS: Final = 33
_MIN_SLOT: Final = 256
_DECODER: Final = json.JSONDecoder()
_ENCODE_STRING: Final = json.encoder.encode_basestring_ascii
_TO_CHECK: Final = bytes.maketrans(b"01", b" \t")
_FLAG_0: Final = b"\0"
_FROM_CHECK: Final = bytes.maketrans(b" \t", b"01")


class Record(NamedTuple):
    """
    What a state file holds, and where: enough for the next write to pick its slot.

    A named tuple rather than an attrs class: a run makes two, and in the
    guard's benchmark an attrs instance cost a tenth of the time the guard
    adds to a bare file lock.
    """

    started: int
    finished: int
    error: str | None
    pid: int
    boot: str = ""
    """The boot of the machine in which the record was written; empty if it could not be told."""
    reserved: int = 0
    """The newest ceiling a durable guard reserved on disk, as known when written; 0 for none."""
    slot_size: int = 0
    """The size of each of the file's two slots; 0 if the file is not in the slotted format."""
    newest: int = 0
    """The slot holding this record (0 or 1)."""
    lock_dev: int = 0
    """With ``lock_ino``: the lock file its writer held (``st_dev``, ``st_ino``); 0 for unknown."""
    lock_ino: int = 0
    since: int = 0
    """When the writer ``pid`` started (``/proc/<pid>/stat`` field 22); 0 if unknown."""


_TEMPLATE: Final = (
    b'{"format": %d, "key": %s, "started": %d, "finished": %d, "error": %s, "pid": %d, '
    b'"boot": %s, "reserved": %d, "lock": [%d, %d], "since": %d}'
)


def encode(
    key: str,
    started: int,
    finished: int,
    error: str | None,
    pid: int,
    *,
    boot: str = "",
    reserved: int = 0,
    lock: tuple[int, int] = (0, 0),
    since: int = 0,
) -> bytes:
    """The JSON bytes of a record (ASCII, so a byte offset is a character offset)."""
    # What json.dumps makes of the dict, built directly: this runs twice a run.
    error_ = b"null" if error is None else _ENCODE_STRING(error).encode("ascii")
    key_, boot_ = _ENCODE_STRING(key).encode("ascii"), _ENCODE_STRING(boot).encode("ascii")
    return _TEMPLATE % (FORMAT, key_, started, finished, error_, pid, boot_, reserved, *lock, since)


SLOT_OVERHEAD: Final = _CHECK_BITS + 2
"""What a slot holds besides its record: the check, at least one space, the newline."""


def slot_size_for(record: bytes) -> int:
    """The smallest slot size (a power of two, at least 256) that holds *record*."""
    need = len(record) + SLOT_OVERHEAD
    size = _MIN_SLOT
    while size < need:
        size *= 2
    return size


def record_slot(record: bytes, *, size: int) -> bytes:
    """One slot of *size* bytes holding *record* and its check (flag 0)."""
    crc = zlib.crc32(_FLAG_0, zlib.crc32(record))  # the CRC of the record, then the flag byte
    checked = record + f"{crc:033b}".encode("ascii").translate(_TO_CHECK)
    if len(checked) + 2 > size:  # at least one space of padding, and the newline
        msg = f"a record of {len(record)} bytes does not fit a slot of {size}"
        raise ValueError(msg)
    return checked.ljust(size - 1) + b"\n"


def blank_slot(size: int) -> bytes:
    """One empty slot of *size* bytes."""
    return b" " * (size - 1) + b"\n"


def update(current: Record, record: bytes) -> tuple[int, bytes]:
    """
    The write that makes *record* the newest of a slotted file holding *current*.

    ``(offset, data)``: the new record into the slot that does not hold
    *current*, which stays whole beside it as the previous record.
    """
    size = current.slot_size
    return (1 - current.newest) * size, record_slot(record, size=size)


def parse(raw: bytes, key: str, path: str) -> Record:
    """
    The newest valid record in *raw*, the bytes of *key*'s state file at *path*.

    Raises [`GuardStateCorrupt`][syncsafe.errors.GuardStateCorrupt] if no slot holds a valid
    record, if the file is not in the slotted format and not one JSON
    record, or if a valid record is not *key*'s.
    """
    if not raw.endswith(b"\n"):
        return _parse_unslotted(raw, key, path)
    size = len(raw) // 2
    if len(raw) % 2 or size < _MIN_SLOT or size & (size - 1):
        raise GuardStateCorrupt(path, f"unreadable (a slotted file of {len(raw)} bytes)")
    best: Record | None = None
    for index in (0, 1):
        found = _parse_slot(raw[index * size : (index + 1) * size], key, path, size, index)
        if found is not None and (
            best is None or (found.started, found.finished) > (best.started, best.finished)
        ):
            best = found
    if best is None:  # never written so: both slots torn, or not a guard's file
        raise GuardStateCorrupt(path, "unreadable (no slot holds a complete record)")
    return best


def holds_a_record(raw: bytes) -> bool:
    """
    Whether *raw*, a state file's bytes, holds one whole record, of whatever key.

    A foreign file, or a record that is whole but wrong, does; a file a power
    loss left empty, full of zeros or torn in every slot does not.
    """
    if not raw.endswith(b"\n"):
        try:
            json.loads(raw)
        except ValueError:
            return False
        return True
    size = len(raw) // 2
    if len(raw) % 2 or size < _MIN_SLOT or size & (size - 1):
        return False
    return any(_whole(raw[index * size : (index + 1) * size]) for index in (0, 1))


def _whole(slot: bytes) -> int:
    """Where the record in *slot* ends, if its check matches; else 0 (blank or torn)."""
    if not slot.startswith(b"{"):
        return 0
    # The check and the padding hold no brace, so a whole record ends at the
    # slot's last one; the CRC is checked before any JSON is decoded, so torn
    # bytes never reach the decoder.
    end = slot.rfind(b"}") + 1
    check = slot[end : end + _CHECK_BITS]
    padding = slot[end + _CHECK_BITS :]  # spaces, then the newline
    if len(check) != _CHECK_BITS or check.strip(b" \t") or padding.lstrip(b" ") != b"\n":
        return 0
    value = int(check.translate(_FROM_CHECK), 2)
    if value & 0xFFFFFFFF != zlib.crc32(slot[:end] + bytes((value >> 32,))):
        return 0
    return end


def _parse_slot(slot: bytes, key: str, path: str, size: int, index: int) -> Record | None:
    """The record in *slot*, or ``None`` if the slot is blank or its check fails."""
    end = _whole(slot)
    if not end:
        return None
    try:
        data = _DECODER.decode(slot[:end].decode("ascii"))
    except ValueError:  # pragma: no cover - a CRC-valid slot holds the JSON it was made from
        return None
    return _record(data, key, path, size, index)


def _parse_unslotted(raw: bytes, key: str, path: str) -> Record:
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise GuardStateCorrupt(path, f"unreadable ({exc!r})") from exc
    return _record(data, key, path, 0, 0)


def _record(data: object, key: str, path: str, size: int, index: int) -> Record:
    """The checked fields of one decoded record, as the record in slot *index* of *size* bytes."""
    try:
        fields = (data["format"], data["key"])  # type: ignore[index]
        started, finished, error, pid = (
            data["started"],  # type: ignore[index]
            data["finished"],  # type: ignore[index]
            data["error"],  # type: ignore[index]
            data["pid"],  # type: ignore[index]
        )
        if type(fields[0]) is not int or fields[0] not in _FORMATS or fields[1] != key:
            msg = f"format and key are {fields!r}, not {(FORMAT, key)!r}"
            raise GuardStateCorrupt(path, msg)
        boot, reserved = (
            ("", 0) if fields[0] == 1 else (data["boot"], data["reserved"])  # type: ignore[index]
        )
        lock, since = (
            ([0, 0], 0) if fields[0] < _HOLDER_SINCE else (data["lock"], data["since"])  # type: ignore[index]
        )
    except (KeyError, TypeError) as exc:
        raise GuardStateCorrupt(path, f"unreadable ({exc!r})") from exc
    integers = type(started) is int and type(finished) is int and type(pid) is int
    if not integers or not (0 <= finished <= started):
        raise GuardStateCorrupt(path, "started >= finished >= 0 must be integers")
    if error is not None and not isinstance(error, str):
        raise GuardStateCorrupt(path, "error must be a string or null")
    if not isinstance(boot, str) or type(reserved) is not int or reserved < 0:
        raise GuardStateCorrupt(path, "boot must be a string and reserved an integer >= 0")
    if (
        type(lock) is not list
        or len(lock) != 2  # noqa: PLR2004 - st_dev and st_ino
        or not all(type(n) is int and n >= 0 for n in lock)
        or type(since) is not int
        or since < 0
    ):
        raise GuardStateCorrupt(path, "lock must be two integers >= 0 and since an integer >= 0")
    return Record(
        started, finished, error, pid, boot, reserved, size, index, lock[0], lock[1], since
    )
