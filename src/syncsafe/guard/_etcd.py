"""
The cross-host front end: single flight per key on a real etcd, with fencing.

One more backend of the pure policy (`syncsafe.guard._policy`). In one
process, callers meet in the in-memory machine first
(`syncsafe.guard._machine`), so N threads asking at once make one
flight; only a flight's leader goes to etcd. There, per key ``K`` under the
guard's prefix ``P``:

``P/holder/K``
    Exists while a run holds the key; attached to the guard's lease, so it
    goes when the holder's process dies (within the lease's TTL) or its
    lease expires. Its ``create_revision`` is the run's generation.
``P/started/K``
    Written when a run takes the key; its ``mod_revision`` is the record's
    ``started``.
``P/finished/K``
    ``{"finished": g, "error": ...}``: the newest run that ended.

Taking the key is one transaction: if ``holder`` does not exist (and, for a
caller that waited, ``finished`` is the one it decided on), put ``holder``
on the lease and ``started``, and read ``finished``; else read all three.
The generation is the revision that transaction committed at: etcd's
revisions are one cluster-wide sequence, raft-replicated, that only grows,
so generations strictly increase per key across hosts and are never
reused, also after every holder crashed (only restoring an old snapshot
without ``--bump-revision`` could take them back). A caller that found the
key held has a ticket: the record at that revision; it waits (a bounded
watch of ``holder``, which only shortens the wait) and tries again, and
`decide` says whether a finished run serves
it. A run ends with one transaction that, only if ``holder`` is still the
run's, deletes it and stores `end`'s record.
A fenced write is one transaction that writes only if ``holder`` still has
the run's ``create_revision``.
"""

from __future__ import annotations

import contextlib
import json
import math
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, Final, TypeVar, cast, final

import attrs

from syncsafe.errors import (
    FencedOut,
    GuardUnavailable,
    LeaseLost,
    SyncFailed,
    SyncInProgress,
    SyncTimeout,
)
from syncsafe.guard import _policy
from syncsafe.guard._machine import DONE, Caller, Flight, Machine, Policy, _checked
from syncsafe.guard._run import reset_run, set_run
from syncsafe.guard._values import GuardStatistics, Outcome

if TYPE_CHECKING:
    from syncsafe.guard._etcd_client import EtcdClient

__all__ = ["EtcdAuth", "EtcdGuardState", "EtcdRun", "EtcdSyncGuard", "EtcdTLS"]

T = TypeVar("T")

_MAX_TTL: Final = 9_000_000_000  # etcd's MaxLeaseTTL, in seconds
_POLL: Final = 1.0  # the longest one bounded watch waits before the state is read again
_get_ident = threading.get_ident


@final
@attrs.frozen
class EtcdTLS:
    """
    TLS for [`EtcdSyncGuard`][]: a CA bundle, and a client certificate and key if etcd asks.

    !!! note "Added in version 0.1.0"
    """

    ca_file: str
    """The CA bundle that signed etcd's server certificates (PEM)."""
    cert_file: str | None = None
    """The client certificate (PEM), for etcd's ``--client-cert-auth``."""
    key_file: str | None = None
    """The client certificate's private key (PEM)."""


@final
@attrs.frozen(repr=False)
class EtcdAuth:
    """
    An etcd user and password: exchanged for a token, renewed when it expires.

    !!! note "Added in version 0.1.0"
    """

    user: str
    password: str

    def __repr__(self) -> str:
        return f"EtcdAuth(user={self.user!r}, password=...)"


@final
@attrs.frozen
class EtcdGuardState:
    """
    One key's record in etcd, as [`EtcdSyncGuard.state`][] reads it (linearizably).

    !!! note "Added in version 0.1.0"
    """

    key: str
    started: int = 0
    """The generation of the newest run that started (an etcd revision), 0 if none did."""
    finished: int = 0
    """The generation of the newest run that ended; below ``started`` while one runs or died."""
    error: str | None = None
    """What the run ``finished`` raised, as text; ``None`` if it returned."""
    holder: int = 0
    """The generation of the run that holds the key now, 0 if none does."""
    revision: int = 0
    """The etcd revision this state was read at."""


