import subprocess
import time

import pytest

from syncsafe.guard._etcd_client import EtcdClient, EtcdError, Unavailable, b64, unb64
from syncsafe.testing import EtcdCluster, etcd_binary

pytestmark = pytest.mark.etcd


def test_str_keys_are_utf8_and_int64_fields_and_absent_succeeded_are_read() -> None:
    """A str key is UTF-8 on the wire, not latin-1; base64 round-trips bytes."""
    assert "w6k=" == b64("é")
    assert "é".encode() == unb64(b64("é"))
    assert b"" == unb64(None)


def test_a_failed_compare_reads_as_succeeded_false(etcd: EtcdCluster) -> None:
    """The gateway leaves out ``succeeded`` when false; the client says False."""
    client = EtcdClient(etcd.endpoints, request_timeout=2.0)
    missing = [{"target": "CREATE", "key": b64("k"), "create_revision": "1", "result": "EQUAL"}]
    response = client.txn(
        missing,
        [{"requestPut": {"key": b64("k"), "value": b64("v")}}],
        [{"requestRange": {"key": b64("k")}}],
        repeatable=True,
    )
    assert response["succeeded"] is False
    assert [] == response["responses"][0]["response_range"].get("kvs", [])


def test_an_unknown_lease_is_not_found_and_keepalive_says_zero(etcd: EtcdCluster) -> None:
    """Putting on a lease etcd does not know is EtcdError.not_found; its keepalive TTL is 0."""
    client = EtcdClient(etcd.endpoints, request_timeout=2.0)
    with pytest.raises(EtcdError) as raised:
        client.call("/v3/kv/put", {"key": b64("k"), "value": "", "lease": "12345"}, repeatable=True)
    assert raised.value.not_found
    assert 0 == client.lease_keepalive(12345)
    lease, ttl = client.lease_grant(5)
    assert 5 == ttl
    assert 0 < client.lease_keepalive(lease) <= 5
    client.lease_revoke(lease)
    assert 0 == client.lease_keepalive(lease)
    client.lease_revoke(lease)  # revoking a lease already gone is fine


def test_a_dead_endpoint_is_rotated_past(etcd: EtcdCluster) -> None:
    """With a dead endpoint listed first, requests go to the next one."""
    dead = EtcdCluster(etcd.directory / "unused", 1).endpoints[0]  # a free port, nothing on it
    client = EtcdClient([dead, *etcd.endpoints], request_timeout=2.0)
    assert "kvs" not in client.range(b"nothing")


def test_no_quorum_is_unavailable_at_once_with_hasleader(etcd_cluster: EtcdCluster) -> None:
    """With 2 of 3 members dead, the live one answers "no leader" (hasleader), never hangs."""
    client = EtcdClient(etcd_cluster.endpoints[:1], request_timeout=1.0)
    client.range(b"k")
    etcd_cluster.kill(1, 2)
    deadline = time.monotonic() + 30.0  # a liveness bound, not a speed test
    problem = ""
    while "no leader" not in problem and time.monotonic() < deadline:
        # Until the member notices that its leader is gone, a request times out.
        with pytest.raises(Unavailable) as raised:
            client.range(b"k")
        problem = raised.value.problem
    assert "etcdserver: no leader" in problem
    assert raised.value.sent is False


def test_a_frozen_member_is_a_timeout_not_a_hang(etcd: EtcdCluster) -> None:
    """A SIGSTOPped member answers nothing: the call gives up after its bound, the watch too."""
    client = EtcdClient(etcd.endpoints, request_timeout=0.5)
    client.range(b"k")
    etcd.pause(0)
    try:
        started = time.monotonic()
        with pytest.raises(Unavailable) as raised:
            client.range(b"k")
        assert raised.value.sent is True
        client.watch_once(b"k", 1, 0.5)
        assert time.monotonic() - started < 30.0
    finally:
        etcd.resume(0)


def test_a_write_whose_answer_is_lost_is_not_sent_again(etcd: EtcdCluster) -> None:
    """A request that is not repeatable is tried once when it may have reached etcd."""
    client = EtcdClient(etcd.endpoints, request_timeout=0.5)
    etcd.pause(0)
    try:
        with pytest.raises(Unavailable, match="effect is unknown"):
            client.txn([], [{"requestPut": {"key": b64("k"), "value": b64("v")}}], repeatable=False)
    finally:
        etcd.resume(0)


def test_watch_returns_when_the_key_changes(etcd: EtcdCluster) -> None:
    """A watch from a revision already past returns at once with that event."""
    client = EtcdClient(etcd.endpoints, request_timeout=2.0)
    put = client.txn([], [{"requestPut": {"key": b64("w"), "value": b64("1")}}], repeatable=True)
    revision = int(put["header"]["revision"])
    started = time.monotonic()
    client.watch_once(b"w", revision, 20.0)
    assert time.monotonic() - started < 10.0  # it did not wait out its 20 s


def test_auth_user_and_password_become_a_token(etcd: EtcdCluster) -> None:
    """With auth enabled, a client with a user and password reads; one without is refused."""
    etcdctl = etcd_binary().with_name("etcdctl")
    where = ["--endpoints", etcd.endpoints[0]]
    for command in (
        ["user", "add", "root:rootpw"],
        ["role", "add", "root"],
        ["user", "grant-role", "root", "root"],
        ["auth", "enable"],
    ):
        subprocess.run([etcdctl, *where, *command], check=True, capture_output=True, timeout=30)
    client = EtcdClient(etcd.endpoints, request_timeout=2.0, user="root", password="rootpw")  # noqa: S106
    assert "header" in client.range(b"k")
    with pytest.raises(EtcdError):
        EtcdClient(etcd.endpoints, request_timeout=2.0).range(b"k")
