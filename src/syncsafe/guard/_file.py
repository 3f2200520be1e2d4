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
   disk: see below), calls the function, writes ``finished = g + 1`` and
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

How ``S`` is written (the format: `syncsafe.guard._record`): in place,
not replaced by rename. ``S`` has two fixed-size slots, each blank or one
JSON record followed by its CRC-32 (written in JSON whitespace). A write puts
the new record into the slot that does not hold the newest one, which stays
whole beside it; the newest record whose CRC matches is the state. Why every
reader sees one whole version, as a rename would give:

- each in-place write holds an exclusive ``flock`` of ``S``, and a reader
  without ``L`` (step 1, and [`FileSyncGuard.state`][syncsafe.guard.FileSyncGuard.state]) reads
  under a shared one. Without it, a read that copies slot 0 and then slot 1 while
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
of `RESERVE` at a time, so one run in `RESERVE` pays for an
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
gets ``Outcome(value=None, remote=True)``, or [`SyncFailed`][syncsafe.errors.SyncFailed]
with the other process's error as text.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import re
import stat
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Final, TypeVar, cast, final

import attrs
from filelock import FileLock, Timeout

from syncsafe._atomic import atomic_replace, atomic_replace_open, fsync_directory
from syncsafe.errors import (
    GuardStateCorrupt,
    SyncFailed,
    SyncInProgress,
    SyncTimeout,
)
from syncsafe.guard import _policy
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
from syncsafe.guard._values import GuardStatistics, Outcome, new_outcome

if sys.platform != "win32":  # pragma: no branch - the state file is read and written under flock
    import fcntl

__all__ = ["RESERVE", "FileGuardState", "FileSyncGuard", "key_file_stem"]

T = TypeVar("T")

_READ_SIZE: Final = 1 << 16
RESERVE: Final = 1024
"""How many generations a durable [`FileSyncGuard`][] reserves on disk at a time."""
_LOCKS_MAX: Final = 256  # pooled FileLock instances, one per key recently run
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
    _locks: dict[str, tuple[FileLock, _Locked]] = attrs.field(init=False, repr=False, factory=dict)
    # Mutable, and not an attrs field of its own: a run counts without
    # going through the class's frozen-field check on every assignment.
    _counts: _Counts = attrs.field(init=False, repr=False, factory=_Counts)
    # For the last state files this guard wrote: the bytes it left and their
    # record. A run that finds the file as it was left needs no parse.
    _known: dict[str, tuple[bytes, Record]] = attrs.field(init=False, repr=False, factory=dict)

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

    def _lock(self, key: str, base: str) -> tuple[FileLock, _Locked]:
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
            check = _Locked(path)
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
                    seen = self._peek(key, base + ".state")
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
        check: _Locked,
    ) -> Serve | tuple[T, int] | _Retry:
        """
        Holding the key's file lock: what `_policy` decides, done.

        Unless the record names a run in flight through another lock file, by
        a process still alive (this one's was removed while it ran, and a new
        one made): then, or if this caller's own lock file is removed before
        its run could begin, nothing runs (a `_Retry`).
        """
        path = base + ".state"
        fd = _open_state(path)
        try:
            raw, state = self._read_held(fd, key, path)
            served = _policy.decide(policy, seen, state)
            if served is not None:
                return served
            held = check.ident
            if state.started > state.finished and _holds_elsewhere(state, held):
                return _Retry(state)
            generation, boot, reserved = self._next_generation(key, base, state)
            start = _policy.start(state, generation)
            _HELD.add(held)  # before the start record names it: see _holds_elsewhere
            try:
                fd, raw, state = self._store(
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
                            fd, raw, state = self._store(
                                fd, raw, path, key, state, fields=(*end, boot, reserved)
                            )
                    except Exception as write_error:  # noqa: BLE001 - the run's own error goes on
                        # The start record stays the newest: the next caller runs again.
                        if hasattr(exc, "add_note"):  # pragma: no branch - Python 3.11 and later
                            exc.add_note(f"{key}: the run's end was not recorded: {write_error!r}")
                    else:
                        self._remember(path, raw, state)
                    raise
                end = _policy.end(state, generation, None)
                if end is not None:  # pragma: no branch - this run holds the key
                    fields = (*end, boot, reserved)
                    fd, raw, state = self._store(fd, raw, path, key, state, fields=fields)
                    self._remember(path, raw, state)
                return value, generation
            finally:
                _HELD.discard(held)
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
        fd = _open_state(path, os.O_RDONLY)
        if fd is None:
            return 0
        try:
            raw = _read_all(fd)
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

    def _write_ceiling(self, key: str, path: str, reserved: int) -> None:
        """Put *reserved* on disk as *key*'s ceiling: a new file, fsynced, renamed, dir fsynced."""
        data = json.dumps({"format": 1, "key": key, "reserved": reserved}) + "\n"
        # A fixed temporary name: one writer at a time, under the key's lock.
        atomic_replace(path, data.encode("ascii"), mode=0o644, temp=path + ".tmp")

    def _parse(self, raw: bytes, key: str, path: str, *, no_record: Record | None = None) -> Record:
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
        lock: tuple[int, int] = (0, 0),
    ) -> tuple[int, bytes, Record]:
        """
        Write *fields* as the newest record of the state file open as *fd*, holding *raw*.

        Returns the file's fd (a new one if the file was replaced), the
        bytes it now holds, and the record. Only the holder of the key's
        file lock writes; a start record names that file as *lock*.
        """
        started, finished, error, boot, reserved = fields
        pid, since = _self()
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
            fd, raw = self._replace(fd, path, record, size)
            at = 0
        index = at // size
        return (
            fd,
            raw,
            Record(started, finished, error, pid, boot, reserved, size, index, *lock, since),
        )

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
        ever finds it partly written. Unlike every other whole-file
        replacement, not durable (no fsync of the file or its directory): the
        state file is never fsynced, and a power loss that takes it back is
        what the ceiling is for. Its descriptor stays open: the run goes on
        writing its records in place through it.
        """
        raw = record_slot(record, size=size) + blank_slot(size)
        new = atomic_replace_open(path, raw, mode=0o644, temp=path + ".tmp", durable=False)
        if fd is not None:
            with contextlib.suppress(OSError):  # the old file is replaced: its close cannot matter
                os.close(fd)
        return new, raw

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
        hook = self.on_wait
        if hook is not None:
            hook(key)


_ZERO: Final = Record(0, 0, None, 0)
# A state no run can serve: what a waiter saw in a file that held no record.
_UNKNOWN: Final = Record(sys.maxsize, sys.maxsize, None, 0)


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
        except _Moved:
            continue  # the file was removed or replaced while this caller waited on it
        return True


class _Moved(Exception):
    """The locked file is no longer the one at the lock's path."""


