"""
The cross-host front end: single flight per key on a real etcd, with fencing.

One more backend of the pure policy (``syncsafe.guard._policy``). In one
process, callers meet in the in-memory machine first
(``syncsafe.guard._machine``), so N threads asking at once make one
flight; only a flight's leader goes to etcd. This module is that front end
and the run it hands out ([`EtcdRun`][syncsafe.guard.EtcdRun]); what the guard keeps
in etcd per key, and the transactions that take the key, end a run and
write fenced, are ``syncsafe.guard._etcd_record``'s; the lease its keys are
held on, and its renewal, ``syncsafe.guard._etcd_lease``'s.

A run's generation is the revision at which the transaction that took the
key committed: etcd's revisions are one cluster-wide sequence,
raft-replicated, that only grows, so generations strictly increase per key
across hosts and are never reused, also after every holder crashed (only
restoring an old snapshot without ``--bump-revision`` could take them
back). A caller that found the key held has a ticket: the record at that
revision; it waits (a bounded watch of ``holder``, which only shortens the
wait) and tries again, and the policy's ``decide`` says whether a finished
run serves it.
"""

from __future__ import annotations

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
from syncsafe.guard import _etcd_record, _policy
from syncsafe.guard._etcd_lease import Lease, Leases
from syncsafe.guard._etcd_record import Keys, b64
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
class EtcdRun:
    """
    The run executing now under an [`EtcdSyncGuard`][]: ``syncsafe.current_run()`` in it.

    !!! note "Added in version 0.1.0"
    """

    __slots__ = ("_guard", "_keys", "_lease", "_lost", "generation", "key")

    def __init__(self, guard: EtcdSyncGuard, key: str, generation: int, lease: Lease) -> None:
        self._guard = guard
        self._lease = lease
        self._keys = Keys(guard.prefix, key)
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
        self._fenced(name, {"requestPut": {"key": b64(name), "value": b64(value)}})

    def fenced_delete(self, name: str | bytes) -> None:
        """Delete the etcd key *name* only while this run holds its key (see [`fenced_put`][])."""
        self._fenced(name, {"requestDeleteRange": {"key": b64(name)}})

    def _fenced(self, name: str | bytes, operation: dict[str, Any]) -> None:
        compare = self._keys.fence(self.generation)
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
    _leases: Leases = attrs.field(init=False, repr=False)
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
        self._leases = Leases(self._client, self.ttl)

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
        response = self._call(
            key, lambda c: c.txn([], Keys(self.prefix, key).reads(), repeatable=True)
        )
        got = _etcd_record.read(response)
        return EtcdGuardState(key, got.started, got.finished, got.error, got.held, got.revision)

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
        self._leases.close()
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
        keys = Keys(self.prefix, key)
        seen: _policy.State | None = None  # the ticket, once the key was found held
        decided_on: int | None = None  # the finished record's mod_revision a take compares
        try:
            while True:
                lease = self._live_lease(key)
                response = self._take(key, keys, lease, decided_on)
                if response["succeeded"] or _etcd_record.held_by(
                    response["responses"][0], self._nonce, lease.id
                ):
                    if seen is not None:
                        seen = None
                        self._count(3, -1)
                    return self._execute(keys, fn, lease, response, flight)
                got = _etcd_record.read(response)
                current = _policy.State(got.started, got.finished, got.error)
                if seen is None:
                    seen = self._ticket(key, policy, got.held, current)
                serve = _policy.decide(policy, seen, current)
                if serve is not None:
                    return self._served_remotely(key, serve)
                decided_on = got.decided_on
                if got.held:
                    self._wait_remote(keys.holder, got.revision, deadline)
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

    def _take(self, key: str, keys: Keys, lease: Lease, decided_on: int | None) -> dict[str, Any]:
        compare, success, failure = keys.take(self._nonce, lease.id, decided_on)
        from syncsafe.guard._etcd_client import EtcdError  # noqa: PLC0415 - optional

        try:
            # Repeatable: a take that committed unseen is recognised as ours (the nonce and
            # the lease, _etcd_record.held_by) when the same transaction is sent again.
            return self._call(key, lambda c: c.txn(compare, success, failure, repeatable=True))
        except EtcdError as error:  # not found: the lease expired unseen; take on a new one
            lease.lost = "etcd says the lease is gone"
            del error
            return self._take(key, keys, self._live_lease(key), decided_on)
        except GuardUnavailable:
            # It may have committed: a holder on this lease that no run of ours
            # ends would keep the key held while the lease is renewed. Give the
            # lease up: whatever it holds is freed when etcd expires it.
            self._leases.abandon(lease, "a take of a key may have committed unseen")
            raise

    def _execute(
        self,
        keys: Keys,
        fn: Callable[[], T],
        lease: Lease,
        response: dict[str, Any],
        flight: Flight,
    ) -> _Flight:
        key = keys.key
        if response["succeeded"]:
            generation = int(response["header"]["revision"])
            finished, error, _decided_on = _etcd_record.finished(response["responses"][2])
        else:  # our own take, committed unseen and found again
            got = _etcd_record.read(response)
            generation, finished, error = got.held, got.finished, got.error
        record = _policy.start(_policy.State(0, finished, error), generation)
        flight.data = generation  # what a follower's SyncFailed names, if fn raises
        with self._mutex:
            self._counts[0] += 1
            self._counts[2] += 1
        run = EtcdRun(self, key, generation, lease)
        token = set_run(run)
        try:
            value = fn()
        except BaseException as exc:
            self._end(keys, run, record, repr(exc), exc)
            raise
        finally:
            reset_run(token)
            self._count(2, -1)
        self._end(keys, run, record, None, None)
        return _Flight(value, generation, fresh=True, remote=False)

    def _end(
        self,
        keys: Keys,
        run: EtcdRun,
        record: _policy.State,
        error: str | None,
        raised: BaseException | None,
    ) -> None:
        key = run.key
        ended = _policy.end(record, run.generation, error)
        assert ended is not None  # noqa: S101 - started as this generation
        compare, success, failure = keys.end(run.generation, ended.finished, ended.error)
        try:
            response = self._call(key, lambda c: c.txn(compare, success, failure, repeatable=True))
        except GuardUnavailable as unavailable:
            # The end may not have committed: the holder would stay while the
            # lease is renewed. Give the lease up, so that etcd frees the key.
            self._leases.abandon(run._lease, "a run's end may not have been recorded")  # noqa: SLF001
            lost = LeaseLost(
                key, run.generation, f"its end was not recorded ({unavailable.problem})"
            )
            if raised is None:
                raise lost from unavailable
            _note(raised, f"{key}: {lost}")
            return
        if response["succeeded"]:
            return
        if _etcd_record.finished(response["responses"][0])[0] == run.generation:
            return  # our end, committed unseen and sent again
        problem = run._lost or run._lease.problem() or "the key is no longer this run's"  # noqa: SLF001
        lost = LeaseLost(key, run.generation, problem)
        if raised is None:
            raise lost
        _note(raised, f"{key}: {lost}")

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

    def _live_lease(self, key: str) -> Lease:
        """The guard's lease, granted anew (a request named after *key*) if it was lost."""
        return self._leases.live(lambda ttl: self._call(key, lambda c: c.lease_grant(ttl)))


def _note(error: BaseException, note: str) -> None:
    if hasattr(error, "add_note"):  # pragma: no branch - Python 3.11 and later
        error.add_note(note)
