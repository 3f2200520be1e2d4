"""``current_run()``: the run executing now, for the guards that set one."""

from __future__ import annotations

import contextvars
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from syncsafe.guard._etcd import EtcdRun

__all__ = ["current_run", "reset_run", "set_run"]

_CURRENT: Final[contextvars.ContextVar[EtcdRun | None]] = contextvars.ContextVar(
    "syncsafe_current_run", default=None
)
set_run: Final = _CURRENT.set
reset_run: Final = _CURRENT.reset


def current_run() -> EtcdRun | None:
    """
    The run whose function is executing in this context, or ``None`` outside any.

    Set by [`EtcdSyncGuard`][syncsafe.guard.EtcdSyncGuard] for the function it runs: an
    [`EtcdRun`][syncsafe.guard.EtcdRun] (its key, its generation, ``check()`` of its
    lease, fenced writes). [`SyncGuard`][syncsafe.guard.SyncGuard],
    [`AsyncSyncGuard`][syncsafe.guard.AsyncSyncGuard] and
    [`FileSyncGuard`][syncsafe.guard.FileSyncGuard] do not set one, so that their hot path pays
    nothing for it: their fencing token is ``Outcome.generation``, checked by a
    [`Fence`][syncsafe.guard.Fence].

    !!! note "Added in version 0.1.0"
    """
    return _CURRENT.get()
