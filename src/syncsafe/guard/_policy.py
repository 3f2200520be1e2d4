"""
The single-flight policy of an out-of-process backend, as pure functions.

`syncsafe.guard._machine` decides for the callers of one process, who
meet in memory. This module decides for the runs of one key across
processes (or hosts), who meet only in a stored **record**. It has no I/O, no
locks and no clock: a backend loads and stores the record and waits; every
rule of the policy is here. [`FileSyncGuard`][syncsafe.guard.FileSyncGuard] is one such
backend (a lock file and a state file per key); a store with a
compare-and-swap on a revision (an etcd transaction) is another.

The record
----------

A backend stores, per key, one record with (at least) these fields:

``started``
    The generation of the newest run of the key that started: the last
    generation handed out for the key, 0 if none ever was.
``finished``
    The generation of the newest run that ended (returned or raised), 0 if
    none did. Never above ``started``; below it while a run holds the key,
    or after a run that died (a crash: a run that never wrote its end).
``error``
    What the run ``finished`` raised, as text, or ``None`` if it returned.

Anything else a backend keeps beside them (a pid, a boot, a ceiling, a
lease) is its own and is not read here. A record is any object with those
three attributes (`Held`); `EMPTY` is the record of a key no run
ever started.

The calls, in order
-------------------

A caller of ``run(key, fn, policy)``:

1. tries to **take the key** (the file lock; in a compare-and-swap store, the
   record itself: see below). If it is free, the caller holds it and has no
   ticket (``seen = None``); go to 3.
2. Otherwise it loads the record as it is now, without holding the key: that
   is its **ticket**, ``seen`` (`UNKNOWN` if no whole record could be
   read: then no finished run can serve it). `contended` says whether
   it may wait (``"reject"`` raises [`SyncInProgress`][syncsafe.errors.SyncInProgress]). It
   waits until it can take the key (or its timeout expires: it then simply
   leaves; nothing was stored for it).
3. Holding the key, it loads the record again (``current``) and asks
   `decide`: either a finished run serves it (a `Serve`: its
   generation, whether it started after the caller asked, its error), and
   the caller releases the key and returns; or the caller runs.
4. To run, it allocates a generation ``g`` (the backend's: see below), stores
   `start` ``(current, g)`` and only then calls the function.
5. When the function returns or raises, it stores `end`
   ``(current, g, error)`` and releases the key. `end` refuses (returns
   ``None``) if the record no longer says that ``g`` holds the key: a run
   whose hold was lost (a lease that expired) never overwrites a newer run.

A run that dies between 4 and 5 leaves ``started > finished``; the next
holder's `decide` finds no newer finished run for the callers that
waited on it, so one of them runs again.

What a backend must provide
---------------------------

- **Exclusion**: at most one holder of a key at a time, and the hold is
  released when its holder dies (an OS file lock; a lease).
- **Atomic compare-and-store of the record**: a store that replaces the
  whole record, seen by every later load, and never half written. With a
  lock, the holder's stores are exclusive by the lock and a load reads a
  whole record (two checksummed slots); in a compare-and-swap store, take
  the key by storing `start` if the record's revision is still the
  one `decide` was asked about, and decide again on a conflict.
- **A way to wait for a change**: a blocking lock, or a watch of the record
  from the revision of the ticket (waiting for ``finished`` to move and no
  live holder).
- **Generations that never repeat** for a key: `next_generation` is
  the least a run may take; a backend whose record can be lost or rolled
  back (a power loss, a restored snapshot) must take it from something that
  survives that (a ceiling reserved on disk; the store's own revision).

Why ``finished > seen.started``: ``seen.started`` is the newest run that
had started when the caller asked. Runs of one key never overlap, so the run
``finished``, if greater, started after the caller asked, and saw whatever the
caller wanted seen. ``>=`` would let the run that was in flight when the
caller asked serve it: the lost update of the incident.
"""

from __future__ import annotations

import sys
from typing import Final, NamedTuple, Protocol

from syncsafe.errors import SyncInProgress

__all__ = [
    "EMPTY",
    "UNKNOWN",
    "Held",
    "Serve",
    "State",
    "contended",
    "decide",
    "end",
    "may_serve",
    "next_generation",
    "start",
]


class Held(Protocol):
    """A stored record, as the policy reads it: any object with these three fields."""

    @property
    def started(self) -> int: ...
    @property
    def finished(self) -> int: ...
    @property
    def error(self) -> str | None: ...


class State(NamedTuple):
    """The policy's fields of a record: what `start` and `end` make."""

    started: int
    finished: int
    error: str | None


class Serve(NamedTuple):
    """A finished run serves the caller: its generation, freshness, and what it raised."""

    generation: int
    fresh: bool
    """Whether the run started after the caller asked."""
    error: str | None


EMPTY: Final = State(0, 0, None)
"""The record of a key no run ever started."""
UNKNOWN: Final = State(sys.maxsize, sys.maxsize, None)
"""The ticket of a caller that found no whole record: no finished run can serve it."""


def contended(key: str, policy: str, seen: Held) -> None:
    """
    Refuse a caller that found the key held and saw *seen*, if its policy says so.

    :raises SyncInProgress: under ``"reject"``.
    """
    if policy == "reject":
        raise SyncInProgress(key, 0 if seen.started == UNKNOWN.started else seen.started)


def may_serve(policy: str, seen: Held, finished: int) -> bool:
    """
    Whether the run *finished*, now ended, may serve a caller who saw *seen* when it asked.

    Under ``"coalesce"`` (and ``"reject"``, whose callers never wait), only
    a run that started after the caller asked: ``finished > seen.started``.
    Under ``"share"``, also the run that was in flight when it asked.
    """
    if policy == "share" and seen.started > seen.finished:
        return finished >= seen.started
    return finished > seen.started


def decide(policy: str, seen: Held | None, current: Held) -> Serve | None:
    """
    Holding the key, with *current* the record: ``None`` to run, or the run that serves the caller.

    *seen* is the caller's ticket (``None`` if it took the key at once: it
    runs).
    """
    if seen is None or not may_serve(policy, seen, current.finished):
        return None
    return Serve(current.finished, current.finished > seen.started, current.error)


def next_generation(current: Held) -> int:
    """The least generation a run starting after *current* may take."""
    return current.started + 1


def start(current: Held, generation: int) -> State:
    """
    The record to store before running as *generation*, holding the key with *current*.

    :raises ValueError: *generation* is not above every one *current* handed out.
    """
    if generation <= current.started:
        msg = (
            f"generation {generation}: a run must take a generation above {current.started}, "
            "the newest one handed out"
        )
        raise ValueError(msg)
    return State(generation, current.finished, current.error)


def end(current: Held, generation: int, error: str | None) -> State | None:
    """
    The record to store when the run *generation* ended (with *error*, or ``None``).

    ``None`` if *current* says that another run started since: this one lost
    its hold, and must not overwrite that run's record.
    """
    if current.started != generation:
        return None
    return State(generation, generation, error)
