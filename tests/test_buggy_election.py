import time

import pytest

from syncsafe.buggy.election import UnfencedElector
from syncsafe.guard._etcd_client import EtcdClient, unb64
from syncsafe.testing import EtcdCluster

pytestmark = pytest.mark.etcd


def _read(client: EtcdClient, name: bytes) -> bytes | None:
    kvs = client.range(name).get("kvs") or []
    return unb64(kvs[0].get("value")) if kvs else None


def test_a_paused_unfenced_leader_overwrites_the_new_leaders_write(etcd: EtcdCluster) -> None:
    """The bug: a leader that sent no keepalive past its lease wakes and overwrites the new one."""
    old = UnfencedElector([*etcd.endpoints], "/leader", "old", ttl=1)
    new = UnfencedElector([*etcd.endpoints], "/leader", "new", ttl=1)
    client = EtcdClient(etcd.endpoints, request_timeout=2.0)
    assert old.campaign()
    assert not new.campaign()
    # The old leader pauses: it sends no keepalive. Its lease expires; etcd frees the key.
    deadline = time.monotonic() + 30  # a liveness bound on the lease expiry
    while _read(client, b"/leader") is not None:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert new.campaign()
    assert new.write("/out", b"new")
    # The old leader wakes: it still believes it leads, and writes before renewing.
    assert old.write("/out", b"old")
    assert b"old" == _read(client, b"/out")  # the late write landed over the new leader's
    assert not old.renew()  # it learns only now
    # The same scenario through EtcdSyncGuard is refused: see test_guard_etcd's
    # test_a_holder_paused_past_its_ttl_is_fenced_out (SIGSTOP of the holder).
