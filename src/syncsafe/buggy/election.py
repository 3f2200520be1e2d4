"""
Leader election on an etcd lease without fencing, as client-go's ``leaderelection`` does it.

The storm's controllers elected a leader this way: a replica that wins a
lease-backed key believes it leads until it fails to renew, and acts on that
belief. client-go says so itself: it "does not guarantee that only one
client is acting as a leader (a.k.a. fencing)". A leader that pauses (a
long GC, a stopped VM, a partition) past its lease loses the key to another
replica; when it wakes, it still believes it leads until its next renewal,
and its writes land over the new leader's, because nothing on the write path
checks who leads.

- `UnfencedElector.campaign`: take the leader key on a lease, if free.
- `UnfencedElector.renew`: one keepalive; the only place a leader
  learns that it lost.
- `UnfencedElector.write`: a plain put, guarded by the local belief only.

Replaced by [`syncsafe.EtcdSyncGuard`][syncsafe.guard.EtcdSyncGuard], whose
``current_run().fenced_put`` writes in one transaction that commits only while the run holds the
key. Needs the ``etcd`` extra.
"""

from __future__ import annotations

from typing import final

from syncsafe.guard._etcd_client import EtcdClient, b64

__all__ = ["UnfencedElector"]


@final
class UnfencedElector:
    """One replica's leader election on *name*, with a lease of *ttl* seconds (buggy: unfenced)."""

    def __init__(self, endpoints: list[str], name: str, identity: str, ttl: int) -> None:
        self.client = EtcdClient(endpoints, request_timeout=2.0)
        self.name = name
        self.identity = identity
        self.ttl = ttl
        self.lease = 0
        self.leading = False
        """What this replica believes: set by a won campaign, cleared only by a failed renewal."""

    def campaign(self) -> bool:
        """Take the leader key if nobody holds it; return whether this replica now leads."""
        self.lease, _ttl = self.client.lease_grant(self.ttl)
        put = {"key": b64(self.name), "value": b64(self.identity), "lease": str(self.lease)}
        absent = {"target": "CREATE", "key": b64(self.name), "create_revision": "0"}
        absent["result"] = "EQUAL"
        response = self.client.txn([absent], [{"requestPut": put}], repeatable=True)
        self.leading = response["succeeded"]
        return self.leading

    def renew(self) -> bool:
        """Renew the lease once; a replica learns here, and only here, that it lost."""
        self.leading = self.leading and self.client.lease_keepalive(self.lease) > 0
        return self.leading

    def write(self, name: str, value: bytes) -> bool:
        """
        Write *value* to *name* if this replica believes it leads. The bug: no fence.

        Return whether it wrote.
        """
        if not self.leading:
            return False
        self.client.txn(
            [], [{"requestPut": {"key": b64(name), "value": b64(value)}}], repeatable=False
        )
        return True