@final
class _Locked:
    """
    The check that the file just locked is the one at *path*, run at each acquisition.

    A caller that opened the lock file, then waited while the file was
    removed (a cleaner of temporary files) and another made a new one, holds
    a lock no later caller contends for: it must lock the new file instead.
    It also keeps the identity of the file locked, which a start record
    names, and `still` checks it again.
    """

    __slots__ = ("ident", "path")

    def __init__(self, path: str) -> None:
        self.path = path
        self.ident = (0, 0)
        """``(st_dev, st_ino)`` of the file last locked."""

    def __call__(self, fd: int) -> None:
        held = os.fstat(fd)
        self.ident = (held.st_dev, held.st_ino)
        if not self.still():
            raise _Moved(self.path)

    def still(self) -> bool:
        """Whether the file last locked is still the one at the path."""
        try:
            here = os.stat(self.path)  # noqa: PTH116 - a str path, and a stat to compare
        except FileNotFoundError:
            return False
        return (here.st_dev, here.st_ino) == self.ident


@final
class _Retry:
    """Nothing ran: the key is held through another lock file (*record*), or this one moved."""

    __slots__ = ("record",)

    def __init__(self, record: Record | None) -> None:
        self.record = record


_PAUSE_MIN: Final = 0.001
_PAUSE_MAX: Final = 0.05  # seconds between looks at a hold through a removed lock file
_HELD: Final[set[tuple[int, int]]] = set()
"""The lock files (``st_dev``, ``st_ino``) this process holds for a run, from its start on."""
_SELF: list[tuple[int, int]] = [(0, 0)]  # this process: (pid, start time), read again after a fork


def _self() -> tuple[int, int]:
    """This process's pid and start time (0 if it cannot be told)."""
    pid = os.getpid()
    known = _SELF[0]
    if known[0] != pid:
        found = _process(pid)
        known = pid, 0 if found is None else found[1]
        _SELF[0] = known
    return known


def _process(pid: int) -> tuple[str, int] | None:
    """
    The state and start time of process *pid* (``/proc/<pid>/stat`` fields 3 and 22).

    ``None`` if there is no such process (or no ``/proc``).
    """
    try:
        with open(f"/proc/{pid}/stat", "rb") as file:  # noqa: PTH123 - one small read
            raw = file.read()
    except OSError:
        return None
    fields = raw[raw.rfind(b")") + 2 :].split()  # after the command name, which may hold anything
    try:
        return fields[0].decode("ascii"), int(fields[19])
    except (IndexError, ValueError, UnicodeDecodeError):
        return None


def _holds_elsewhere(record: Record, held: tuple[int, int]) -> bool:
    """
    Whether the run in flight *record* names holds the key through a lock file other than *held*.

    That is, through a lock file that was removed from the path while it
    ran, by a process that is still alive: of this boot, its pid alive (not
    a zombie) with the start time the record gives, or, in this process, a
    run that still holds that lock file. A record that does not name its
    lock file (written before format 3), or its process's start time, names
    no such holder: its holder is taken to be gone, as before.
    """
    lock = (record.lock_dev, record.lock_ino)
    if lock in {held, (0, 0)} or not record.since:
        return False  # the file this caller holds: its holder is gone
    boot = _boot_id()
    if not boot or record.boot != boot:
        return False  # every process of another boot is gone
    pid, since = _self()
    if record.pid == pid and record.since == since:
        return lock in _HELD
    found = _process(record.pid)
    return found is not None and found[0] not in {"Z", "X"} and found[1] == record.since


def _open_state(path: str, flags: int = os.O_RDWR) -> int | None:
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
