"""
Single flight per key: no two runs of one key at once, and no request lost.

The incident: a controller read "sync in progress" under a read lock, then
incremented the count under a read lock, so 47 syncs of one app ran at once;
the documented fix rejected a second request, losing any update that landed
after the running sync had read the repository. The guards here do neither.

- [`SyncGuard`][syncsafe.guard.SyncGuard] for threads,
  [`AsyncSyncGuard`][syncsafe.guard.AsyncSyncGuard] for asyncio tasks,
  [`FileSyncGuard`][syncsafe.guard.FileSyncGuard] for the processes of one host,
  [`EtcdSyncGuard`][syncsafe.guard.EtcdSyncGuard] for every process on every host that shares an
  etcd cluster: one policy, written once as pure functions, with front ends that only add storage
  and waiting.
- [`current_run`][syncsafe.guard.current_run]: inside an etcd run, its
  [`EtcdRun`][syncsafe.guard.EtcdRun] (its generation, ``check()`` of its lease, fenced writes).
- [`Outcome`][syncsafe.guard.Outcome]: what a call got, with the run's generation, a fencing
  token; [`Fence`][syncsafe.guard.Fence] checks it on the writer's side.
- [`GuardStatistics`][syncsafe.guard.GuardStatistics]: a frozen snapshot from ``statistics()``.

Policies (``policy=``): ``"coalesce"`` (the default: a caller that arrives
during a run is served by the next run, shared by everyone who arrived
during the same run), ``"share"`` (join the run in flight, as Go's
``singleflight`` does) and ``"reject"`` (raise [`SyncInProgress`][syncsafe.errors.SyncInProgress]).

!!! note "Added in version 0.1.0"
"""

from __future__ import annotations

from syncsafe.guard._async import AsyncSyncGuard
from syncsafe.guard._etcd import EtcdAuth, EtcdGuardState, EtcdRun, EtcdSyncGuard, EtcdTLS
from syncsafe.guard._file import FileGuardState, FileSyncGuard
from syncsafe.guard._k8s_fence import GENERATION_ANNOTATION, fenced_patch
from syncsafe.guard._machine import Policy
from syncsafe.guard._run import current_run
from syncsafe.guard._threaded import SyncGuard
from syncsafe.guard._values import Fence, GuardStatistics, Outcome

__all__ = [
    "GENERATION_ANNOTATION",
    "AsyncSyncGuard",
    "EtcdAuth",
    "EtcdGuardState",
    "EtcdRun",
    "EtcdSyncGuard",
    "EtcdTLS",
    "Fence",
    "FileGuardState",
    "FileSyncGuard",
    "GuardStatistics",
    "Outcome",
    "Policy",
    "SyncGuard",
    "current_run",
    "fenced_patch",
]