@final
class _Lease:
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
        if self.lost is None and time.monotonic() >= self.deadline:
            self.lost = f"no keepalive acknowledged within its {self.ttl} s TTL"
        return self.lost


@final
class EtcdRun:
    """
    The run executing now under an [`EtcdSyncGuard`][]: ``syncsafe.current_run()`` in it.

    !!! note "Added in version 0.1.0"
    """

    __slots__ = ("_guard", "_holder", "_lease", "_lost", "generation", "key")

    def __init__(self, guard: EtcdSyncGuard, key: str, generation: int, lease: _Lease) -> None:
        self._guard = guard
        self._lease = lease
        self._holder = guard._name("holder", key)  # noqa: SLF001 - the guard's own layout
        self._lost: str | None = None
        self.key = key
        """The key this run holds."""
        self.generation = generation
        """The run's fencing token: the etcd revision at which it took the key."""

    def check(self) -> None:
        """
        Return if this run can still prove that it holds its key.

        :raises LeaseLost: the lease's deadline (from the send time of the
            last acknowledged keepalive, on a monotonic clock) has passed, or
            etcd said the lease is gone.
        """
        problem = self._lost or self._lease.problem()
        if problem is not None:
            raise LeaseLost(self.key, self.generation, problem)

    def fenced_put(self, name: str | bytes, value: bytes) -> None:
        """
        Write *value* to the etcd key *name* only while this run holds its key: one transaction.

        :raises FencedOut: the run no longer holds the key; nothing was written.
        :raises GuardUnavailable: etcd did not answer (the write's effect is then unknown).
        """
        self._fenced(name, {"requestPut": {"key": _b64(name), "value": _b64(value)}})

    def fenced_delete(self, name: str | bytes) -> None:
        """Delete the etcd key *name* only while this run holds its key (see [`fenced_put`][])."""
        self._fenced(name, {"requestDeleteRange": {"key": _b64(name)}})

    def _fenced(self, name: str | bytes, operation: dict[str, Any]) -> None:
        compare = [_created(self._holder, self.generation)]
        response = self._guard._call(  # noqa: SLF001
            self.key, lambda c: c.txn(compare, [operation], repeatable=False)
        )
        if not response["succeeded"]:
            self._lost = "a fenced write found the key no longer held by this run"
            target = name if isinstance(name, str) else name.decode("utf-8", "backslashreplace")
            raise FencedOut(self.key, self.generation, target)

    def __repr__(self) -> str:
        return f"EtcdRun(key={self.key!r}, generation={self.generation})"


@final
class _Flight:
    """What a local flight's leader got from etcd, handed to the flight's other callers."""

    __slots__ = ("fresh", "generation", "remote", "value")

    def __init__(self, value: object, generation: int, *, fresh: bool, remote: bool) -> None:
        self.value = value
        self.generation = generation
        self.fresh = fresh
        self.remote = remote


@final
class _Remote(Exception):  # carries a remote run's failure to this flight's callers
    def __init__(self, failed: SyncFailed) -> None:
        super().__init__(failed)
        self.failed = failed


@final
class _LeaderTimedOut(Exception):  # the flight's leader stopped waiting
    pass


def _endpoints(endpoints: Iterable[str]) -> tuple[str, ...]:
    """*endpoints* as a tuple; a single URL given as a string is one endpoint, not characters."""
    return (endpoints,) if isinstance(endpoints, str) else tuple(endpoints)


