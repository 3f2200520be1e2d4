"""
The cross-process front end: a file lock and a small state file per key.

How it decides, for one key, with ``L`` its lock file and ``S`` its state
file ``{"started": g, "finished": f, "error": ...}``:

1. A caller first takes the key's in-process lock (one thread of this
   process at a time reaches the file lock), then ``L`` through a new
   ``filelock.FileLock`` of its own. If either is taken, it first reads ``S``
   without the lock: ``seen.started`` is the newest run that had started when
   it asked. ``S`` is only ever replaced whole (rename), so an unlocked read
   sees one consistent version.
2. Holding ``L`` it reads ``S`` again. Under ``"coalesce"``, if a run newer
   than ``seen.started`` has finished (``finished > seen.started``), that run
   started after this caller asked: the caller is served and returns without
   running again. Otherwise it runs: it writes ``started = g + 1`` (fsynced:
   a generation is never handed out twice, not even after a crash), calls the
   function, writes ``finished = g + 1`` and releases ``L``.
3. A process killed while it runs leaves ``started > finished``. The OS
   releases ``L`` with the process; the next caller finds no newer finished
   run, so it runs, with generation ``g + 2``.

No request counter is written when a caller arrives: that would need ``L``,
which the run in flight holds. The generation that had started when the
caller asked is its ticket; comparing it with the newest finished run under
``L`` gives the same answer a counter would.

A value cannot cross processes: a caller served by a run in another process
gets ``Outcome(value=None, remote=True)``, or :class:`~syncsafe.SyncFailed`
with the other process's error as text.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Final, TypeVar, cast, final

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
from syncsafe.guard._values import GuardStatistics, Outcome

__all__ = ["FileGuardState", "FileSyncGuard", "key_file_stem"]

T = TypeVar("T")

_FORMAT: Final = 1
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
    never leaves the key stuck); the state file is replaced atomically
    (written to a temporary file, then renamed), so no reader, and no crash,
    ever sees half of one.

    Unlike a bare ``FileLock`` per key, a caller that waited while another
    process ran a sync that started after it asked returns without running
    again (``"coalesce"``). Two ``filelock`` traps are avoided by design: the
    guard takes an in-process lock per key before the file lock (a ``FileLock``
    shared between threads with ``thread_local=False`` excludes nothing between
    them) and makes a new ``FileLock`` for every acquisition (so no lock object
    is ever shared, by threads or by asyncio tasks).

    ``FileSyncGuard(directory, policy="coalesce", *, durable=True)``: the
    *directory* is created if missing; *policy* is as for
    :class:`~syncsafe.SyncGuard`; *durable* fsyncs the state file, and its
    directory, when a run starts, so that a generation survives a power loss
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
    """Whether a run's start is fsynced, with the directory, before the run."""
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
        self.directory.mkdir(parents=True, exist_ok=True)

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
        state_path = self._path(key, ".state")
        seen: FileGuardState | None = None  # the state when this caller asked, if it had to wait
        if not entry.lock.acquire(blocking=False):
            seen = self._read(key, state_path)
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
            # them all in.
            lock = FileLock(self._path(key, ".lock"))
            try:
                lock.acquire(timeout=0)
            except Timeout:
                if seen is None:
                    seen = self._read(key, state_path)
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
        seen: FileGuardState | None,
        path: Path,
    ) -> Outcome[T | None]:
        state_path = path
        state = self._read(key, state_path)
        if seen is not None:
            # share: the run in flight when this caller asked will do; coalesce: a later one.
            in_flight = policy == "share" and seen.started > seen.finished
            if state.finished >= seen.started + (0 if in_flight else 1):
                return self._served(key, entry, state, fresh=state.finished > seen.started)
        generation = state.started + 1
        self._write(state_path, attrs.evolve(state, started=generation, pid=os.getpid()), sync=True)
        with self._mutex:
            self._runs += 1
        entry.runner = threading.get_ident()
        try:
            value = fn()
        except BaseException as exc:
            entry.runner = None
            entry.last = (generation, None, exc)
            self._write(
                state_path,
                attrs.evolve(state, started=generation, finished=generation, error=repr(exc)),
                sync=False,
            )
            raise
        entry.runner = None
        entry.last = (generation, value, None)
        self._write(
            state_path, FileGuardState(key, generation, generation, None, os.getpid()), sync=False
        )
        return Outcome(value, generation, True, True, 0)  # noqa: FBT003

    def _served(
        self, key: str, entry: _Entry, state: FileGuardState, *, fresh: bool
    ) -> Outcome[T | None]:
        with self._mutex:
            self._coalesced += 1
        last = entry.last
        local = last is not None and last[0] == state.finished
        if state.error is not None:
            cause = last[2] if last is not None and local else None
            raise SyncFailed(key, state.finished, state.error) from cause
        value: T | None = last[1] if last is not None and local else None  # type: ignore[assignment]
        return Outcome(value, state.finished, False, fresh, 0, remote=not local)  # noqa: FBT003

    def _read(self, key: str, path: Path) -> FileGuardState:
        try:
            with path.open("rb") as file:
                raw = file.read()
        except FileNotFoundError:
            return FileGuardState(key)
        try:
            data = json.loads(raw)
            fields = (data["format"], data["key"])
            state = FileGuardState(
                key, data["started"], data["finished"], data["error"], data["pid"]
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise GuardStateCorrupt(str(path), f"unreadable ({exc!r})") from exc
        if fields != (_FORMAT, key):
            raise GuardStateCorrupt(
                str(path), f"format and key are {fields!r}, not {(_FORMAT, key)!r}"
            )
        numbers = (state.started, state.finished, state.pid)
        if not all(type(n) is int for n in numbers) or not (0 <= state.finished <= state.started):
            raise GuardStateCorrupt(str(path), "started >= finished >= 0 must be integers")
        if state.error is not None and not isinstance(state.error, str):
            raise GuardStateCorrupt(str(path), "error must be a string or null")
        return state

    def _write(self, path: Path, state: FileGuardState, *, sync: bool) -> None:
        """Replace *path* with *state* atomically; fsync it (and the directory) if *sync*."""
        durable = sync and self.durable
        data = json.dumps({"format": _FORMAT, **attrs.asdict(state)}).encode()
        # Only the holder of the key's file lock writes, so one temporary name will do;
        # a temporary file left by a killed process is truncated by the next writer.
        temp = path.with_name(path.name + ".tmp")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
        try:
            os.write(fd, data)
            if durable:
                os.fsync(fd)  # the data first, so the rename can never expose an empty file
        finally:
            os.close(fd)
        temp.replace(path)
        if durable:
            directory = os.open(path.parent, os.O_RDONLY | os.O_CLOEXEC)
            try:
                os.fsync(directory)  # the rename itself, so the new generation survives
            finally:
                os.close(directory)

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


def _remaining(deadline: float | None) -> float:
    """Seconds left before *deadline*, for a lock's timeout: -1 waits for ever."""
    if deadline is None:
        return -1
    return max(deadline - time.monotonic(), 0.0)
