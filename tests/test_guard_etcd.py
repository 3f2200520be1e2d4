import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from hypothesis import settings

from syncsafe import (
    EtcdSyncGuard,
    EtcdTLS,
    FencedOut,
    GuardUnavailable,
    LeaseLost,
    SyncFailed,
    SyncInProgress,
    SyncTimeout,
    current_run,
)
from syncsafe.guard._etcd_client import EtcdClient, unb64
from syncsafe.testing import EtcdCluster, check_single_flight

pytestmark = pytest.mark.etcd

WORKER = Path(__file__).with_name("_etcd_worker.py")
SRC = Path(__file__).parents[1] / "src"


def _worker(command: str, **arguments: object) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, os.fspath(WORKER), command, json.dumps(arguments)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def _until(predicate: object, within: float, what: str) -> float:
    """Poll the etcd state until *predicate* holds; a liveness bound, not a speed test."""
    started = time.monotonic()
    while not predicate():  # type: ignore[operator]
        if time.monotonic() - started > within:
            pytest.fail(f"{what} did not happen within {within:g} s")
        time.sleep(0.02)
    return time.monotonic() - started


def _value(endpoints: tuple[str, ...], name: bytes) -> bytes | None:
    kvs = EtcdClient(endpoints, request_timeout=2.0).range(name).get("kvs") or []
    return unb64(kvs[0].get("value")) if kvs else None


