"""
The cross-process front end: a file lock and a small state file per key.

How it decides, for one key, with ``L`` its lock file and ``S`` its state
file, whose newest record is ``{"started": g, "finished": f, "error": ...}``
(the record of `syncsafe.guard._policy`, which makes every decision
below; nothing of the policy is written here):

1. The callers of this guard meet in memory first, in the machine
   (`syncsafe.guard._machine`), as ``SyncGuard``'s do; only the leader
   of each flight goes on, to ``L``, through the key's pooled
   ``filelock.FileLock``. If ``L`` is taken, the leader first reads ``S``
   without it: ``seen.started`` is the newest run that had started when it
   asked.
2. Holding ``L`` it reads ``S`` again and asks the policy: a finished run
   may serve it (under ``"coalesce"``, ``finished > seen.started``), or it
   runs: it writes ``started = g + 1`` (with ``durable``, below a ceiling on
   disk: `syncsafe.guard._ceiling`), calls the function, writes ``finished = g + 1`` and
   releases ``L``. Its flight's followers get its outcome.
3. A process killed while it runs leaves ``started > finished``. The OS
   releases ``L`` with the process; the next caller finds no newer finished
   run, so it runs, with generation ``g + 2``.
4. ``L`` removed while a run holds it (a cleaner of temporary files): the
   start record names the lock file its holder locked (device, inode), its
   pid and the process's start time, so a caller that locks a new ``L``
   but finds a run in flight through another file, by a live process of
   this boot, waits for it (polling) instead of running; a run whose ``L``
   went before its start record was written checks again after writing it
   and begins again rather than run beside a newcomer that read the record
   before it.

No request counter is written when a caller arrives: that would need ``L``,
which the run in flight holds. The generation that had started when the
caller asked is its ticket; comparing it with the newest finished run under
``L`` gives the same answer a counter would.

Where the rest lives: how ``S`` is read and written in place, so that no
reader and no crash sees half a record, is `syncsafe.guard._file_state`'s
(the record format: `syncsafe.guard._record`); the durable ceiling of the
generations handed out, which a power loss cannot take back, is
`syncsafe.guard._ceiling`'s; who holds ``L`` and whether it is still alive
(boot, pid, process start time; step 4) is `syncsafe.guard._holder`'s.

A value cannot cross processes: a caller served by a run in another process
gets ``Outcome(value=None, remote=True)``, or [`SyncFailed`][syncsafe.errors.SyncFailed]
with the other process's error as text.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Final, TypeVar, cast, final

import attrs
from filelock import FileLock, Timeout

from syncsafe._atomic import fsync_directory
from syncsafe.errors import SyncFailed, SyncInProgress, SyncTimeout
from syncsafe.guard import _policy
from syncsafe.guard._ceiling import next_generation
from syncsafe.guard._file_state import UNKNOWN, StateFiles, open_state
from syncsafe.guard._holder import HELD, Locked, Moved, holds_elsewhere
from syncsafe.guard._machine import (
    Caller,
    Flight,
    Machine,
    Policy,
    Solo,
    _checked,
    _validate_policy,
)
from syncsafe.guard._policy import Serve
from syncsafe.guard._values import GuardStatistics, Outcome, new_outcome

if TYPE_CHECKING:
    from syncsafe.guard._record import Record

__all__ = ["FileGuardState", "FileSyncGuard", "key_file_stem"]

T = TypeVar("T")

_LOCKS_MAX: Final = 256  # pooled FileLock instances, one per key recently run
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


@final
@attrs.frozen
class FileGuardState:
    """
    One key's ``FileSyncGuard`` state file, as [`FileSyncGuard.state`][] reads it.

    !!! note "Added in version 0.1.0"
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
class _Counts:
    """What the machine does not count for this guard, changed under its mutex."""

    __slots__ = ("holding", "remote", "runs")

    def __init__(self) -> None:
        self.runs = 0
        """Runs of the function (the machine also counts runs another process served)."""
        self.remote = 0
        """Leaders served by another process's run."""
        self.holding = 0
        """Leaders waiting for another process's hold of their key."""


