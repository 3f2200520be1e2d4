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
   ``durable``, on disk before the run: a generation is never handed out
   twice, not even after a power loss), calls the function, writes
   ``finished = g + 1`` and releases ``L``.
3. A process killed while it runs leaves ``started > finished``. The OS
   releases ``L`` with the process; the next caller finds no newer finished
   run, so it runs, with generation ``g + 2``.

No request counter is written when a caller arrives: that would need ``L``,
which the run in flight holds. The generation that had started when the
caller asked is its ticket; comparing it with the newest finished run under
``L`` gives the same answer a counter would.

How ``S`` is written (the format: :mod:`syncsafe.guard._record`): in place,
not replaced by rename. ``S`` has two fixed-size slots, each blank or one
JSON record followed by its CRC-32 (written in JSON whitespace, so the file
at rest is one JSON document). A write puts the new record into the slot
that does not hold the newest one, then blanks the other, both under an
exclusive ``flock`` of ``S``; the newest record whose CRC matches is the
state. Why every reader sees one whole version, as a rename would give:

- a reader without ``L`` (step 1, and :meth:`FileSyncGuard.state`) reads
  under a shared ``flock`` of ``S``, so never between or inside the two
  writes;
- a process killed, or a machine that lost power, in the middle leaves
  either a torn slot, whose CRC fails and which is ignored, beside the
  previous record, intact because it was not written to; or two whole
  records, of which the newer counts. The newest record is only ever
  overwritten after a newer one is whole beside it;
- with ``durable``, a run's start record is fdatasynced before the run.
  ``S`` is written within its size, so that is enough for the record, but not
  for the file's name: the first durable start in a file also fsyncs the
  directory and sets a bit in its records that says so, and a file is only
  ever created, or enlarged, by writing a new one in full (fsynced, with
  ``durable``) and renaming it into place. A slot in which no record is
  whole was never written so: both slots torn can only come of a failing
  disk, and are refused (:class:`~syncsafe.GuardStateCorrupt`), never read as
  "no run yet", which would hand out generation 1 again.

A value cannot cross processes: a caller served by a run in another process
gets ``Outcome(value=None, remote=True)``, or :class:`~syncsafe.SyncFailed`
with the other process's error as text.
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Final, TypeVar, cast, final

import attrs
from filelock import FileLock, Timeout

from syncsafe.errors import (
    ReentrantSync,
    SyncFailed,
    SyncInProgress,
    SyncTimeout,
)
from syncsafe.guard._machine import Policy, _checked, _validate_policy
from syncsafe.guard._record import (
    Record,
    blank_slot,
    encode,
    parse,
    record_slot,
    slot_size_for,
    update,
)
from syncsafe.guard._values import GuardStatistics, Outcome

if sys.platform != "win32":  # pragma: no branch - the state file is locked with flock(2)
    import fcntl

__all__ = ["FileGuardState", "FileSyncGuard", "key_file_stem"]

T = TypeVar("T")

