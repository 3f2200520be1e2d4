"""
A `FileSyncGuard` key's durable generation ceiling: what no power loss takes back.

The state file is never fsynced: a power loss can take it back to any
earlier version, take it away, or leave it empty, zeroed or torn in both
slots. With ``durable``, generations survive that anyway, the way database
sequences do: a run hands out a generation only below a ceiling that is on
disk, in the ceiling file (``<stem>.ceiling``, replaced whole by an fsynced
rename), reserved a block of `RESERVE` at a time, so one run in `RESERVE`
pays for an fsync. Each record says in which boot of the machine (Linux's
``boot_id``, `syncsafe.guard._holder`) its generation was handed out. A
power loss is a reboot, so a record of this boot is taken as the truth, and
a record of another boot (or of no known boot) may be stale: the next
generation is taken from above the ceiling instead, and a file with no whole
record is started over from there. Where the boot cannot be told, every
durable run reserves its own generation (an fsync per run). A guard that is
not durable reserves nothing but reads the ceiling after a reboot too, so it
never hands out a generation a durable one did; its own generations are only
promised within a boot.

The assumption under "a record of this boot is the truth": within one boot
the page cache loses no write. That fails on a write-back error (the page is
dropped and the disk's older block read again) and on a volume detached
while the machine runs; neither is detected.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Final

from syncsafe._atomic import atomic_replace
from syncsafe.errors import GuardStateCorrupt
from syncsafe.guard import _holder
from syncsafe.guard._file_state import open_state, read_all

if TYPE_CHECKING:
    from syncsafe.guard._record import Record

__all__ = ["RESERVE", "next_generation"]

RESERVE: Final = 1024
"""How many generations a durable `FileSyncGuard` reserves on disk at a time."""


def next_generation(key: str, base: str, state: Record, *, durable: bool) -> tuple[int, str, int]:
    """
    The generation of a run starting after *state*, the boot, and the ceiling that covers it.

    The next one if the newest record is of this boot and, for a *durable*
    guard, below its ceiling. Else (a record of another boot, or of no
    known boot, may have lost writes) the next above both the record and
    the ceiling file (``<base>.ceiling``), whichever guard wrote them; a
    durable guard then reserves a new block on disk before the run, a guard
    that is not durable only reads the ceiling, so that it never hands out a
    generation a durable one already did.
    """
    boot = _holder.boot_id()
    this_boot = bool(boot) and state.boot == boot
    if not durable:
        if this_boot:
            return state.started + 1, boot, state.reserved
        floor = max(state.started, _read_ceiling(key, base + ".ceiling"))
        return floor + 1, boot, state.reserved
    if this_boot and state.started < state.reserved:
        return state.started + 1, boot, state.reserved
    floor = state.started
    if not this_boot:
        floor = max(floor, _read_ceiling(key, base + ".ceiling"))
    generation = floor + 1
    reserved = generation + RESERVE - 1 if boot else generation
    _write_ceiling(key, base + ".ceiling", reserved)
    return generation, boot, reserved


def _read_ceiling(key: str, path: str) -> int:
    """The ceiling file's reserved generation; 0 if there is none."""
    fd = open_state(path, os.O_RDONLY)
    if fd is None:
        return 0
    try:
        raw = read_all(fd)
    finally:
        os.close(fd)
    try:
        data = json.loads(raw)
        fields = (data["format"], data["key"])
        reserved = data["reserved"]
    except (ValueError, KeyError, TypeError) as exc:
        raise GuardStateCorrupt(path, f"unreadable ({exc!r})") from exc
    if (
        fields != (1, key)
        or type(fields[0]) is not int
        or type(reserved) is not int
        or reserved < 0
    ):
        msg = f"not the ceiling of key {key!r} (format 1, reserved an integer >= 0)"
        raise GuardStateCorrupt(path, msg)
    return reserved


def _write_ceiling(key: str, path: str, reserved: int) -> None:
    """Put *reserved* on disk as *key*'s ceiling: a new file, fsynced, renamed, dir fsynced."""
    data = json.dumps({"format": 1, "key": key, "reserved": reserved}) + "\n"
    # A fixed temporary name: one writer at a time, under the key's lock.
    atomic_replace(path, data.encode("ascii"), mode=0o644, temp=path + ".tmp")