@final
@attrs.define(eq=False)
class EtcdSyncGuard:
    """
    Single flight per key across every process on every host that shares one etcd cluster.

    [`SyncGuard`][syncsafe.guard.SyncGuard]'s semantics (policies, re-entry refused,
    timeouts that do not cancel the run), decided in etcd's linearizable
    history: at most one run of a key at a time in the whole cluster, and
    under ``"coalesce"`` a caller is served only by a run that started (an
    etcd revision) after it asked (the revision it read). A run's generation
    is the etcd revision at which it took the key: strictly increasing per
    key, never reused. Inside the function, [`syncsafe.current_run`][syncsafe.guard.current_run]
    gives the [`EtcdRun`][syncsafe.guard.EtcdRun], whose ``fenced_put`` and ``fenced_delete``
    write only while the run still holds the key.

    ``EtcdSyncGuard(endpoints, *, prefix="/syncsafe/", ttl=10.0,
    policy="coalesce", request_timeout=5.0, tls=None, auth=None)``:
    *endpoints* are ``http://`` or ``https://`` client URLs of one cluster;
    *ttl* the lease in seconds, rounded up to whole seconds (etcd may raise it
    to its minimum); *tls* an [`EtcdTLS`][syncsafe.guard.EtcdTLS], *auth* an
    [`EtcdAuth`][syncsafe.guard.EtcdAuth]. Needs the ``etcd`` extra (``pip install
    'syncsafe[etcd]'``).

    Fails closed: the function runs only after the transaction that takes
    the key committed. When etcd cannot decide (no quorum, no leader, no
    endpoint answers), [`GuardUnavailable`][syncsafe.errors.GuardUnavailable] is raised by the
    first request that gives up: within ``request_timeout`` times the number
    of endpoints. A holder killed without a goodbye leaves the key to the
    next caller when its lease expires: within *ttl* plus about a second
    (etcd revokes expired leases every half second; a waiter's watch wakes it).

    ``Outcome.remote`` is true (and ``value`` ``None``) for a caller served
    by a run in another process; a failed remote run is
    [`SyncFailed`][syncsafe.errors.SyncFailed] with its error as text.

    !!! note "Added in version 0.1.0"
    """

    endpoints: tuple[str, ...] = attrs.field(converter=_endpoints, on_setattr=attrs.setters.frozen)
    """The client URLs of the etcd cluster."""
    prefix: str = attrs.field(default="/syncsafe/", kw_only=True, on_setattr=attrs.setters.frozen)
    """The etcd key prefix of this guard's records."""
    ttl: float = attrs.field(default=10.0, kw_only=True, on_setattr=attrs.setters.frozen)
    """The lease's TTL in seconds, as asked (etcd grants whole seconds)."""
    policy: Policy = attrs.field(default="coalesce", kw_only=True, on_setattr=attrs.setters.frozen)
    """The policy of calls that do not name one."""
    request_timeout: float = attrs.field(default=5.0, kw_only=True, on_setattr=attrs.setters.frozen)
    """The longest one request to one endpoint may take, in seconds."""
    tls: EtcdTLS | None = attrs.field(default=None, kw_only=True, on_setattr=attrs.setters.frozen)
    auth: EtcdAuth | None = attrs.field(default=None, kw_only=True, on_setattr=attrs.setters.frozen)
    on_wait: Callable[[str], None] | None = attrs.field(default=None, kw_only=True, repr=False)
    """
    Called with the key, in the caller's thread, each time a caller is about
    to wait: for another caller of this guard, or (its flight's leader) for
    another process's run, once it holds its ticket. For tests that order
    callers without sleeping.
    """
    _client: EtcdClient = attrs.field(init=False, repr=False)
    _machine: Machine = attrs.field(init=False, repr=False, factory=Machine)
    _mutex: threading.Lock = attrs.field(init=False, repr=False, factory=threading.Lock)
    _lease_lock: threading.Lock = attrs.field(init=False, repr=False, factory=threading.Lock)
    _lease: _Lease | None = attrs.field(init=False, repr=False, default=None)
    _keeper: threading.Thread | None = attrs.field(init=False, repr=False, default=None)
    _closed: threading.Event = attrs.field(init=False, repr=False, factory=threading.Event)
    _nonce: str = attrs.field(init=False, repr=False, factory=lambda: uuid.uuid4().hex)
    _counts: list[int] = attrs.field(init=False, repr=False, factory=lambda: [0, 0, 0, 0])
    # runs started, served remotely, runs executing now, leaders waiting in etcd

    def __attrs_post_init__(self) -> None:
        try:
            from syncsafe.guard._etcd_client import EtcdClient  # noqa: PLC0415 - optional
        except ModuleNotFoundError as error:
            msg = (
                "EtcdSyncGuard needs the 'etcd' extra (its HTTP client, urllib3): "
                "pip install 'syncsafe[etcd]'"
            )
            raise ImportError(msg, name=error.name) from error
        if not self.endpoints or any(
            not str(e).startswith(("http://", "https://")) for e in self.endpoints
        ):
            msg = f"endpoints={self.endpoints!r}: need one or more http:// or https:// URLs"
            raise ValueError(msg)
        if not (0 < self.ttl <= _MAX_TTL) or math.isnan(self.ttl):
            msg = f"ttl={self.ttl!r}: an etcd lease lasts more than 0 and at most {_MAX_TTL} s"
            raise ValueError(msg)
        if not self.request_timeout > 0:
            msg = f"request_timeout={self.request_timeout!r}: must be more than 0 seconds"
            raise ValueError(msg)
        _checked(self.policy)
        tls = self.tls
        auth = self.auth
        self._client = EtcdClient(
            self.endpoints,
            request_timeout=self.request_timeout,
            ca_file=None if tls is None else tls.ca_file,
            cert_file=None if tls is None else tls.cert_file,
            key_file=None if tls is None else tls.key_file,
            user=None if auth is None else auth.user,
            password=None if auth is None else auth.password,
        )

    # ------------------------------------------------------------------ API

    def run(
        self,
        key: str,
        fn: Callable[[], T],
        *,
        timeout: float | None = None,
        policy: Policy | None = None,
    ) -> Outcome[T | None]:
        """
        Run *fn* for *key*, or be served by a run in this or any other process of the cluster.

        The contract of [`syncsafe.SyncGuard.run`][syncsafe.guard.SyncGuard.run], across hosts.

        :raises GuardUnavailable: etcd could not decide; *fn* has not run.
        :raises LeaseLost: *fn* returned, but the run had lost the key by then
            (its lease expired): its result was not recorded, and another run
            may have started meanwhile.
        """
        given: object = key
        if not isinstance(given, str):
            msg = f"key {key!r}: an EtcdSyncGuard key must be a str"
            raise TypeError(msg)
        if self._closed.is_set():
            msg = "this EtcdSyncGuard is closed"
            raise RuntimeError(msg)
        policy_ = self.policy if policy is None else _checked(policy)
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._mutex:
            arrived = self._machine.arrive(key, policy_, _get_ident())
            if isinstance(arrived, tuple):
                flight = self._machine.inflate(key, arrived)
                caller = flight.callers[0]
            else:
                caller = arrived
                flight = caller.flight
                if flight.leader is not caller:
                    waker = threading.Lock()
                    waker.acquire()
                    caller.data = waker
        if flight.leader is not caller and not self._wait_local(caller, timeout):
            return self._served_locally(caller)
        return self._leading(caller, fn, policy_, deadline, timeout)

    def state(self, key: str) -> EtcdGuardState:
        """*key*'s record in etcd now, read linearizably."""
        response = self._call(key, lambda c: c.txn([], self._reads(key), repeatable=True))
        return self._parse_state(key, response)

    def statistics(self) -> GuardStatistics:
        """A frozen snapshot of this guard's counters and of its callers in this process."""
        with self._mutex:
            machine = self._machine
            runs, remote, executing, leading = self._counts
            return GuardStatistics(
                runs=runs,
                coalesced=machine.coalesced + remote,
                rejected=machine.rejected,
                timed_out=machine.timed_out,
                in_flight=executing,
                waiting=machine.waiting() + leading,
                keys=machine.keys(),
            )

    def close(self) -> None:
        """Stop renewing the lease and revoke it (every key this guard holds is freed)."""
        self._closed.set()
        keeper = self._keeper
        if keeper is not None:
            keeper.join()
        with self._lease_lock:
            lease, self._lease = self._lease, None
        if lease is not None and lease.lost is None:
            lease.lost = "the guard was closed"
            with contextlib.suppress(Exception):  # it expires by itself within its TTL
                self._client.lease_revoke(lease.id)
        self._client.close()

    def __enter__(self) -> EtcdSyncGuard:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # ------------------------------------------------------- the local front

    def _leading(
        self,
        caller: Caller,
        fn: Callable[[], T],
        policy: str,
        deadline: float | None,
        timeout: float | None,
    ) -> Outcome[T | None]:
        """*caller* leads its flight: to etcd, then the outcome for it and its followers."""
        key = cast("str", caller.flight.key)
        try:
            got = self._lead(key, fn, policy, deadline, caller.flight)
        except (_LeaderTimedOut, SyncInProgress) as stopped:
            # The leader stops before its function began: the lead passes on.
            timed_out = isinstance(stopped, _LeaderTimedOut)
            with self._mutex:
                self._machine.rejected += not timed_out
                started = self._machine.withdraw(caller, timed_out=timed_out)
            self._wake(started)
            if timed_out:
                raise SyncTimeout(key, timeout or 0.0) from None
            raise
        except BaseException as exc:
            if caller.flight.data is None and not isinstance(exc, Exception):
                # Interrupted (Ctrl-C) before its function began: the lead passes on.
                with self._mutex:
                    started = self._machine.withdraw(caller, timed_out=False)
                self._wake(started)
                raise
            self._finish(caller.flight, None, exc)
            if isinstance(exc, _Remote):
                raise exc.failed from None
            raise
        self._finish(caller.flight, got, None)
        return Outcome(
            cast("T", got.value),
            got.generation,
            not got.remote,
            got.fresh,
            caller.flight.served - 1,
            got.remote,
        )

    def _wait_local(self, caller: Caller, timeout: float | None) -> bool:
        """Block until *caller* leads a started flight (True) or its flight is done (False)."""
        hook = self.on_wait
        if hook is not None:
            hook(cast("str", caller.flight.key))
        waker = cast("threading.Lock", caller.data)
        try:
            acquired = waker.acquire(timeout=-1 if timeout is None else max(timeout, 0.0))
        except BaseException:
            with self._mutex:
                started = self._machine.leave(caller, timed_out=False)
            self._wake(started)
            raise
        if acquired:
            if caller.flight.state == DONE:
                return False
            with self._mutex:
                self._machine.begin(caller, _get_ident())
            return True
        with self._mutex:
            flight = caller.flight
            if flight.state == DONE:
                return False
            started = self._machine.leave(caller)
        self._wake(started)
        raise SyncTimeout(flight.key, timeout if timeout is not None else 0.0)

    def _finish(self, flight: Flight, got: _Flight | None, error: BaseException | None) -> None:
        with self._mutex:
            started = self._machine.finish(flight, got, error)
            leader = flight.leader
            for caller in flight.callers:
                if caller is not leader:
                    cast("threading.Lock", caller.data).release()
        self._wake(started)

    @staticmethod
    def _wake(started: Sequence[Flight]) -> None:
        for flight in started:
            leader = flight.leader
            assert leader is not None  # noqa: S101 - a started flight has a leader
            cast("threading.Lock", leader.data).release()

    @staticmethod
    def _served_locally(caller: Caller) -> Outcome[T | None]:
        flight = caller.flight
        error = flight.error
        if isinstance(error, _Remote):
            raise error.failed from None
        if isinstance(error, GuardUnavailable):  # the leader could not ask etcd: nor can we
            raise GuardUnavailable(error.key, error.endpoints, error.problem) from error
        if error is not None:
            generation = flight.data if isinstance(flight.data, int) else 0
            raise SyncFailed(flight.key, generation, repr(error)) from error
        got = cast("_Flight", flight.value)
        value = cast("T | None", got.value)
        fresh = got.fresh and caller.fresh
        return Outcome(value, got.generation, False, fresh, flight.served - 1, got.remote)  # noqa: FBT003

    # ------------------------------------------------------- the etcd backend

    def _lead(
        self,
        key: str,
        fn: Callable[[], T],
        policy: str,
        deadline: float | None,
        flight: Flight,
    ) -> _Flight:
        """The local flight's leader in etcd: take the key and run, or be served by a run."""
        holder = self._name("holder", key)
        seen: _policy.State | None = None  # the ticket, once the key was found held
        decided_on: int | None = None  # the finished record's mod_revision a take compares
        try:
            while True:
                lease = self._live_lease(key)
                response = self._take(key, lease, decided_on)
                if response["succeeded"] or self._ours(response["responses"][0], lease):
                    if seen is not None:
                        seen = None
                        self._count(3, -1)
                    return self._execute(key, fn, lease, response, flight)
                held, started, finished, revision = self._record(response)
                current = _policy.State(started, finished[0], finished[1])
                if seen is None:
                    seen = self._ticket(key, policy, held, current)
                serve = _policy.decide(policy, seen, current)
                if serve is not None:
                    return self._served_remotely(key, serve)
                decided_on = finished[2]
                if held:
                    self._wait_remote(holder, revision, deadline)
        finally:
            if seen is not None:
                self._count(3, -1)

    def _ticket(self, key: str, policy: str, held: int, current: _policy.State) -> _policy.State:
        """What a caller that found the key held saw: its ticket (or SyncInProgress)."""
        seen = current
        if policy == "share" and held:
            seen = _policy.State(held, current.finished, current.error)
        _policy.contended(key, policy, seen)
        self._count(3, 1)
        hook = self.on_wait
        if hook is not None:
            hook(key)
        return seen

    def _served_remotely(self, key: str, serve: _policy.Serve) -> _Flight:
        self._count(1, 1)
        if serve.error is not None:
            raise _Remote(SyncFailed(key, serve.generation, serve.error))
        return _Flight(None, serve.generation, fresh=serve.fresh, remote=True)

    def _wait_remote(self, holder: str, revision: int, deadline: float | None) -> None:
        """Wait until *holder* changes after *revision*, at most a poll; give up at *deadline*."""
        remaining = _POLL if deadline is None else deadline - time.monotonic()
        if remaining <= 0:
            raise _LeaderTimedOut
        self._client.watch_once(holder.encode(), revision + 1, min(remaining, _POLL))

    def _take(self, key: str, lease: _Lease, decided_on: int | None) -> dict[str, Any]:
        holder = self._name("holder", key)
        compare = [_created(holder, 0)]
        if decided_on is not None:
            compare.append(_modified(self._name("finished", key), decided_on))
        success = [
            {
                "requestPut": {
                    "key": _b64(holder),
                    "value": _b64(self._nonce),
                    "lease": str(lease.id),
                }
            },
            {"requestPut": {"key": _b64(self._name("started", key)), "value": _b64(self._nonce)}},
            {"requestRange": {"key": _b64(self._name("finished", key))}},
        ]
        from syncsafe.guard._etcd_client import EtcdError  # noqa: PLC0415 - optional

        try:
            # Repeatable: a take that committed unseen is recognised as ours (the nonce and
            # the lease), below, when the same transaction is sent again.
            return self._call(
                key, lambda c: c.txn(compare, success, self._reads(key), repeatable=True)
            )
        except EtcdError as error:  # not found: the lease expired unseen; take on a new one
            lease.lost = "etcd says the lease is gone"
            del error
            return self._take(key, self._live_lease(key), decided_on)
        except GuardUnavailable:
            # It may have committed: a holder on this lease that no run of ours
            # ends would keep the key held while the lease is renewed. Give the
            # lease up: whatever it holds is freed when etcd expires it.
            self._abandon(lease, "a take of a key may have committed unseen")
            raise

    def _ours(self, holder_read: dict[str, Any], lease: _Lease) -> bool:
        kvs = holder_read.get("response_range", {}).get("kvs") or []
        if not kvs:
            return False
        kv = kvs[0]
        return _unb64(kv.get("value")) == self._nonce.encode() and int(kv.get("lease", 0)) == (
            lease.id
        )

    def _execute(
        self,
        key: str,
        fn: Callable[[], T],
        lease: _Lease,
        response: dict[str, Any],
        flight: Flight,
    ) -> _Flight:
        if response["succeeded"]:
            generation = int(response["header"]["revision"])
            finished = _finished(response["responses"][2])
        else:  # our own take, committed unseen and found again
            held, _started, finished, _revision = self._record(response)
            generation = held
        previous = _policy.State(0, finished[0], finished[1])
        record = _policy.start(previous, generation)
        flight.data = generation  # what a follower's SyncFailed names, if fn raises
        with self._mutex:
            self._counts[0] += 1
            self._counts[2] += 1
        run = EtcdRun(self, key, generation, lease)
        token = set_run(run)
        try:
            value = fn()
        except BaseException as exc:
            self._end(key, run, record, repr(exc), exc)
            raise
        finally:
            reset_run(token)
            self._count(2, -1)
        self._end(key, run, record, None, None)
        return _Flight(value, generation, fresh=True, remote=False)

    def _end(
        self,
        key: str,
        run: EtcdRun,
        record: _policy.State,
        error: str | None,
        raised: BaseException | None,
    ) -> None:
        ended = _policy.end(record, run.generation, error)
        assert ended is not None  # noqa: S101 - started as this generation
        holder = self._name("holder", key)
        finished_name = self._name("finished", key)
        value = json.dumps({"finished": ended.finished, "error": ended.error}).encode()
        compare = [_created(holder, run.generation)]
        success = [
            {"requestDeleteRange": {"key": _b64(holder)}},
            {"requestPut": {"key": _b64(finished_name), "value": _b64(value)}},
        ]
        failure = [{"requestRange": {"key": _b64(finished_name)}}]
        try:
            response = self._call(key, lambda c: c.txn(compare, success, failure, repeatable=True))
        except GuardUnavailable as unavailable:
            # The end may not have committed: the holder would stay while the
            # lease is renewed. Give the lease up, so that etcd frees the key.
            self._abandon(run._lease, "a run's end may not have been recorded")  # noqa: SLF001
            lost = LeaseLost(
                key, run.generation, f"its end was not recorded ({unavailable.problem})"
            )
            if raised is None:
                raise lost from unavailable
            _note(raised, f"{key}: {lost}")
            return
        if response["succeeded"]:
            return
        if _finished(response["responses"][0])[0] == run.generation:
            return  # our end, committed unseen and sent again
        problem = run._lost or run._lease.problem() or "the key is no longer this run's"  # noqa: SLF001
        lost = LeaseLost(key, run.generation, problem)
        if raised is None:
            raise lost
        _note(raised, f"{key}: {lost}")

    def _reads(self, key: str) -> list[dict[str, Any]]:
        return [
            {"requestRange": {"key": _b64(self._name(part, key))}}
            for part in ("holder", "started", "finished")
        ]

    @staticmethod
    def _record(response: dict[str, Any]) -> tuple[int, int, tuple[int, str | None, int], int]:
        """From a read of holder, started and finished: held, started, finished, revision."""
        holder, started, finished = response["responses"]
        holder_kvs = holder.get("response_range", {}).get("kvs") or []
        started_kvs = started.get("response_range", {}).get("kvs") or []
        held = int(holder_kvs[0].get("create_revision", 0)) if holder_kvs else 0
        began = int(started_kvs[0].get("mod_revision", 0)) if started_kvs else 0
        return held, began, _finished(finished), int(response["header"]["revision"])

    def _parse_state(self, key: str, response: dict[str, Any]) -> EtcdGuardState:
        held, started, (finished, error, _mod), revision = self._record(response)
        return EtcdGuardState(key, started, finished, error, held, revision)

    def _name(self, part: str, key: str) -> str:
        return f"{self.prefix}{part}/{key}"

    def _count(self, index: int, delta: int) -> None:
        with self._mutex:
            self._counts[index] += delta

    def _call(self, key: str, request: Callable[[EtcdClient], T]) -> T:
        """
        One request; etcd's refusals as `GuardUnavailable`, but "not found".

        A lease etcd does not know stays an ``EtcdError`` for the caller to
        handle; any other refusal (no permission, a bad request) means the
        guard cannot decide: it fails closed.
        """
        from syncsafe.guard._etcd_client import EtcdError, Unavailable  # noqa: PLC0415

        try:
            return request(self._client)
        except Unavailable as error:
            raise GuardUnavailable(key, self.endpoints, error.problem) from None
        except EtcdError as error:
            if error.not_found:
                raise
            problem = f"etcd refused the request: {error.message}"
            raise GuardUnavailable(key, self.endpoints, problem) from None

    def _abandon(self, lease: _Lease, why: str) -> None:
        """Stop renewing *lease* and revoke it (in the background): it may hold what no run ends."""
        with self._lease_lock:
            if lease.lost is None:
                lease.lost = f"given up: {why}"
            if self._lease is lease:
                self._lease = None
        threading.Thread(target=self._revoke_quietly, args=(lease.id,), daemon=True).start()

    # ------------------------------------------------------------ the lease

    def _live_lease(self, key: str) -> _Lease:
        """The guard's lease, granted anew if there is none or the last one was lost."""
        with self._lease_lock:
            lease = self._lease
            if lease is not None and lease.problem() is None:
                return lease
            if lease is not None:
                old = lease.id
                threading.Thread(target=self._revoke_quietly, args=(old,), daemon=True).start()
            sent = time.monotonic()
            ttl = math.ceil(self.ttl)
            lease_id, granted = self._call(key, lambda c: c.lease_grant(ttl))
            lease = self._lease = _Lease(lease_id, granted or ttl, sent)
            if self._keeper is None:
                self._keeper = threading.Thread(
                    target=self._keep_alive, name="syncsafe-etcd-keepalive", daemon=True
                )
                self._keeper.start()
            return lease

    def _revoke_quietly(self, lease_id: int) -> None:
        with contextlib.suppress(Exception):  # it expires by itself within its TTL
            self._client.lease_revoke(lease_id)

    def _keep_alive(self) -> None:
        """Renew the current lease every third of its TTL until the guard closes."""
        while True:
            lease = self._lease
            interval = 1.0 if lease is None else max(lease.ttl / 3, 0.1)
            if self._closed.wait(interval):
                return
            lease = self._lease
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


