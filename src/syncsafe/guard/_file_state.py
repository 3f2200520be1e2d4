"""
A `FileSyncGuard` key's state file on disk: opened safely, read whole, written in place.

What the records in it say, and how its two slots are laid out, is
`syncsafe.guard._record`'s; this module owns how the file is read and
written. In place, not replaced by rename: the file has two fixed-size
slots, each blank or one JSON record followed by its CRC-32 (written in
JSON whitespace). A write puts the new record into the slot that does not
hold the newest one, which stays whole beside it; the newest record whose
CRC matches is the state. Why every reader sees one whole version, as a
rename would give:

- each in-place write holds an exclusive ``flock`` of the file, and a reader
  without the key's lock (a caller that found the key held, and
  [`FileSyncGuard.state`][syncsafe.guard.FileSyncGuard.state]) reads under a
  shared one. Without it, a read that copies slot 0 and then slot 1 while the
  second of two writes tears it finds only the record *before* the newest
  whole: older than the state the caller asked in, which could let a run that
  started before it asked serve it;
- a process killed in the middle of a write leaves a torn slot beside the
  previous record, which counts. A file is only ever created, or enlarged,
  by writing a new one in full and renaming it into place.

The file is never fsynced: what survives a power loss is the ceiling's
(`syncsafe.guard._ceiling`).
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
import threading
from typing import Final, final

from syncsafe._atomic import atomic_replace_open
from syncsafe.errors import GuardStateCorrupt
from syncsafe.guard import _holder
from syncsafe.guard._record import (
    SLOT_OVERHEAD,
    Record,
    blank_slot,
    encode,
    holds_a_record,
    parse,
    record_slot,
    slot_size_for,
    update,
)

if sys.platform != "win32":  # pragma: no branch - the state file is read and written under flock
    import fcntl

__all__ = ["UNKNOWN", "ZERO", "StateFiles", "open_state", "read_all"]

_READ_SIZE: Final = 1 << 16
_KNOWN_MAX: Final = 64  # state files whose content this guard last wrote, kept parsed

ZERO: Final = Record(0, 0, None, 0)
"""The state of a key no run ever started: no state file yet."""
UNKNOWN: Final = Record(sys.maxsize, sys.maxsize, None, 0)
"""A state no run can serve: what a waiter saw in a file that held no record."""


@final
class StateFiles:
    """
    The state files of one guard: read, parsed, written, and the last ones written, remembered.

    For the last state files this guard wrote, the bytes it left and their
    record: a run that finds the file as it was left needs no parse. The
    memo is shared by the threads running other keys, so it changes only
    under *mutex*, the guard's.
    """

    __slots__ = ("durable", "known", "mutex")

    def __init__(self, mutex: threading.Lock, *, durable: bool) -> None:
        self.mutex = mutex
        self.durable = durable
        self.known: dict[str, tuple[bytes, Record]] = {}

    def parse(self, raw: bytes, key: str, path: str, *, no_record: Record | None = None) -> Record:
        """
        The record in *raw*, the state file at *path*: not parsed again if this guard left it.

        A durable guard given *no_record* returns it for a file that holds no
        whole record. Never fsynced, the file can come back from a power loss
        empty, zeroed or torn in both slots, and a durable guard's ceiling is
        above every generation it handed out (none was, without one), so it
        can go on from there. A whole record that is wrong (another key's),
        and any damage without ``durable``, is
        [`GuardStateCorrupt`][syncsafe.errors.GuardStateCorrupt].
        """
        known = self.known.get(path)
        if known is not None and known[0] == raw:
            return known[1]
        try:
            return parse(raw, key, path)
        except GuardStateCorrupt:
            if no_record is None or not self.durable or holds_a_record(raw):
                raise
            return no_record

    def peek(self, key: str, path: str) -> Record:
        """
        The state file, read without the key's lock: as it was before or after a write.

        Under a shared ``flock`` of the file, which each in-place write holds
        exclusively: a read must not overlap a write. Without it a read that
        copies one slot, then the other while a second write tears it, finds
        only the record before the newest, whole: a state older than the one
        the caller asked in, which could let a run that started before the
        caller asked serve it.
        """
        fd = open_state(path, os.O_RDONLY)
        if fd is None:
            return ZERO
        try:
            # flock, not fcntl: it is held per open file, so it also excludes
            # a writer in another thread of this process.
            fcntl.flock(fd, fcntl.LOCK_SH)
            try:
                raw = read_all(fd)
            finally:
                # Unlocked before the close: a child forked meanwhile shares
                # the open file, and the close alone would leave it locked.
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
        # A file with no record: the holder of the lock starts it over.
        return self.parse(raw, key, path, no_record=UNKNOWN)

    def read_held(self, fd: int | None, key: str, path: str) -> tuple[bytes, Record]:
        """The bytes and the state of the state file open as *fd*, read holding the key's lock."""
        if fd is None:
            return b"", ZERO
        raw = os.pread(fd, _READ_SIZE, 0)
        if len(raw) == _READ_SIZE:  # a long error message: read it all
            raw = read_all(fd)
        # A file with no record goes on as after a record of no boot: above
        # the ceiling, and rewritten by this run.
        return raw, self.parse(raw, key, path, no_record=ZERO)

    def store(
        self,
        fd: int | None,
        raw: bytes,
        path: str,
        key: str,
        current: Record,
        *,
        fields: tuple[int, int, str | None, str, int],
        lock: tuple[int, int] = (0, 0),
    ) -> tuple[int, bytes, Record]:
        """
        Write *fields* as the newest record of the state file open as *fd*, holding *raw*.

        Returns the file's fd (a new one if the file was replaced), the
        bytes it now holds, and the record. Only the holder of the key's
        file lock writes; a start record names that file as *lock*.
        """
        started, finished, error, boot, reserved = fields
        pid, since = _holder.this_process()
        record = encode(
            key, started, finished, error, pid, boot=boot, reserved=reserved, lock=lock, since=since
        )
        size = current.slot_size
        if fd is not None and len(record) + SLOT_OVERHEAD <= size:  # in place, the usual case
            at, data = update(current, record)
            fcntl.flock(fd, fcntl.LOCK_EX)  # readers without the key's lock read around it
            try:
                _write_at(fd, data, at)
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
            raw = raw[:at] + data + raw[at + size :]
        else:
            size = max(size, slot_size_for(record))
            fd, raw = _replace(fd, path, record, size)
            at = 0
        index = at // size
        return (
            fd,
            raw,
            Record(started, finished, error, pid, boot, reserved, size, index, *lock, since),
        )

    def remember(self, path: str, raw: bytes, record: Record) -> None:
        """Keep *raw*, just written to the state file at *path*, and its *record*."""
        known = self.known
        with self.mutex:  # threads running other keys remember too: no iteration unguarded
            known.pop(path, None)
            if len(known) >= _KNOWN_MAX:  # the least recently written goes
                del known[next(iter(known))]
            known[path] = (raw, record)


def _replace(fd: int | None, path: str, record: bytes, size: int) -> tuple[int, bytes]:
    """
    Replace the state file (absent, unslotted or too small) by a new one: its fd and bytes.

    The new file is written in full and renamed into place, so no reader
    ever finds it partly written. Unlike every other whole-file
    replacement, not durable (no fsync of the file or its directory): the
    state file is never fsynced, and a power loss that takes it back is
    what the ceiling is for. Its descriptor stays open: the run goes on
    writing its records in place through it. A fixed temporary name: only
    the holder of the key's file lock writes.
    """
    raw = record_slot(record, size=size) + blank_slot(size)
    new = atomic_replace_open(path, raw, mode=0o644, temp=path + ".tmp", durable=False)
    if fd is not None:
        with contextlib.suppress(OSError):  # the old file is replaced: its close cannot matter
            os.close(fd)
    return new, raw


def open_state(path: str, flags: int = os.O_RDWR) -> int | None:
    """
    An fd of the state (or ceiling) file at *path*, or ``None`` if there is none yet.

    Opened without blocking and refused unless it is a regular file: a FIFO
    put in its place would otherwise block the open, or the read, for ever.

    :raises GuardStateCorrupt: *path* is not a regular file.
    """
    try:
        fd = os.open(path, flags | os.O_CLOEXEC | os.O_NONBLOCK)
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise GuardStateCorrupt(path, "a directory, not a guard's file") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        what = (
            "a FIFO"
            if stat.S_ISFIFO(mode)
            else "a directory"
            if stat.S_ISDIR(mode)
            else "not a regular file"
        )
        raise GuardStateCorrupt(path, f"{what}, not a guard's file: remove it")
    return fd


def read_all(fd: int) -> bytes:
    """All the bytes of the file open as *fd*, read with ``pread`` from its start."""
    chunks: list[bytes] = []
    while True:
        chunk = os.pread(fd, _READ_SIZE, _READ_SIZE * len(chunks))
        chunks.append(chunk)
        if len(chunk) < _READ_SIZE:
            return b"".join(chunks)


def _write_at(fd: int, data: bytes, offset: int) -> None:
    written = os.pwrite(fd, data, offset)
    if written != len(data):  # pragma: no cover - a regular file takes a whole small write
        msg = f"short write to a guard state file: {written} of {len(data)} bytes"
        raise OSError(msg)
