"""
EtcdSyncGuard against a real single-member etcd on loopback.

- uncontended ``run``, timed in alternating batches beside the floor of the
  same work done by hand over the same client (one lease reused, a txn to
  take the key, a txn to release it) and beside a peer: etcd3gw's ``Lock``
  acquire and release (a lease grant, a txn, a txn);
- contended: 4 guards (each its own client, lease and in-memory machine, as
  4 processes would have) x 16 threads calling for one key;
  ``extra_info["round_trips_per_call"]`` is the etcd requests per served call.
"""

from __future__ import annotations

import os
import threading
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

import pytest
from etcd3gw.client import Etcd3Client
from pytest_benchmark.fixture import BenchmarkFixture

from benchmarks._interleave import compare
from syncsafe import EtcdSyncGuard
from syncsafe.guard._etcd_client import EtcdClient, b64
from syncsafe.testing import EtcdCluster

FULL = os.environ.get("SYNCSAFE_BENCH_FULL") == "1"

Measure = Callable[[str, bool], BenchmarkFixture]


def _sync() -> int:
    return 1


@pytest.fixture
def etcd_server(tmp_path: Path) -> Iterator[EtcdCluster]:
    """A real single-member etcd on loopback, killed by its pid afterwards."""
    with EtcdCluster(tmp_path / "etcd", 1) as cluster:
        yield cluster


def test_etcd_guard_uncontended_interleaved(measure: Measure, etcd_server: EtcdCluster) -> None:
    """The guard, the hand-written floor and etcd3gw's Lock, in alternating batches."""
    endpoints = etcd_server.endpoints
    client = EtcdClient(endpoints, request_timeout=5.0)
    lease, _ttl = client.lease_grant(60)
    key = b64("/floor/app")
    take: list[dict[str, Any]] = [
        {"target": "CREATE", "key": key, "create_revision": "0", "result": "EQUAL"}
    ]
    put = [{"requestPut": {"key": key, "value": b64("me"), "lease": str(lease)}}]
    release = [{"requestDeleteRange": {"key": key}}]

    def floor() -> None:
        assert client.txn(take, put, repeatable=True)["succeeded"]
        _sync()
        client.txn([], release, repeatable=True)

    host, port = endpoints[0].removeprefix("http://").split(":")
    peer_client = Etcd3Client(host=host, port=int(port), timeout=5)

    def peer() -> None:
        lock = peer_client.lock("app", ttl=60)
        assert lock.acquire()
        _sync()
        lock.release()

    guard = EtcdSyncGuard(endpoints, ttl=60)
    candidates = {
        "floor": floor,
        "guard": lambda: guard.run("app", _sync),
        "etcd3gw_lock": peer,
    }
    rounds, calls = (20, 50) if FULL else (1, 2)
    bench = measure("etcd-guard-interleaved", True)  # noqa: FBT003
    try:
        times = compare(bench, candidates, baseline="floor", rounds=rounds, calls=calls)
    finally:
        guard.close()
        client.lease_revoke(lease)
    assert set(candidates) == set(times)


def _requests(endpoint: str) -> int:
    """How many gRPC calls etcd has started: its own count of the requests it was sent."""
    with urllib.request.urlopen(endpoint + "/metrics", timeout=10) as response:  # noqa: S310
        text = response.read().decode()
    return sum(
        int(float(line.rsplit(" ", 1)[1]))
        for line in text.splitlines()
        if line.startswith("grpc_server_started_total{")
    )


def test_etcd_guard_contended_round_trips(measure: Measure, etcd_server: EtcdCluster) -> None:
    """4 guards x 16 threads on one key: etcd requests per served call, well below 1."""
    endpoint = etcd_server.endpoints[0]
    guards = [EtcdSyncGuard(etcd_server.endpoints, ttl=60) for _ in range(4)]
    for guard in guards:
        guard.run("warm", _sync)  # the lease, granted once per guard, is not the storm's
    calls = 20 if FULL else 2
    served = [0]
    lock = threading.Lock()

    def caller(guard: EtcdSyncGuard) -> None:
        for _ in range(calls):
            guard.run("app", _sync)
            with lock:
                served[0] += 1

    def storm() -> None:
        threads = [
            threading.Thread(target=caller, args=(guard,)) for guard in guards for _ in range(16)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    bench = measure("etcd-guard-contended", True)  # noqa: FBT003
    before = _requests(endpoint)
    try:
        once = cast("Callable[..., None]", bench.pedantic)  # untyped in pytest-benchmark
        once(storm, rounds=1, iterations=1)
    finally:
        for guard in guards:
            guard.close()
    requests = _requests(endpoint) - before - 4  # less the four closes' revokes
    assert 4 * 16 * calls == served[0]
    # A measurement, not a gate: in the one-call run of make test (2 calls a
    # thread) few callers overlap, so the ratio says little there.
    bench.extra_info["round_trips_per_call"] = round(requests / served[0], 3)