def _b64(data: str | bytes) -> str:
    from syncsafe.guard._etcd_client import b64  # noqa: PLC0415 - optional

    return b64(data)


def _unb64(text: str | None) -> bytes:
    from syncsafe.guard._etcd_client import unb64  # noqa: PLC0415 - optional

    return unb64(text)


def _created(name: str, revision: int) -> dict[str, Any]:
    return {
        "target": "CREATE",
        "key": _b64(name),
        "create_revision": str(revision),
        "result": "EQUAL",
    }


def _modified(name: str, revision: int) -> dict[str, Any]:
    return {"target": "MOD", "key": _b64(name), "mod_revision": str(revision), "result": "EQUAL"}


def _finished(read: dict[str, Any]) -> tuple[int, str | None, int]:
    """The finished record from a range response: its generation, error and mod_revision."""
    kvs = read.get("response_range", {}).get("kvs") or []
    if not kvs:
        return 0, None, 0
    kv = kvs[0]
    record = json.loads(_unb64(kv.get("value")) or b"{}")
    error = record.get("error")
    return (
        int(record.get("finished", 0)),
        None if error is None else str(error),
        int(kv.get("mod_revision", 0)),
    )


def _note(error: BaseException, note: str) -> None:
    if hasattr(error, "add_note"):  # pragma: no branch - Python 3.11 and later
        error.add_note(note)
