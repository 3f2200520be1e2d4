"""
The cross-process front end: a file lock and a small state file per key.

How it decides, for one key, with ``L`` its lock file and ``S`` its state
file, whose newest record is ``{"started": g, "finished": f, "error": ...}``:

1. A caller first takes the key's in-process lock (one thread of this
   process at a time reaches the file lock), then ``L`` through a new
   ``filelock.FileLock`` of its own. If either is taken, it first reads ``S``
   without the lock: ``seen.started`` is the newest run that had started when
   it asked.
2. Holding ``L`` it reads ``S`` again. Under ``"coalesce"``, if a run newer
   than ``seen.started`` has finished (``finished > seen.started``), that run
   started after this caller asked: the caller is served and returns without
   running again. Otherwise it runs: it writes ``started = g + 1`` (with
   ``durable``, below a ceiling on disk: see below), calls the function,
   writes ``finished = g + 1`` and releases ``L``.
3. A process killed while it runs leaves ``started > finished``. The OS
   releases ``L`` with the process; the next caller finds no newer finished
   run, so it runs, with generation ``g + 2``.

No request counter is written when a caller arrives: that would need ``L``,
which the run in flight holds. The generation that had started when the
caller asked is its ticket; comparing it with the newest finished run under
``L`` gives the same answer a counter would.

How ``S`` is written (the format: :mod:`syncsafe.guard._record`): in place,
not replaced by rename. ``S`` has two fixed-size slots, each blank or one
JSON record followed by its CRC-32 (written in JSON whitespace). A write puts
the new record into the slot that does not hold the newest one, which stays
whole beside it; the newest record whose CRC matches is the state. Why every
reader sees one whole version, as a rename would give:

- each in-place write holds an exclusive ``flock`` of ``S``, and a reader
  without ``L`` (step 1, and :meth:`FileSyncGuard.state`) reads under a
  shared one. Without it, a read that copies slot 0 and then slot 1 while
  the second of two writes tears it finds only the record *before* the
  newest whole: older than the state the caller asked in, which could let a
  run that started before it asked serve it;
- a process killed in the middle of a write leaves a torn slot beside the
  previous record, which counts. A file is only ever created, or enlarged,
  by writing a new one in full and renaming it into place.

``S`` is never fsynced: a power loss can take it back to any earlier
version, take it away, or leave it empty, zeroed or torn in both slots. With
``durable``, generations survive that anyway, the way database sequences do:
a run hands out a generation only below a ceiling that is on disk, in ``C``
(``<stem>.ceiling``, replaced whole by an fsynced rename), reserved a block
of :data:`RESERVE` at a time, so one run in :data:`RESERVE` pays for an
fsync. Each record says in which boot of the machine (Linux's ``boot_id``)
its generation was handed out. A power loss is a reboot, so a record of this
boot is taken as the truth, and a record of another boot (or of no known
boot) may be stale: the next generation is taken from above the ceiling
instead, and a file with no whole record is started over from there. Where
the boot cannot be told, every durable run reserves its own generation (an
fsync per run). A guard that is not durable reserves nothing but reads the
ceiling after a reboot too, so it never hands out a generation a durable
one did; its own generations are only promised within a boot.

The assumption under "a record of this boot is the truth": within one boot
the page cache loses no write. That fails on a write-back error (the page is
dropped and the disk's older block read again) and on a volume detached
while the machine runs; neither is detected.

A value cannot cross processes: a caller served by a run in another process
gets ``Outcome(value=None, remote=True)``, or :class:`~syncsafe.SyncFailed`
with the other process's error as text.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import re
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Final, TypeVar, final

import attrs
from filelock import FileLock, Timeout

from syncsafe.errors import (
    GuardStateCorrupt,
    ReentrantSync,
    SyncFailed,
    SyncInProgress,
    SyncTimeout,
)
from syncsafe.guard._machine import Policy, _checked, _validate_policy
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
from syncsafe.guard._values import GuardStatistics, Outcome

if sys.platform != "win32":  # pragma: no branch - the state file is read and written under flock
    import fcntl

__all__ = ["RESERVE", "FileGuardState", "FileSyncGuard", "key_file_stem"]

T = TypeVar("T")

_READ_SIZE: Final = 1 << 16
RESERVE: Final = 1024
"""How many generations a durable :class:`FileSyncGuard` reserves on disk at a time."""
_KNOWN_MAX: Final = 64  # state files whose content this guard last wrote, kept parsed
_STEM_MAX: Final = 48
_UNSAFE: Final = re.compile(r"[^A-Za-z0-9_.-]+")


def key_file_stem(key: str) -> str:
    """
    A file name stem for *key* that is safe on every filesystem, for any key.

    A readable part (the key with anything but ``A-Za-z0-9_.-`` replaced by
    ``_``, no leading dot, at most 48 characters) and a hash of the exact key,
    so that keys that differ only in case, in dropped characters or after the
    48th character never share a file.
    """
    readable = _UNSAFE.sub("_", key)[:_STEM_MAX].lstrip(".") or "key"
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:20]
    return f"{readable}-{digest}"


# A run names its files once; the hash need not be taken again for a key in use.
_stem: Final = functools.lru_cache(maxsize=256)(key_file_stem)
_BOOT_ID: Final = "/proc/sys/kernel/random/boot_id"


@functools.cache
def _boot_id() -> str:
    """This boot of the machine (Linux's ``boot_id``), or ``""`` where it cannot be told."""
    try:
        with open(_BOOT_ID, encoding="ascii") as file:  # noqa: PTH123 - one small read
            return file.read().strip()
    except (OSError, ValueError):
        return ""


@final
@attrs.frozen
class FileGuardState:
    """
    One key's ``FileSyncGuard`` state file, as :meth:`FileSyncGuard.state` reads it.

    .. versionadded:: 0.1.0
    """

    key: str
    started: int = 0
    """The generation of the newest run that started (the last generation handed out)."""
    finished: int = 0
    """The generation of the newest run that ended; below ``started`` while one runs or died."""
    error: str | None = None
    """What the run ``finished`` raised, as text; ``None`` if it returned."""
    pid: int = 0
    """The process that started or ended the newest run."""


@final
class _Entry:
    """The in-process side of one key: who waits, who runs, and the last local result."""

    __slots__ = ("last", "lock", "runner", "users")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.users = 0
        self.runner: int | None = None
        self.last: tuple[int, object, BaseException | None] | None = None


@final
class _Counts:
    """A guard's counters, changed under its mutex."""

    __slots__ = ("coalesced", "rejected", "runs", "timed_out")

    def __init__(self) -> None:
        self.runs = 0
        self.coalesced = 0
        self.rejected = 0
        self.timed_out = 0


@final
@attrs.define(eq=False)
class FileSyncGuard:
    """
    :class:`~syncsafe.SyncGuard`'s semantics across the processes of one host.

    Each key has a lock file and a state file in *directory* (see
    :meth:`files`), whose names are safe for any key: a readable part and a
    hash of the exact key. The lock is a ``filelock.FileLock`` (an OS lock:
    released by the OS when its process dies, so a process killed mid-run
    never leaves the key stuck). The state file holds two checksummed JSON
    records, of which a write replaces the older in place (the format is
    described under "The state file" in the reference), so that no reader,
    and no crash, ever sees half of one; with *durable*, a third file holds
    the ceiling of the generations handed out.

    Unlike a bare ``FileLock`` per key, a caller that waited while another
    process ran a sync that started after it asked returns without running
    again (``"coalesce"``). Two ``filelock`` traps are avoided by design: the
    guard takes an in-process lock per key before the file lock (a ``FileLock``
    shared between threads with ``thread_local=False`` excludes nothing between
    them) and makes a new ``FileLock`` for every acquisition (so no lock object
    is ever shared, by threads or by asyncio tasks). POSIX only.

    ``FileSyncGuard(directory, policy="coalesce", *, durable=True)``: the
    *directory* is created if missing; *policy* is as for
    :class:`~syncsafe.SyncGuard`; *durable* keeps a generation from being
    handed out twice even across a power loss, by reserving generations on
    disk (fsynced) in blocks of :data:`RESERVE`; after a reboot they resume
    above the last block, so they skip numbers but never repeat. Without it
    a killed process still never corrupts the state, but a power loss can
    bring back an earlier generation.

    ``Outcome.value`` is ``None`` (and ``Outcome.remote`` true) for a caller
    served by a run in another process; ``Outcome.shared_with`` is 0, since
    callers in other processes are not counted. ``max_concurrent`` has no
    cross-process equivalent here.

    .. versionadded:: 0.1.0
    """

    directory: Path = attrs.field(converter=Path, on_setattr=attrs.setters.frozen)
    """Where the lock and state files live."""
    policy: Policy = attrs.field(
        default="coalesce", validator=_validate_policy, on_setattr=attrs.setters.frozen
    )
    """The policy of calls that do not name one."""
    durable: bool = attrs.field(default=True, kw_only=True, on_setattr=attrs.setters.frozen)
    """Whether generations are reserved on disk, so that none repeats after a power loss."""
    _dir: str = attrs.field(init=False, repr=False, default="")
    _mutex: threading.Lock = attrs.field(init=False, repr=False, factory=threading.Lock)
    _entries: dict[str, _Entry] = attrs.field(init=False, repr=False, factory=dict)
    # Mutable, and not an attrs field of its own: a run counts without
    # going through the class's frozen-field check on every assignment.
    _counts: _Counts = attrs.field(init=False, repr=False, factory=_Counts)
    # For the last state files this guard wrote: the bytes it left and their
    # record. A run that finds the file as it was left needs no parse.
    _known: dict[str, tuple[bytes, Record]] = attrs.field(init=False, repr=False, factory=dict)
    # Called with the key when a caller is about to block on a lock; lets
    # tests order threads and processes without sleeping.
    _waiting_hook: Callable[[str], None] | None = attrs.field(init=False, repr=False, default=None)

    def __attrs_post_init__(self) -> None:
        if sys.platform == "win32":  # pragma: no cover
            msg = "FileSyncGuard needs a POSIX system: it uses flock(2) and pwrite(2)"
            raise NotImplementedError(msg)
        # Absolute, so that a later chdir cannot point the guard at other files.
        self._dir = os.fspath(self.directory.absolute())  # not normalised: "link/.." as the OS
        where = Path(self._dir)
        made = [d for d in (where, *where.parents) if not d.exists()]
        where.mkdir(parents=True, exist_ok=True)
        if self.durable:  # a ceiling is no safer than the names of the directories it is in
            for directory in reversed(made or [where]):  # made now, or by anyone before
                _fsync_directory(os.fspath(directory.parent))

    def run(
        self,
        key: str,
        fn: Callable[[], T],
        *,
        timeout: float | None = None,
        policy: Policy | None = None,
    ) -> Outcome[T | None]:
        """
        Run *fn* for *key*, or be served by a run in this or another process.

        The contract of :meth:`syncsafe.SyncGuard.run`, across processes. The
        re-entry check (a run calling ``run`` for its own key) covers this
        process; *timeout* covers the wait for the in-process lock and the
        file lock together.
        """
        given: object = key
        if not isinstance(given, str):
            msg = f"key {key!r}: a FileSyncGuard key must be a str"
            raise TypeError(msg)
        policy_ = self.policy if policy is None else _checked(policy)
        deadline = None if timeout is None else time.monotonic() + timeout
        me = threading.get_ident()
        with self._mutex:
            entry = self._entries.get(key)
            if entry is None:
                entry = self._entries[key] = _Entry()
            if entry.runner == me:
                self._release_entry(key, entry)
                raise ReentrantSync(key)
            entry.users += 1
        try:
            return self._run(key, entry, fn, policy=policy_, deadline=deadline, timeout=timeout)
        finally:
            with self._mutex:
                entry.users -= 1
                self._release_entry(key, entry)

    def files(self, key: str) -> tuple[Path, Path, Path]:
        """
        The lock file, the state file and the ceiling file of *key*, named by a hash of the key.

        The ceiling file exists once a durable guard has run *key*.
        """
        return self._path(key, ".lock"), self._path(key, ".state"), self._path(key, ".ceiling")

    def state(self, key: str) -> FileGuardState:
        """
        The state file of *key* as it is now (all zeros if no run ever started).

        Also all zeros, for a durable guard, if the file holds no record (as a
        power loss can leave it) until the next run starts it over.
        """
        return self._read(key, self._path(key, ".state"))

    def statistics(self) -> GuardStatistics:
        """A frozen snapshot of this guard's counters and of its callers in this process."""
        with self._mutex:
            running = sum(1 for e in self._entries.values() if e.runner is not None)
            users = sum(e.users for e in self._entries.values())
            return GuardStatistics(
                runs=self._counts.runs,
                coalesced=self._counts.coalesced,
                rejected=self._counts.rejected,
                timed_out=self._counts.timed_out,
                in_flight=running,
                waiting=users - running,
                keys=len(self._entries),
            )

    # -------------------------------------------------------------- internals

    def _release_entry(self, key: str, entry: _Entry) -> None:
        if entry.users == 0 and entry.runner is None:
            del self._entries[key]

    def _path(self, key: str, suffix: str) -> Path:
        return Path(self._dir, _stem(key) + suffix)

    def _run(
        self,
        key: str,
        entry: _Entry,
        fn: Callable[[], T],
        *,
        policy: str,
        deadline: float | None,
        timeout: float | None,
    ) -> Outcome[T | None]:
        # seen: the state when this caller asked, if it had to wait; _UNKNOWN
        # if the file held no record then, and no run may serve the caller.
        base = f"{self._dir}/{_stem(key)}"
        state_path = base + ".state"
        seen: Record | None = None
        if not entry.lock.acquire(blocking=False):
            seen = self._peek(key, state_path)
            if policy == "reject":
                self._count_rejected()
                raise SyncInProgress(key, 0 if seen is _UNKNOWN else seen.started)
            self._about_to_wait(key)
            if not entry.lock.acquire(timeout=_remaining(deadline)):
                self._count_timed_out()
                raise SyncTimeout(key, timeout or 0.0)
        try:
            # A new FileLock for every acquisition: an instance shared between
            # threads or tasks is re-entrant for all of them, so it would let
            # them all in. This one never leaves this call, so its context
            # need not be thread-local (thread_local=False is a trap only for
            # a shared instance, and it is the cheaper context).
            lock = FileLock(base + ".lock", thread_local=False)
            try:
                lock.acquire(timeout=0)
            except Timeout:
                if seen is None:
                    seen = self._peek(key, state_path)
                if policy == "reject":
                    self._count_rejected()
                    raise SyncInProgress(key, 0 if seen is _UNKNOWN else seen.started) from None
                self._about_to_wait(key)
                try:
                    lock.acquire(timeout=_remaining(deadline))
                except Timeout:
                    self._count_timed_out()
                    raise SyncTimeout(key, timeout or 0.0) from None
            try:
                return self._locked(key, entry, fn, policy=policy, seen=seen, base=base)
            finally:
                lock.release()
        finally:
            entry.lock.release()

    def _locked(
        self,
        key: str,
        entry: _Entry,
        fn: Callable[[], T],
        *,
        policy: str,
        seen: Record | None,
        base: str,
    ) -> Outcome[T | None]:
        path = base + ".state"
        fd = _open_state(path)
        try:
            raw, state = self._read_held(fd, key, path)
            if seen is not None:
                # share: the run in flight when this caller asked will do; coalesce: a later one.
                in_flight = policy == "share" and seen.started > seen.finished
                if state.finished >= seen.started + (0 if in_flight else 1):
                    return self._served(key, entry, state, fresh=state.finished > seen.started)
            generation, boot, reserved = self._next_generation(key, base, state)
            start = (generation, state.finished, state.error, boot, reserved)
            fd, raw, state = self._store(fd, raw, path, key, state, fields=start)
            with self._mutex:
                self._counts.runs += 1
            entry.runner = threading.get_ident()
            try:
                value = fn()
            except BaseException as exc:
                entry.runner = None
                entry.last = (generation, None, exc)
                end: tuple[int, int, str | None, str, int]
                end = (generation, generation, repr(exc), boot, reserved)
                try:
                    fd, raw, state = self._store(fd, raw, path, key, state, fields=end)
                except Exception as write_error:  # noqa: BLE001 - the run's own error goes on
                    # The start record stays the newest: the next caller runs again.
                    if hasattr(exc, "add_note"):  # pragma: no branch - Python 3.11 and later
                        exc.add_note(f"{key}: the run's end was not recorded: {write_error!r}")
                else:
                    self._remember(path, raw, state)
                raise
            entry.runner = None
            entry.last = (generation, value, None)
            end = (generation, generation, None, boot, reserved)
            fd, raw, state = self._store(fd, raw, path, key, state, fields=end)
            self._remember(path, raw, state)
            return Outcome(value, generation, True, True, 0)  # noqa: FBT003
        finally:
            if fd is not None:
                os.close(fd)

    def _read_held(self, fd: int | None, key: str, path: str) -> tuple[bytes, Record]:
        """The bytes and the state of the state file open as *fd*, read holding the key's lock."""
        if fd is None:
            return b"", _ZERO
        raw = os.pread(fd, _READ_SIZE, 0)
        if len(raw) == _READ_SIZE:  # a long error message: read it all
            raw = _read_all(fd)
        # A file with no record goes on as after a record of no boot: above
        # the ceiling, and rewritten by this run.
        return raw, self._parse(raw, key, path, no_record=_ZERO)

    def _next_generation(self, key: str, base: str, state: Record) -> tuple[int, str, int]:
        """
        The generation of a run starting after *state*, the boot, and the ceiling that covers it.

        The next one if the newest record is of this boot and, for a durable
        guard, below its ceiling. Else (a record of another boot, or of no
        known boot, may have lost writes) the next above both the record and
        the ceiling file, whichever guard wrote them; a durable guard then
        reserves a new block on disk before the run, a guard that is not
        durable only reads the ceiling, so that it never hands out a
        generation a durable one already did.
        """
        boot = _boot_id()
        this_boot = bool(boot) and state.boot == boot
        if not self.durable:
            if this_boot:
                return state.started + 1, boot, state.reserved
            floor = max(state.started, self._read_ceiling(key, base + ".ceiling"))
            return floor + 1, boot, state.reserved
        if this_boot and state.started < state.reserved:
            return state.started + 1, boot, state.reserved
        floor = state.started
        if not this_boot:
            floor = max(floor, self._read_ceiling(key, base + ".ceiling"))
        generation = floor + 1
        reserved = generation + RESERVE - 1 if boot else generation
        self._write_ceiling(key, base + ".ceiling", reserved)
        return generation, boot, reserved

    def _read_ceiling(self, key: str, path: str) -> int:
        """The ceiling file's reserved generation; 0 if there is none."""
        try:
            raw = Path(path).read_bytes()
        except FileNotFoundError:
            return 0
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

    def _write_ceiling(self, key: str, path: str, reserved: int) -> None:
        """Put *reserved* on disk as *key*'s ceiling: a new file, fsynced, renamed, dir fsynced."""
        data = json.dumps({"format": 1, "key": key, "reserved": reserved}) + "\n"
        temp = path + ".tmp"  # one writer at a time; a leftover from a killed one is truncated
        new = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
        try:
            try:
                _write_at(new, data.encode("ascii"), 0)
                os.fsync(new)
            finally:
                os.close(new)
            os.replace(temp, path)  # noqa: PTH105 - str paths, built once
        except BaseException:
            _unlink_quietly(temp)
            raise
        self._sync_directory()

    def _served(self, key: str, entry: _Entry, state: Record, *, fresh: bool) -> Outcome[T | None]:
        with self._mutex:
            self._counts.coalesced += 1
        last = entry.last
        local = last is not None and last[0] == state.finished
        if state.error is not None:
            cause = last[2] if last is not None and local else None
            raise SyncFailed(key, state.finished, state.error) from cause
        value: T | None = last[1] if last is not None and local else None  # type: ignore[assignment]
        return Outcome(value, state.finished, False, fresh, 0, remote=not local)  # noqa: FBT003

    def _parse(self, raw: bytes, key: str, path: str, *, no_record: Record | None = None) -> Record:
        """
        The record in *raw*, the state file at *path*: not parsed again if this guard left it.

        A durable guard given *no_record* returns it for a file that holds no
        whole record. Never fsynced, the file can come back from a power loss
        empty, zeroed or torn in both slots, and a durable guard's ceiling is
        above every generation it handed out (none was, without one), so it
        can go on from there. A whole record that is wrong (another key's),
        and any damage without ``durable``, is :class:`~syncsafe.GuardStateCorrupt`.
        """
        known = self._known.get(path)
        if known is not None and known[0] == raw:
            return known[1]
        try:
            return parse(raw, key, path)
        except GuardStateCorrupt:
            if no_record is None or not self.durable or holds_a_record(raw):
                raise
            return no_record

    def _peek(self, key: str, path: str) -> Record:
        """
        The state file, read without the key's lock: as it was before or after a write.

        Under a shared ``flock`` of the file, which each in-place write holds
        exclusively: a read must not overlap a write. Without it a read that
        copies one slot, then the other while a second write tears it, finds
        only the record before the newest, whole: a state older than the one
        the caller asked in, which could let a run that started before the
        caller asked serve it.
        """
        fd = _open_state(path, os.O_RDONLY)
        if fd is None:
            return _ZERO
        try:
            # flock, not fcntl: it is held per open file, so it also excludes
            # a writer in another thread of this process.
            fcntl.flock(fd, fcntl.LOCK_SH)
            try:
                raw = _read_all(fd)
            finally:
                # Unlocked before the close: a child forked meanwhile shares
                # the open file, and the close alone would leave it locked.
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
        # A file with no record: the holder of the lock starts it over.
        return self._parse(raw, key, path, no_record=_UNKNOWN)

    def _store(
        self,
        fd: int | None,
        raw: bytes,
        path: str,
        key: str,
        current: Record,
        *,
        fields: tuple[int, int, str | None, str, int],
    ) -> tuple[int, bytes, Record]:
        """
        Write *fields* as the newest record of the state file open as *fd*, holding *raw*.

        Returns the file's fd (a new one if the file was replaced), the
        bytes it now holds, and the record. Only the holder of the key's
        file lock writes.
        """
        started, finished, error, boot, reserved = fields
        pid = os.getpid()
        record = encode(key, started, finished, error, pid, boot=boot, reserved=reserved)
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
            fd, raw = self._replace(fd, path, record, size)
            at = 0
        return fd, raw, Record(started, finished, error, pid, boot, reserved, size, at // size)

    def _remember(self, path: str, raw: bytes, record: Record) -> None:
        known = self._known
        with self._mutex:  # threads running other keys remember too: no iteration unguarded
            known.pop(path, None)
            if len(known) >= _KNOWN_MAX:  # the least recently written goes
                del known[next(iter(known))]
            known[path] = (raw, record)

    def _replace(self, fd: int | None, path: str, record: bytes, size: int) -> tuple[int, bytes]:
        """
        Replace the state file (absent, unslotted or too small) by a new one: its fd and bytes.

        The new file is written in full and renamed into place, so no reader
        ever finds it partly written.
        """
        raw = record_slot(record, size=size) + blank_slot(size)
        temp = path + ".tmp"  # one writer at a time; a leftover from a killed one is truncated
        new = os.open(temp, os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
        try:
            _write_at(new, raw, 0)
            os.replace(temp, path)  # noqa: PTH105 - str paths, built once
        except BaseException:
            os.close(new)
            _unlink_quietly(temp)
            raise
        if fd is not None:
            with contextlib.suppress(OSError):  # the old file is replaced: its close cannot matter
                os.close(fd)
        return new, raw

    def _sync_directory(self) -> None:
        _fsync_directory(self._dir)

    def _read(self, key: str, path: Path) -> FileGuardState:
        """The state file at *path*, read as an unlocked caller reads it."""
        r = self._peek(key, os.fspath(path))
        if r is _UNKNOWN:
            return FileGuardState(key)
        return FileGuardState(key, r.started, r.finished, r.error, r.pid)

    def _write(self, path: Path, state: FileGuardState) -> None:
        """Write *state* as the newest record of the state file at *path* (holding its lock)."""
        path_ = os.fspath(path)
        fd = _open_state(path_)
        try:
            raw = b"" if fd is None else _read_all(fd)
            current = _ZERO if fd is None else self._parse(raw, state.key, path_)
            fields = (state.started, state.finished, state.error, current.boot, current.reserved)
            fd, _, _ = self._store(fd, raw, path_, state.key, current, fields=fields)
        finally:
            if fd is not None:
                os.close(fd)

    def _about_to_wait(self, key: str) -> None:
        hook = self._waiting_hook
        if hook is not None:
            hook(key)

    def _count_rejected(self) -> None:
        with self._mutex:
            self._counts.rejected += 1

    def _count_timed_out(self) -> None:
        with self._mutex:
            self._counts.timed_out += 1


_ZERO: Final = Record(0, 0, None, 0)
# A state no run can serve: what a waiter saw in a file that held no record.
_UNKNOWN: Final = Record(sys.maxsize, sys.maxsize, None, 0)


def _open_state(path: str, flags: int = os.O_RDWR) -> int | None:
    """An fd of the state file at *path*, or ``None`` if there is none yet."""
    try:
        return os.open(path, flags | os.O_CLOEXEC)
    except FileNotFoundError:
        return None


def _read_all(fd: int) -> bytes:
    chunks: list[bytes] = []
    while True:
        chunk = os.pread(fd, _READ_SIZE, _READ_SIZE * len(chunks))
        chunks.append(chunk)
        if len(chunk) < _READ_SIZE:
            return b"".join(chunks)


def _fsync_directory(path: str) -> None:
    """Make the names in the directory *path* durable."""
    directory = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def _unlink_quietly(path: str) -> None:
    """Remove the temporary file at *path*, if it is there (a failed write's leftover)."""
    with contextlib.suppress(OSError):
        os.unlink(path)  # noqa: PTH108 - a str path


def _write_at(fd: int, data: bytes, offset: int) -> None:
    written = os.pwrite(fd, data, offset)
    if written != len(data):  # pragma: no cover - a regular file takes a whole small write
        msg = f"short write to a guard state file: {written} of {len(data)} bytes"
        raise OSError(msg)


def _remaining(deadline: float | None) -> float:
    """Seconds left before *deadline*, for a lock's timeout: -1 waits for ever."""
    if deadline is None:
        return -1
    return max(deadline - time.monotonic(), 0.0)
