"""
Single flight per key: no two runs of one key at once, and no request lost.

The incident: a controller read "sync in progress" under a read lock, then
incremented the count under a read lock, so 47 syncs of one app ran at once;
the documented fix rejected a second request, losing any update that landed
after the running sync had read the repository. The guards here do neither.

- :class:`SyncGuard` for threads, :class:`AsyncSyncGuard` for asyncio tasks,
  :class:`FileSyncGuard` for the processes of one host: one policy, written
  once as a pure state machine, with three front ends that only add waiting.
- :class:`Outcome`: what a call got, with the run's generation, a fencing
  token; :class:`Fence` checks it on the writer's side.
- :class:`GuardStatistics`: a frozen snapshot from ``statistics()``.

Policies (``policy=``): ``"coalesce"`` (the default: a caller that arrives
during a run is served by the next run, shared by everyone who arrived
during the same run), ``"share"`` (join the run in flight, as Go's
``singleflight`` does) and ``"reject"`` (raise :class:`~syncsafe.SyncInProgress`).

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from syncsafe.guard._async import AsyncSyncGuard
from syncsafe.guard._file import FileGuardState, FileSyncGuard
from syncsafe.guard._machine import Policy
from syncsafe.guard._threaded import SyncGuard
from syncsafe.guard._values import Fence, GuardStatistics, Outcome

__all__ = [
    "AsyncSyncGuard",
    "Fence",
    "FileGuardState",
    "FileSyncGuard",
    "GuardStatistics",
    "Outcome",
    "Policy",
    "SyncGuard",
]