_READ_SIZE: Final = 1 << 16
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
    and no crash, ever sees half of one.

    Unlike a bare ``FileLock`` per key, a caller that waited while another
    process ran a sync that started after it asked returns without running
    again (``"coalesce"``). Two ``filelock`` traps are avoided by design: the
    guard takes an in-process lock per key before the file lock (a ``FileLock``
    shared between threads with ``thread_local=False`` excludes nothing between
    them) and makes a new ``FileLock`` for every acquisition (so no lock object
    is ever shared, by threads or by asyncio tasks). POSIX only.

    ``FileSyncGuard(directory, policy="coalesce", *, durable=True)``: the
    *directory* is created if missing; *policy* is as for
    :class:`~syncsafe.SyncGuard`; *durable* puts a run's start record on disk
    (fdatasync) before the run, so that a generation survives a power loss
    and is never handed out twice (without it a killed process still never
    corrupts the state).

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
    """Whether a run's start record is on disk before the run (fdatasync)."""
    _dir: str = attrs.field(init=False, repr=False, default="")
    _mutex: threading.Lock = attrs.field(init=False, repr=False, factory=threading.Lock)
    _entries: dict[str, _Entry] = attrs.field(init=False, repr=False, factory=dict)
    _runs: int = attrs.field(init=False, repr=False, default=0)
    _coalesced: int = attrs.field(init=False, repr=False, default=0)
    _rejected: int = attrs.field(init=False, repr=False, default=0)
    _timed_out: int = attrs.field(init=False, repr=False, default=0)
    # Called with the key when a caller is about to block on a lock; lets
    # tests order threads and processes without sleeping.
    _waiting_hook: Callable[[str], None] | None = attrs.field(init=False, repr=False, default=None)

    def __attrs_post_init__(self) -> None:
        if sys.platform == "win32":  # pragma: no cover
            msg = "FileSyncGuard needs a POSIX system: it writes its state files under flock"
            raise NotImplementedError(msg)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._dir = os.fspath(self.directory)

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
        if not isinstance(cast("object", key), str):
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

    def files(self, key: str) -> tuple[Path, Path]:
        """The lock file and the state file of *key*, named by a hash of the key."""
        return self._path(key, ".lock"), self._path(key, ".state")

    def state(self, key: str) -> FileGuardState:
        """The state file of *key* as it is now (all zeros if no run ever started)."""
        return self._read(key, self._path(key, ".state"))

    def statistics(self) -> GuardStatistics:
        """A frozen snapshot of this guard's counters and of its callers in this process."""
        with self._mutex:
            running = sum(1 for e in self._entries.values() if e.runner is not None)
            users = sum(e.users for e in self._entries.values())
            return GuardStatistics(
                runs=self._runs,
                coalesced=self._coalesced,
                rejected=self._rejected,
                timed_out=self._timed_out,
                in_flight=running,
                waiting=users - running,
                keys=len(self._entries),
            )

    # -------------------------------------------------------------- internals

    def _release_entry(self, key: str, entry: _Entry) -> None:
        if entry.users == 0 and entry.runner is None:
            del self._entries[key]

    def _path(self, key: str, suffix: str) -> Path:
        return self.directory / (key_file_stem(key) + suffix)

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
        base = os.path.join(self._dir, key_file_stem(key))  # noqa: PTH118 - a str, built once
        state_path = base + ".state"
        seen: Record | None = None  # the state when this caller asked, if it had to wait
        if not entry.lock.acquire(blocking=False):
            seen = self._peek(key, state_path)
            if policy == "reject":
                self._count_rejected()
                raise SyncInProgress(key, seen.started)
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
                    raise SyncInProgress(key, seen.started) from None
                self._about_to_wait(key)
                try:
                    lock.acquire(timeout=_remaining(deadline))
                except Timeout:
                    self._count_timed_out()
                    raise SyncTimeout(key, timeout or 0.0) from None
            try:
                return self._locked(key, entry, fn, policy=policy, seen=seen, path=state_path)
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
        path: str,
    ) -> Outcome[T | None]:
        fd = _open_state(path)
        try:
            state = _ZERO if fd is None else parse(_read_all(fd), key, path)
            if seen is not None:
                # share: the run in flight when this caller asked will do; coalesce: a later one.
                in_flight = policy == "share" and seen.started > seen.finished
                if state.finished >= seen.started + (0 if in_flight else 1):
                    return self._served(key, entry, state, fresh=state.finished > seen.started)
            generation = state.started + 1
            fd, state = self._store(
                fd, path, key, state, (generation, state.finished, state.error), sync=True
            )
            with self._mutex:
                self._runs += 1
            entry.runner = threading.get_ident()
            try:
                value = fn()
            except BaseException as exc:
                entry.runner = None
                entry.last = (generation, None, exc)
                fields = (generation, generation, repr(exc))
                fd, _ = self._store(fd, path, key, state, fields, sync=False)
                raise
            entry.runner = None
            entry.last = (generation, value, None)
            fd, _ = self._store(fd, path, key, state, (generation, generation, None), sync=False)
            return Outcome(value, generation, True, True, 0)  # noqa: FBT003
        finally:
            if fd is not None:
                os.close(fd)

    def _served(self, key: str, entry: _Entry, state: Record, *, fresh: bool) -> Outcome[T | None]:
        with self._mutex:
            self._coalesced += 1
        last = entry.last
        local = last is not None and last[0] == state.finished
        if state.error is not None:
            cause = last[2] if last is not None and local else None
            raise SyncFailed(key, state.finished, state.error) from cause
        value: T | None = last[1] if last is not None and local else None  # type: ignore[assignment]
        return Outcome(value, state.finished, False, fresh, 0, remote=not local)  # noqa: FBT003

    def _peek(self, key: str, path: str) -> Record:
        """The state file, read without the key's lock: between two writes, never inside one."""
        fd = _open_state(path, os.O_RDONLY)
        if fd is None:
            return _ZERO
        try:
            # A writer holds LOCK_EX over its two writes (the new slot, then
            # the blanking of the old one): a shared lock reads the file as it
            # is before or after them. flock, not fcntl: it is held per open
            # file, so it also excludes a writer in another thread of this process.
            fcntl.flock(fd, fcntl.LOCK_SH)
            raw = _read_all(fd)
        finally:
            os.close(fd)  # releases the shared lock
        return parse(raw, key, path)

    def _store(
        self,
        fd: int | None,
        path: str,
        key: str,
        current: Record,
        fields: tuple[int, int, str | None],
        *,
        sync: bool,
    ) -> tuple[int, Record]:
        """
        Write *fields* as the newest record of the state file open as *fd*.

        Returns the file's fd (a new one if the file was replaced) and the record.

        With *sync* (a run's start) and ``durable``, the record is on disk
        before this returns. Only the holder of the key's file lock writes.
        """
        started, finished, error = fields
        pid = os.getpid()
        record = encode(key, started, finished, error, pid)
        size = current.slot_size
        if fd is None or size == 0 or slot_size_for(record) > size:
            fd = self._replace(fd, path, record, max(size, slot_size_for(record)))
            return fd, Record(started, finished, error, pid, slot_size_for(record), 0)
        synced = current.dir_synced
        durable = sync and self.durable
        if durable and not synced:
            # fdatasync makes the record durable, not the file's name: the
            # directory is fsynced once, and the records after say so.
            self._sync_directory()
            synced = True
        at, data, blank_at, blank = update(current, record, dir_synced=synced)
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            _write_at(fd, data, at)
            if durable:
                # In place, within the file's size: no metadata to write, so
                # fdatasync (not fsync) is enough for the record to survive.
                os.fdatasync(fd)
            _write_at(fd, blank, blank_at)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
        return fd, Record(started, finished, error, pid, size, at // size, dir_synced=synced)

    def _replace(self, fd: int | None, path: str, record: bytes, size: int) -> int:
        """
        Replace the state file (absent, unslotted or too small) by a new one; return its fd.

        The new file is written and renamed into place, and with
        ``durable`` fsynced before the rename, its directory after, so that
        a power loss never leaves an empty file in place of a generation.
        """
        temp = path + ".tmp"  # one writer at a time; a leftover from a killed one is truncated
        new = os.open(temp, os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
        try:
            _write_at(new, record_slot(record, dir_synced=False, size=size) + blank_slot(size), 0)
            if self.durable:
                os.fsync(new)
            os.replace(temp, path)  # noqa: PTH105 - str paths, built once
            if self.durable:
                self._sync_directory()
        except BaseException:
            os.close(new)
            raise
        if fd is not None:
            os.close(fd)
        return new

    def _sync_directory(self) -> None:
        directory = os.open(self._dir, os.O_RDONLY | os.O_CLOEXEC)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)

    def _read(self, key: str, path: Path) -> FileGuardState:
        """The state file at *path*, read as an unlocked caller reads it."""
        r = self._peek(key, os.fspath(path))
        return FileGuardState(key, r.started, r.finished, r.error, r.pid)

    def _write(self, path: Path, state: FileGuardState, *, sync: bool) -> None:
        """Write *state* as the newest record of the state file at *path* (holding its lock)."""
        path_ = os.fspath(path)
        fd = _open_state(path_)
        try:
            current = _ZERO if fd is None else parse(_read_all(fd), state.key, path_)
            fields = (state.started, state.finished, state.error)
            fd, _ = self._store(fd, path_, state.key, current, fields, sync=sync)
        finally:
            if fd is not None:
                os.close(fd)

    def _about_to_wait(self, key: str) -> None:
        hook = self._waiting_hook
        if hook is not None:
            hook(key)

    def _count_rejected(self) -> None:
        with self._mutex:
            self._rejected += 1

    def _count_timed_out(self) -> None:
        with self._mutex:
            self._timed_out += 1


_ZERO: Final = Record(0, 0, None, 0)


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