def test_constructing_without_the_client_names_the_extra() -> None:
    """Without urllib3, importing syncsafe works and the guard's ImportError names the extra."""
    code = (
        "import sys; sys.modules['urllib3'] = None\n"
        "import syncsafe\n"
        "try:\n"
        "    syncsafe.EtcdSyncGuard(['http://127.0.0.1:1'])\n"
        "except ImportError as e:\n"
        "    print(e)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert "pip install 'syncsafe[etcd]'" in result.stdout


@pytest.mark.parametrize(
    ("arguments", "problem"),
    [
        ({"endpoints": []}, "endpoints"),
        ({"endpoints": ["127.0.0.1:2379"]}, "endpoints"),
        ({"endpoints": ["http://127.0.0.1:2379"], "ttl": 0}, "ttl"),
        ({"endpoints": ["http://127.0.0.1:2379"], "ttl": 10_000_000_000}, "ttl"),
        ({"endpoints": ["http://127.0.0.1:2379"], "request_timeout": 0}, "request_timeout"),
        ({"endpoints": ["http://127.0.0.1:2379"], "policy": "queue"}, "policy"),
    ],
)
def test_bad_arguments_are_refused(arguments: dict[str, object], problem: str) -> None:
    """Endpoints that are not URLs, a TTL etcd refuses, and unknown policies raise ValueError."""
    with pytest.raises(ValueError, match=problem):
        EtcdSyncGuard(**arguments)  # type: ignore[arg-type]


def test_runs_write_fenced_and_generations_are_etcd_revisions(etcd: EtcdCluster) -> None:
    """A run holds the key, writes fenced, and its generation is the revision it took the key at."""
    with EtcdSyncGuard(etcd.endpoints, ttl=2) as guard:
        assert current_run() is None

        def work() -> int:
            run = current_run()
            assert run is not None
            run.check()
            assert guard.state("app").holder == run.generation
            run.fenced_put("/apps/app/status", b"synced")
            run.fenced_delete("/apps/app/stale")
            return run.generation

        first = guard.run("app", work)
        second = guard.run("app", work)
        assert first.value == first.generation
        assert first.generation < second.generation
        assert (True, True, False) == (first.leader, first.fresh, first.remote)
        state = guard.state("app")
        assert (second.generation, second.generation, None, 0) == (
            state.started,
            state.finished,
            state.error,
            state.holder,
        )
        assert b"synced" == _value(etcd.endpoints, b"/apps/app/status")


def test_another_process_run_serves_a_waiting_caller_remotely(etcd: EtcdCluster) -> None:
    """A coalesce caller that waited on another guard's run is served by the next run only."""
    release = threading.Event()
    holding = threading.Event()
    with EtcdSyncGuard(etcd.endpoints, ttl=2) as one, EtcdSyncGuard(etcd.endpoints, ttl=2) as two:
        waiting = threading.Event()
        two.on_wait = lambda _key: waiting.set()

        def long_run() -> str:
            holding.set()
            release.wait(30)
            return "first"

        results: dict[str, object] = {}
        first = threading.Thread(target=lambda: results.update(ran=one.run("app", long_run)))
        first.start()
        holding.wait(30)
        second = threading.Thread(
            target=lambda: results.update(other=two.run("app", lambda: "again"))
        )
        second.start()
        waiting.wait(30)
        with pytest.raises(SyncInProgress):
            two.run("app", lambda: "never", policy="reject")
        release.set()
        first.join()
        second.join()
        ran, again = results["ran"], results["other"]
        assert "again" == again.value  # type: ignore[attr-defined]
        assert again.generation > ran.generation  # type: ignore[attr-defined]

        # share: a caller that waited on a run in flight is served by it, remotely.
        release.clear()
        holding.clear()
        waiting.clear()
        results.clear()
        first = threading.Thread(target=lambda: results.update(ran=one.run("app", long_run)))
        first.start()
        holding.wait(30)
        second = threading.Thread(
            target=lambda: results.update(other=two.run("app", lambda: "x", policy="share"))
        )
        second.start()
        waiting.wait(30)
        release.set()
        first.join()
        second.join()
        ran, shared = results["ran"], results["other"]
        assert (None, True, False) == (
            shared.value,  # type: ignore[attr-defined]
            shared.remote,  # type: ignore[attr-defined]
            shared.leader,  # type: ignore[attr-defined]
        )
        assert ran.generation == shared.generation  # type: ignore[attr-defined]
        assert 1 <= two.statistics().coalesced


def test_a_remote_failure_is_sync_failed_with_its_text(etcd: EtcdCluster) -> None:
    """A caller served by a run that raised in another guard gets SyncFailed naming the error."""
    release = threading.Event()
    holding = threading.Event()
    with EtcdSyncGuard(etcd.endpoints, ttl=2) as one, EtcdSyncGuard(etcd.endpoints, ttl=2) as two:
        waiting = threading.Event()
        two.on_wait = lambda _key: waiting.set()

        def failing() -> None:
            holding.set()
            release.wait(30)
            raise ValueError("boom")

        errors: dict[str, BaseException] = {}

        def first() -> None:
            try:
                one.run("app", failing)
            except ValueError as error:
                errors["own"] = error

        def second() -> None:
            try:
                two.run("app", lambda: None, policy="share")
            except SyncFailed as error:
                errors["remote"] = error

        threads = [threading.Thread(target=first), threading.Thread(target=second)]
        threads[0].start()
        holding.wait(30)
        threads[1].start()
        waiting.wait(30)
        release.set()
        for thread in threads:
            thread.join()
        own, remote = errors["own"], errors["remote"]
        assert isinstance(own, ValueError)
        assert isinstance(remote, SyncFailed)
        assert "ValueError('boom')" == remote.error


def test_four_processes_never_overlap_and_coalesce_on_later_runs(
    etcd: EtcdCluster, tmp_path: Path
) -> None:
    """4 processes x 4 threads x 5 calls: runs never overlap, served runs started after the ask."""
    log = tmp_path / "runs.log"
    workers = [
        _worker(
            "storm", endpoints=list(etcd.endpoints), log_path=os.fspath(log), threads=4, calls=5
        )
        for _ in range(4)
    ]
    for worker in workers:
        worker.communicate(timeout=120)
        assert 0 == worker.returncode
    lines = log.read_text().splitlines()
    running: str | None = None
    generations: list[int] = []
    position: dict[str, int] = {}  # "start G" and "ask TAG" -> line number
    served: list[tuple[str, int, int]] = []
    for number, line in enumerate(lines):
        kind, first, *rest = line.split()
        if kind == "start":
            assert running is None, f"line {number}: run {first} started during run {running}"
            running = first
            generations.append(int(first))
            position[f"start {first}"] = number
        elif kind == "end":
            assert running == first
            running = None
        elif kind == "ask":
            position[f"ask {first}"] = number
        else:
            served.append((first, int(rest[0]), int(rest[1])))
    assert generations == sorted(set(generations))
    assert 4 * 4 * 5 == len(served)
    assert len(generations) < len(served)  # callers were coalesced
    for tag, generation, fresh in served:
        assert 1 == fresh
        assert position[f"start {generation}"] > position[f"ask {tag}"]


def test_a_holder_killed_mid_run_leaves_the_key_within_ttl(etcd: EtcdCluster) -> None:
    """SIGKILL of a holder: the next caller runs within the TTL plus slack."""
    holder = _worker("hold", endpoints=list(etcd.endpoints), ttl=1)
    assert holder.stdout is not None
    taken = json.loads(holder.stdout.readline())["holding"]
    os.kill(holder.pid, signal.SIGKILL)
    holder.communicate()
    started = time.monotonic()
    with EtcdSyncGuard(etcd.endpoints, ttl=1) as guard:
        outcome = guard.run("app", lambda: "next", timeout=30)
    waited = time.monotonic() - started
    assert outcome.generation > taken
    assert waited < 1 + 5  # TTL 1 s plus a generous slack for a loaded machine
    print(f"SIGKILL recovery: {waited:.3f} s with ttl=1")  # noqa: T201 - the measured value


def test_a_holder_paused_past_its_ttl_is_fenced_out(etcd: EtcdCluster) -> None:
    """SIGSTOP past the TTL: the new holder's write lands, the resumed one's is refused."""
    holder = _worker("hold", endpoints=list(etcd.endpoints), ttl=1)
    assert holder.stdout is not None
    assert holder.stdin is not None
    taken = json.loads(holder.stdout.readline())["holding"]
    os.kill(holder.pid, signal.SIGSTOP)
    try:
        with EtcdSyncGuard(etcd.endpoints, ttl=2) as guard:
            _until(lambda: guard.state("app").holder == 0, 30, "the paused holder's lease expiry")

            def write() -> int:
                run = current_run()
                assert run is not None
                run.fenced_put("/out", b"new")
                return run.generation

            newer = guard.run("app", write)
    finally:
        os.kill(holder.pid, signal.SIGCONT)
    output, _ = holder.communicate("go\n", timeout=60)
    report = json.loads(output)
    assert 0 == holder.returncode
    assert newer.generation > taken
    assert {"check": "LeaseLost", "put": "FencedOut", "run": "LeaseLost"} == report
    assert b"new" == _value(etcd.endpoints, b"/out")


def test_a_lease_lost_during_a_run_fails_check_and_the_run(etcd: EtcdCluster) -> None:
    """Revoking the run's lease: fenced writes are refused, check() raises, the run is LeaseLost."""
    seen: list[str] = []
    with EtcdSyncGuard(etcd.endpoints, ttl=5) as guard:

        def work() -> None:
            run = current_run()
            assert run is not None
            run.check()
            lease = guard._leases.current
            assert lease is not None
            EtcdClient(etcd.endpoints, request_timeout=2.0).lease_revoke(lease.id)
            with pytest.raises(FencedOut):
                run.fenced_put("/out", b"late")
            with pytest.raises(LeaseLost):
                run.check()
            seen.append("checked")

        with pytest.raises(LeaseLost):
            guard.run("app", work)
        assert ["checked"] == seen
        assert None is _value(etcd.endpoints, b"/out")
        assert "ok" == guard.run("app", lambda: "ok").value  # a new lease for the next run


def test_quorum_lost_and_restored(etcd_cluster: EtcdCluster) -> None:
    """1 of 3 down: runs go on; 2 of 3: GuardUnavailable in bound, fn never runs; then again."""
    timeout = 0.5
    with EtcdSyncGuard(etcd_cluster.endpoints, ttl=2, request_timeout=timeout) as guard:
        first = guard.run("app", lambda: "a")
        etcd_cluster.kill(2)
        second = guard.run("app", lambda: "b")
        etcd_cluster.kill(1)
        ran: list[str] = []
        started = time.monotonic()
        with pytest.raises(GuardUnavailable):
            guard.run("app", lambda: ran.append("never"))
        took = time.monotonic() - started
        bound = timeout * len(etcd_cluster.endpoints)
        print(f"GuardUnavailable after {took:.3f} s, bound {bound:g} s per request")  # noqa: T201
        assert [] == ran
        assert took < 4 * bound + 5  # the lease grant and the take: each within its bound
        etcd_cluster.start(1, 2)
        third = guard.run("app", lambda: "c", timeout=30)
        assert first.generation < second.generation < third.generation


def test_callers_of_one_process_share_one_flight_and_a_leader_timeout_passes_the_lead(
    etcd: EtcdCluster,
) -> None:
    """Threads of one guard make one flight; its leader timing out hands the lead on."""
    release = threading.Event()
    holding = threading.Event()
    with EtcdSyncGuard(etcd.endpoints, ttl=2) as one, EtcdSyncGuard(etcd.endpoints, ttl=2) as two:
        waits = threading.Semaphore(0)
        two.on_wait = lambda _key: waits.release()

        def long_run() -> str:
            holding.set()
            release.wait(30)
            return "first"

        results: dict[str, object] = {}

        def call(name: str, timeout: float | None) -> None:
            try:
                results[name] = two.run("app", lambda: name, timeout=timeout)
            except SyncTimeout as error:
                results[name] = error

        first = threading.Thread(target=lambda: results.update(a=one.run("app", long_run)))
        first.start()
        holding.wait(30)
        leader = threading.Thread(target=call, args=("b", 1.0))
        leader.start()
        assert waits.acquire(timeout=30)  # b holds its ticket in etcd
        followers = [threading.Thread(target=call, args=(n, None)) for n in ("c", "d")]
        for thread in followers:
            thread.start()
        assert waits.acquire(timeout=30)
        assert waits.acquire(timeout=30)  # c and d wait in memory, behind b
        leader.join()  # b's timeout expires while a still holds the key
        assert isinstance(results["b"], SyncTimeout)
        release.set()
        first.join()
        for thread in followers:
            thread.join()
        c, d = results["c"], results["d"]
        assert c.generation == d.generation > results["a"].generation  # type: ignore[attr-defined]
        assert c.value == d.value  # type: ignore[attr-defined]  # one run served both
        statistics = two.statistics()
        assert (1, 1, 1, 0, 0, 0) == (
            statistics.runs,
            statistics.coalesced,
            statistics.timed_out,
            statistics.in_flight,
            statistics.waiting,
            statistics.keys,
        )


def test_a_take_whose_answer_is_lost_never_keeps_the_key(etcd: EtcdCluster) -> None:
    """A take sent to a frozen etcd may commit later: the guard gives its lease up, freeing it."""
    with EtcdSyncGuard(etcd.endpoints, ttl=1, request_timeout=0.5) as stuck:
        stuck.run("warm", lambda: None)  # the lease exists: the next request is the take
        ran: list[str] = []
        etcd.pause(0)
        try:
            with pytest.raises(GuardUnavailable):
                stuck.run("app", lambda: ran.append("never"))
        finally:
            etcd.resume(0)  # etcd now reads the take it was sent, and may commit it
        with EtcdSyncGuard(etcd.endpoints, ttl=1) as other:
            assert "next" == other.run("app", lambda: "next", timeout=30).value
        assert [] == ran


def test_the_conformance_check_passes_on_the_etcd_guard(etcd: EtcdCluster) -> None:
    """syncsafe.testing.check_single_flight holds for EtcdSyncGuard on a real etcd."""
    guards: list[EtcdSyncGuard] = []

    def fresh() -> EtcdSyncGuard:
        guard = EtcdSyncGuard(etcd.endpoints, ttl=2, prefix=f"/check/{len(guards)}/")
        guards.append(guard)
        return guard

    try:
        check_single_flight(fresh, settings=settings(max_examples=10, deadline=None))
    finally:
        for guard in guards:
            guard.close()


def _certificates(where: Path) -> dict[str, str]:
    """A CA, a server certificate for 127.0.0.1 and a client certificate, made with openssl."""
    openssl = shutil.which("openssl")
    assert openssl is not None, "the TLS test needs the openssl command"

    def run(*arguments: str) -> None:
        command = [openssl, *arguments]
        subprocess.run(command, check=True, capture_output=True, timeout=60, cwd=where)

    key = ("-newkey", "rsa:2048", "-nodes")
    run(
        "req", "-x509", *key, "-days", "2", "-subj", "/CN=ca", "-keyout", "ca.key", "-out", "ca.pem"
    )
    extensions = "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n"
    (where / "san.cnf").write_text(extensions)
    for name in ("server", "client"):
        run("req", *key, "-subj", f"/CN={name}", "-keyout", f"{name}.key", "-out", f"{name}.csr")
        sign = ("-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2")
        run(
            "x509",
            "-req",
            "-in",
            f"{name}.csr",
            *sign,
            "-extfile",
            "san.cnf",
            "-out",
            f"{name}.pem",
        )
    names = ("ca.pem", "server.pem", "server.key", "client.pem", "client.key")
    return {name: str(where / name) for name in names}


def test_tls_with_a_client_certificate(tmp_path: Path) -> None:
    """Against an etcd that requires client certificates, the guard runs with EtcdTLS."""
    files = _certificates(tmp_path)
    tls = (files["server.pem"], files["server.key"], files["ca.pem"])
    with EtcdCluster(tmp_path / "etcd", 1, tls=tls) as cluster:
        assert cluster.endpoints[0].startswith("https://")
        secure = EtcdTLS(files["ca.pem"], files["client.pem"], files["client.key"])
        with EtcdSyncGuard(cluster.endpoints, ttl=2, tls=secure) as guard:
            assert "ok" == guard.run("app", lambda: "ok").value
        without = EtcdSyncGuard(cluster.endpoints, ttl=2, request_timeout=1.0)
        with pytest.raises(GuardUnavailable):
            without.run("app", lambda: "never")  # no CA bundle: the server is not trusted
        without.close()


class Interrupt(BaseException):
    """A BaseException that is not KeyboardInterrupt: stands for Ctrl-C in a test thread."""


def test_a_leader_interrupted_while_it_waits_in_etcd_hands_the_lead_on(etcd: EtcdCluster) -> None:
    """A flight's leader interrupted before its function began: its follower leads the run."""
    release = threading.Event()
    holding = threading.Event()
    follower_joined = threading.Event()
    leader_asked = threading.Event()
    calls = [0]
    lock = threading.Lock()

    def on_wait(_key: str) -> None:
        with lock:
            calls[0] += 1
            mine = calls[0]
        if mine == 1:  # the leader, holding its ticket in etcd
            leader_asked.set()
            assert follower_joined.wait(20)
            raise Interrupt
        if mine == 2:  # the follower, about to wait in memory behind it
            follower_joined.set()

    with (
        EtcdSyncGuard(etcd.endpoints, ttl=2) as one,
        EtcdSyncGuard(etcd.endpoints, ttl=2, on_wait=on_wait) as two,
    ):

        def long_run() -> str:
            holding.set()
            release.wait(30)
            return "first"

        results: dict[str, object] = {}

        def call(name: str) -> None:
            try:
                results[name] = two.run("app", lambda: name)
            except Interrupt as error:
                results[name] = error

        first = threading.Thread(target=lambda: results.update(a=one.run("app", long_run)))
        first.start()
        holding.wait(30)
        leader = threading.Thread(target=call, args=("leader",))
        leader.start()
        assert leader_asked.wait(30)  # the leader asked etcd and found the key held
        follower = threading.Thread(target=call, args=("follower",))
        follower.start()
        leader.join(30)
        assert isinstance(results["leader"], Interrupt)
        release.set()
        first.join(30)
        follower.join(30)
        outcome = results["follower"]
        assert ("follower", True) == (outcome.value, outcome.leader)  # type: ignore[attr-defined]
        assert 0 == two.statistics().keys
