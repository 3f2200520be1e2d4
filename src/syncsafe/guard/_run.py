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

    Set by :class:`~syncsafe.EtcdSyncGuard` for the function it runs: an
    :class:`~syncsafe.EtcdRun` (its key, its generation, ``check()`` of its
    lease, fenced writes). :class:`~syncsafe.SyncGuard`,
    :class:`~syncsafe.AsyncSyncGuard` and :class:`~syncsafe.FileSyncGuard`
    do not set one, so that their hot path pays nothing for it: their
    fencing token is ``Outcome.generation``, checked by a
    :class:`~syncsafe.Fence`.

    .. versionadded:: 0.1.0
    """
    return _CURRENT.get()
