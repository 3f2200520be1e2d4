"""
The lease an [`EtcdSyncGuard`][syncsafe.guard.EtcdSyncGuard] holds its keys on, and its renewal.

A guard has one lease at a time, granted on first use. A thread renews it
every third of its TTL; what the guard can prove about it is a deadline on
the monotonic clock: the send time of the last acknowledged grant or
keepalive, plus the TTL. Past it, or once etcd says the lease is gone, the
lease is lost: runs on it fail [`check`][syncsafe.guard.EtcdRun.check], and the
next caller is granted a new one. A lease that may hold what no run will end
(a take or an end whose commit is unknown) is given up: no longer renewed,
and revoked in the background, so that etcd frees its keys within the TTL.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, final

if TYPE_CHECKING:
    from syncsafe.guard._etcd_client import EtcdClient

__all__ = ["Lease", "Leases"]


@final
class Lease:
    """One etcd lease of the guard, and what the guard can prove about it."""

    __slots__ = ("deadline", "id", "lost", "ttl")

    def __init__(self, lease_id: int, ttl: int, sent: float) -> None:
        self.id = lease_id
        self.ttl = ttl
        self.deadline = sent + ttl
        """Monotonic: the send time of the last acknowledged grant or keepalive, plus the TTL."""
        self.lost: str | None = None
        """Why the lease can no longer be proved alive, once it cannot."""

    def problem(self) -> str | None:
        """Why the lease can no longer be proved alive, or ``None`` while it can."""
        if self.lost is None and time.monotonic() >= self.deadline:
            self.lost = f"no keepalive acknowledged within its {self.ttl} s TTL"
        return self.lost


@final
class Leases:
    """A guard's current lease: granted when needed, renewed by a thread, given up or revoked."""

    __slots__ = ("_client", "_closed", "_keeper", "_lock", "current", "ttl")

    def __init__(self, client: EtcdClient, ttl: float) -> None:
        self._client = client
        self.ttl = math.ceil(ttl)
        """The TTL asked for, in whole seconds (etcd may grant more)."""
        self._lock = threading.Lock()
        self.current: Lease | None = None
        """The lease runs are taken on now, if one was granted and not given up."""
        self._keeper: threading.Thread | None = None
        self._closed = threading.Event()

    def live(self, grant: Callable[[int], tuple[int, int]]) -> Lease:
        """
        The current lease, or a new one from *grant* if there is none or it was lost.

        *grant* asks etcd for a lease of the TTL it is given and returns its
        id and granted TTL (0: as asked); its errors go to the caller.
        """
        with self._lock:
            lease = self.current
            if lease is not None and lease.problem() is None:
                return lease
            if lease is not None:
                self._revoke_in_background(lease.id)
            sent = time.monotonic()
            lease_id, granted = grant(self.ttl)
            lease = self.current = Lease(lease_id, granted or self.ttl, sent)
            if self._keeper is None:
                self._keeper = threading.Thread(
                    target=self._keep_alive, name="syncsafe-etcd-keepalive", daemon=True
                )
                self._keeper.start()
            return lease

    def abandon(self, lease: Lease, why: str) -> None:
        """Stop renewing *lease* and revoke it (in the background): it may hold what no run ends."""
        with self._lock:
            if lease.lost is None:
                lease.lost = f"given up: {why}"
            if self.current is lease:
                self.current = None
        self._revoke_in_background(lease.id)

    def close(self) -> None:
        """Stop renewing and revoke the current lease (every key held on it is freed)."""
        self._closed.set()
        keeper = self._keeper
        if keeper is not None:
            keeper.join()
        with self._lock:
            lease, self.current = self.current, None
        if lease is not None and lease.lost is None:
            lease.lost = "the guard was closed"
            self._revoke_quietly(lease.id)

    def _revoke_in_background(self, lease_id: int) -> None:
        threading.Thread(target=self._revoke_quietly, args=(lease_id,), daemon=True).start()

    def _revoke_quietly(self, lease_id: int) -> None:
        with contextlib.suppress(Exception):  # it expires by itself within its TTL
            self._client.lease_revoke(lease_id)

    def _keep_alive(self) -> None:
        """Renew the current lease every third of its TTL until closed."""
        while True:
            lease = self.current
            interval = 1.0 if lease is None else max(lease.ttl / 3, 0.1)
            if self._closed.wait(interval):
                return
            lease = self.current
            if lease is None or lease.problem() is not None:
                continue
            sent = time.monotonic()
            try:
                ttl = self._client.lease_keepalive(lease.id)
            except Exception:  # noqa: BLE001, S112 - the deadline says what can be proved
                continue
            if ttl <= 0:
                lease.lost = "etcd says the lease is gone"
            elif lease.lost is None:
                lease.deadline = max(lease.deadline, sent + ttl)