class _Withdraw(Exception):
    """The leader gives up its lead before its run began: *error* goes to it, the lead on."""

    def __init__(self, error: Exception, *, timed_out: bool) -> None:
        super().__init__(error)
        self.error = error
        self.timed_out = timed_out


@final
@attrs.define(eq=False)
class FileSyncGuard:
    """
    [`SyncGuard`][syncsafe.guard.SyncGuard]'s semantics across the processes of one host.

    Each key has a lock file and a state file in *directory* (see
    [`files`][syncsafe.guard.FileSyncGuard.files]), whose names are safe for any key: a readable
    part and a hash of the exact key. The lock is a ``filelock.FileLock`` (an OS lock:
    released by the OS when its process dies, so a process killed mid-run
    never leaves the key stuck). The state file holds two checksummed JSON
    records, of which a write replaces the older in place (the format is
    described under "The state file" in the reference), so that no reader,
    and no crash, ever sees half of one; with *durable*, a third file holds
    the ceiling of the generations handed out.

    Unlike a bare ``FileLock`` per key, a caller that waited while another
    process ran a sync that started after it asked returns without running
    again (``"coalesce"``). The callers of one guard meet in memory first, as
    in ``SyncGuard``, and only the leader of each run takes the file lock,
    so a ``filelock`` trap is avoided by design: a ``FileLock`` shared
    between threads with ``thread_local=False`` excludes nothing between
    them, and the guard's one ``FileLock`` per key is only ever acquired by
    the one thread leading that key's run. POSIX only.

    ``FileSyncGuard(directory, policy="coalesce", *, durable=True)``: the
    *directory* is created if missing; *policy* is as for
    [`SyncGuard`][syncsafe.guard.SyncGuard]; *durable* keeps a generation from being
    handed out twice even across a power loss, by reserving generations on
    disk (fsynced) in blocks of `RESERVE`; after a reboot they resume
    above the last block, so they skip numbers but never repeat. Without it
    a killed process still never corrupts the state, but a power loss can
    bring back an earlier generation.

    ``Outcome.value`` is ``None`` (and ``Outcome.remote`` true) for a caller
    served by a run in another process; ``Outcome.shared_with`` counts the
    callers of this guard that got the same run, not those of other
    processes. ``max_concurrent`` has no cross-process equivalent here.

    !!! note "Added in version 0.1.0"
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
    on_wait: Callable[[str], None] | None = attrs.field(default=None, kw_only=True, repr=False)
    """
    Called with the key, in the caller's thread, each time a caller is about
    to block: on another caller of this guard, or on another process's hold
    of the key. For tests that order callers without sleeping.
    """
    _machine: Machine = attrs.field(init=False, repr=False, factory=lambda: Machine(notify=True))
    _locks: dict[str, tuple[FileLock, Locked]] = attrs.field(init=False, repr=False, factory=dict)
    # Mutable, and not an attrs field of its own: a run counts without
    # going through the class's frozen-field check on every assignment.
    _counts: _Counts = attrs.field(init=False, repr=False, factory=_Counts)
    _states: StateFiles = attrs.field(
        init=False,
        repr=False,
        default=attrs.Factory(
            lambda self: StateFiles(self._mutex, durable=self.durable), takes_self=True
        ),
    )

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
                fsync_directory(directory.parent)

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

        The contract of [`syncsafe.SyncGuard.run`][syncsafe.guard.SyncGuard.run], across processes.
        The callers of this guard meet in memory first, as in ``SyncGuard``; only
        the leader of each run goes to the key's file lock. The re-entry
        check (a run calling ``run`` for its own key) covers this process;
        *timeout* covers the wait in memory and for the file lock together.
        """
        given: object = key
        if not isinstance(given, str):
            msg = f"key {key!r}: a FileSyncGuard key must be a str"
            raise TypeError(msg)
        policy_ = self.policy if policy is None else _checked(policy)
        deadline = None if timeout is None else time.monotonic() + timeout
        mutex = self._mutex
        machine = self._machine
        box: list[object] = [None]  # what this call holds in the machine, wherever it stops
        try:
            with mutex:
                arrived = machine.arrive(key, policy_, _get_ident(), box)
                if not isinstance(arrived, tuple) and arrived.flight.leader is not arrived:
                    waker = _allocate_lock()
                    waker.acquire()
                    arrived.data = (waker, policy_)
            if isinstance(arrived, tuple):  # nobody else of this guard in flight for the key
                return self._lead_solo(
                    key, arrived, fn, policy_, deadline=deadline, timeout=timeout
                )
            caller = arrived
            if caller.flight.leader is not caller:
                if not self._wait(caller, waker, deadline, timeout):
                    return self._served(caller)
                policy_ = caller.data[1]  # type: ignore[index]  # set above
            return self._lead(key, caller, fn, policy_, deadline=deadline, timeout=timeout)
        except BaseException as exc:
            self._repair(key, box, exc)
            raise

    def _repair(self, key: str, box: list[object], error: BaseException) -> None:
        """
        Whatever stopped this call, leave nothing of it in the machine, and lose no wake-up.

        As [`SyncGuard`][syncsafe.guard.SyncGuard]'s: a run still recorded as this call's
        ends with *error*, a caller still waiting leaves; and a file lock
        still held by the key's pooled ``FileLock`` with no run of the key
        left in this guard is released. Idempotent.
        """
        with self._mutex:
            machine = self._machine
            machine.settle(key, box[0], error)
            pooled = self._locks.get(key)
            if pooled is not None and pooled[0].is_locked and machine.flights(key)[0] is None:
                pooled[0].release(force=True)
            self._signal()

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

        :raises GuardStateCorrupt: the file cannot be read back, or is not a
            regular file (a FIFO, a directory).
        """
        return self._read(key, self._path(key, ".state"))

    def statistics(self) -> GuardStatistics:
        """A frozen snapshot of this guard's counters and of its callers in this process."""
        with self._mutex:
            machine = self._machine
            counts = self._counts
            holding = counts.holding
            return GuardStatistics(
                runs=counts.runs,
                coalesced=machine.coalesced + counts.remote,
                rejected=machine.rejected,
                timed_out=machine.timed_out,
                in_flight=machine.running - holding,
                waiting=machine.waiting() + holding,
                keys=machine.keys(),
            )

    # -------------------------------------------------------------- internals

    def _path(self, key: str, suffix: str) -> Path:
        return Path(self._dir, _stem(key) + suffix)

    def _lead_solo(
        self,
        key: str,
        solo: Solo,
        fn: Callable[[], T],
        policy: str,
        *,
        deadline: float | None,
        timeout: float | None,
    ) -> Outcome[T | None]:
        """The uncontended path: the leader of a solo run goes to the file lock."""
        ran = [0]  # the generation of the run, once it started
        try:
            result = self._hold(key, fn, policy, deadline=deadline, timeout=timeout, ran=ran)
        except _Withdraw as withdraw:
            with self._mutex:
                flight = self._machine.inflate(key, solo)
                self._machine.withdraw(flight.callers[0], timed_out=withdraw.timed_out)
                self._signal()
            raise withdraw.error from None
        except BaseException as exc:
            self._finish_solo(key, solo, None, exc, (ran[0], True, False) if ran[0] else None)
            raise
        if type(result) is Serve:
            return self._finish_remote(key, solo, None, result)
        value, generation = cast("tuple[T, int]", result)
        joined = self._finish_solo(key, solo, value, None, (generation, True, False))
        shared_with = 0 if joined is None else joined.served - 1
        return new_outcome(Outcome, (value, generation, True, True, shared_with, False))

    def _lead(
        self,
        key: str,
        caller: Caller,
        fn: Callable[[], T],
        policy: str,
        *,
        deadline: float | None,
        timeout: float | None,
    ) -> Outcome[T | None]:
        """*caller* leads its started flight: it goes to the file lock."""
        flight = caller.flight
        ran = [0]  # the generation of the run, once it started
        try:
            result = self._hold(key, fn, policy, deadline=deadline, timeout=timeout, ran=ran)
        except _Withdraw as withdraw:
            with self._mutex:
                self._machine.withdraw(caller, timed_out=withdraw.timed_out)
                self._signal()
            raise withdraw.error from None
        except BaseException as exc:
            self._finish(flight, None, exc, (ran[0], caller.fresh, False) if ran[0] else None)
            raise
        if type(result) is Serve:
            return self._finish_remote(key, None, flight, result)
        value, generation = cast("tuple[T, int]", result)
        self._finish(flight, value, None, (generation, caller.fresh, False))
        return Outcome(value, generation, True, caller.fresh, flight.served - 1)  # noqa: FBT003

    def _finish_remote(
        self, key: str, solo: Solo | None, flight: Flight | None, served: Serve
    ) -> Outcome[T | None]:
        """The leader was served by a run of another process: so is its flight."""
        error = None if served.error is None else SyncFailed(key, served.generation, served.error)
        data = (served.generation, served.fresh, True)
        with self._mutex:
            self._counts.remote += 1
        if solo is not None:
            joined = self._finish_solo(key, solo, None, error, data, ran=False)
            shared_with = 0 if joined is None else joined.served - 1
        else:
            assert flight is not None  # noqa: S101 - one or the other
            self._finish(flight, None, error, data, ran=False)
            shared_with = flight.served - 1
        if error is not None:
            raise error
        return Outcome(None, served.generation, False, served.fresh, shared_with, remote=True)  # noqa: FBT003

    def _finish_solo(
        self,
        key: str,
        solo: Solo,
        value: object,
        error: BaseException | None,
        data: tuple[int, bool, bool] | None,
        *,
        ran: bool = True,
    ) -> Flight | None:
        with self._mutex:
            self._counts.runs += ran
            current = self._machine.flights(key)[0]
            if isinstance(current, Flight):  # others joined: their outcome, before they wake
                current.data = data
            joined = self._machine.finish_solo(key, solo, value, error)[0]
            self._signal()
        return joined

    def _finish(
        self,
        flight: Flight,
        value: object,
        error: BaseException | None,
        data: tuple[int, bool, bool] | None,
        *,
        ran: bool = True,
    ) -> None:
        with self._mutex:
            self._counts.runs += ran
            flight.data = data  # the followers' outcome, before they can wake
            self._machine.finish(flight, value, error)
            self._signal()

    def _wait(
        self, caller: Caller, waker: threading.Lock, deadline: float | None, timeout: float | None
    ) -> bool:
        """Block until *caller* leads a started flight (True) or its flight is done (False)."""
        self._about_to_wait(cast("str", caller.flight.key))
        # KeyboardInterrupt while waiting: run()'s repair makes the caller leave
        acquired = waker.acquire(timeout=_remaining(deadline))
        with self._mutex:
            leads = self._machine.woken(caller, _get_ident(), acquired=acquired)
            if leads is not None:
                return leads
            self._signal()
        raise SyncTimeout(caller.flight.key, timeout if timeout is not None else 0.0)

    def _signal(self) -> None:
        """Tell the callers of every flight the machine noted (held: the mutex); as SyncGuard's."""
        self._machine.wake_noted(_release)

    @staticmethod
    def _served(caller: Caller) -> Outcome[T | None]:
        """A follower's outcome: its flight's, in this process or (through its leader) another."""
        flight = caller.flight
        data = cast("tuple[int, bool, bool] | None", flight.data)
        error = flight.error
        if data is None:  # the leader was interrupted before the run's generation was known
            raise SyncFailed(flight.key, 0, repr(error)) from error
        generation, fresh, remote = data
        if error is not None:
            if type(error) is SyncFailed and remote:
                raise SyncFailed(flight.key, generation, error.error) from error
            raise SyncFailed(flight.key, generation, repr(error)) from error
        value: T | None = flight.value  # type: ignore[assignment]  # the leader's fn returned it
        fresh = fresh and caller.fresh
        return Outcome(value, generation, False, fresh, flight.served - 1, remote)  # noqa: FBT003

    def _lock(self, key: str, base: str) -> tuple[FileLock, Locked]:
        """
        The key's pooled ``FileLock``: only the leader of the key's run in this guard acquires it.

        One instance per key, so no acquisition pays for building one. It is
        never shared between concurrent threads or tasks: the machine lets
        one leader per key at a time reach it, and that leader releases it
        before its flight ends.
        """
        locks = self._locks
        pooled = locks.get(key)
        if pooled is None:
            path = base + ".lock"
            check = Locked(path)
            pooled = FileLock(path, thread_local=False, on_acquired=check), check
            with self._mutex:
                if len(locks) >= _LOCKS_MAX:  # the oldest unheld ones go
                    unheld = [k for k, v in locks.items() if not v[0].is_locked]
                    for old in unheld[: _LOCKS_MAX // 4]:
                        del locks[old]
                locks[key] = pooled
        return pooled

    def _hold(
        self,
        key: str,
        fn: Callable[[], T],
        policy: str,
        *,
        deadline: float | None,
        timeout: float | None,
        ran: list[int],
    ) -> Serve | tuple[T, int]:
        """
        Take the key's file lock, then run or be served as the policy decides.

        :raises _Withdraw: refused (``"reject"``) or timed out at the file
            lock, before anything ran: the lead passes on.
        """
        base = f"{self._dir}/{_stem(key)}"
        lock, check = self._lock(key, base)
        seen: Record | None = None
        told = False  # on_wait called
        pause = _PAUSE_MIN
        while True:
            if not _try(lock, 0):
                if seen is None:
                    seen = self._states.peek(key, base + ".state")
                    self._contended(key, policy, seen)
                if not told:
                    told = True
                    self._about_to_wait(key)
                with self._holding():
                    acquired = _try(lock, _remaining(deadline))
                if not acquired:
                    raise _Withdraw(SyncTimeout(key, timeout or 0.0), timed_out=True)
            try:
                result = self._locked(key, fn, policy, seen, base, ran, check)
            finally:
                lock.release()
            if type(result) is not _Retry:
                return result
            # The key is held through a lock file removed from the path (or
            # this caller's own was removed before it could run): wait for
            # that holder to end or to die, polling, as a lock cannot wait.
            busy = result.record
            if seen is None and busy is not None:
                seen = busy  # the run in flight when this caller asked
                self._contended(key, policy, seen)
            if not told:
                told = True
                self._about_to_wait(key)
            left = _remaining(deadline)
            if left == 0:
                raise _Withdraw(SyncTimeout(key, timeout or 0.0), timed_out=True)
            with self._holding():
                time.sleep(pause if left < 0 else min(pause, left))
            pause = min(pause * 2, _PAUSE_MAX)

    def _contended(self, key: str, policy: str, seen: Record) -> None:
        """Refuse a caller that found the key held, as the policy says (``"reject"``)."""
        try:
            _policy.contended(key, policy, seen)
        except SyncInProgress as refused:
            with self._mutex:
                self._machine.rejected += 1
            raise _Withdraw(refused, timed_out=False) from None

    @contextlib.contextmanager
    def _holding(self) -> Iterator[None]:
        """Count the leader as waiting for another process's hold of its key, meanwhile."""
        with self._mutex:
            self._counts.holding += 1
        try:
            yield
        finally:
            with self._mutex:
                self._counts.holding -= 1

    def _locked(  # noqa: C901, PLR0917 - one caller; a run between its two stores, inline
        self,
        key: str,
        fn: Callable[[], T],
        policy: str,
        seen: Record | None,
        base: str,
        ran: list[int],
        check: Locked,
    ) -> Serve | tuple[T, int] | _Retry:
        """
        Holding the key's file lock: what `_policy` decides, done.

        Unless the record names a run in flight through another lock file, by
        a process still alive (this one's was removed while it ran, and a new
        one made): then, or if this caller's own lock file is removed before
        its run could begin, nothing runs (a `_Retry`).
        """
        path = base + ".state"
        fd = open_state(path)
        try:
            raw, state = self._states.read_held(fd, key, path)
            served = _policy.decide(policy, seen, state)
            if served is not None:
                return served
            held = check.ident
            if state.started > state.finished and holds_elsewhere(state, held):
                return _Retry(state)
            generation, boot, reserved = next_generation(key, base, state, durable=self.durable)
            start = _policy.start(state, generation)
            HELD.add(held)  # before the start record names it: see holds_elsewhere
            try:
                fd, raw, state = self._states.store(
                    fd, raw, path, key, state, fields=(*start, boot, reserved), lock=held
                )
                # A newcomer that made a new lock file before this record was
                # written read the one before: it runs, and this caller must not.
                if not check.still():
                    return _Retry(None)
                ran[0] = generation
                try:
                    value = fn()
                except BaseException as exc:
                    end = _policy.end(state, generation, repr(exc))
                    try:
                        if end is not None:  # pragma: no branch - this run holds the key
                            fd, raw, state = self._states.store(
                                fd, raw, path, key, state, fields=(*end, boot, reserved)
                            )
                    except Exception as write_error:  # noqa: BLE001 - the run's own error goes on
                        # The start record stays the newest: the next caller runs again.
                        if hasattr(exc, "add_note"):  # pragma: no branch - Python 3.11 and later
                            exc.add_note(f"{key}: the run's end was not recorded: {write_error!r}")
                    else:
                        self._states.remember(path, raw, state)
                    raise
                end = _policy.end(state, generation, None)
                if end is not None:  # pragma: no branch - this run holds the key
                    fields = (*end, boot, reserved)
                    fd, raw, state = self._states.store(fd, raw, path, key, state, fields=fields)
                    self._states.remember(path, raw, state)
                return value, generation
            finally:
                HELD.discard(held)
        finally:
            if fd is not None:
                os.close(fd)

    def _read(self, key: str, path: Path) -> FileGuardState:
        """The state file at *path*, read as an unlocked caller reads it."""
        r = self._states.peek(key, os.fspath(path))
        if r is UNKNOWN:
            return FileGuardState(key)
        return FileGuardState(key, r.started, r.finished, r.error, r.pid)

    def _about_to_wait(self, key: str) -> None:
        hook = self.on_wait
        if hook is not None:
            hook(key)


_allocate_lock: Final = threading.Lock
_get_ident: Final = threading.get_ident


def _release(data: object) -> None:
    """Release a caller's waker (``data`` is ``(waker, policy)``), if it has one and it is held."""
    if data is not None:
        with contextlib.suppress(RuntimeError):  # released already, by an interrupted signal
            cast("tuple[threading.Lock, str]", data)[0].release()


def _try(lock: FileLock, timeout: float) -> bool:
    """Acquire *lock* within *timeout* seconds (-1: for ever); False if it stayed held."""
    while True:
        try:
            lock.acquire(timeout=timeout)
        except Timeout:
            return False
        except Moved:
            continue  # the file was removed or replaced while this caller waited on it
        return True


@final
class _Retry:
    """Nothing ran: the key is held through another lock file (*record*), or this one moved."""

    __slots__ = ("record",)

    def __init__(self, record: Record | None) -> None:
        self.record = record


_PAUSE_MIN: Final = 0.001
_PAUSE_MAX: Final = 0.05  # seconds between looks at a hold through a removed lock file


def _remaining(deadline: float | None) -> float:
    """Seconds left before *deadline*, for a lock's timeout: -1 waits for ever."""
    if deadline is None:
        return -1
    return max(deadline - time.monotonic(), 0.0)
