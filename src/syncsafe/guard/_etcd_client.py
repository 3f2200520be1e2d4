"""
A small client of etcd's v3 API over its official gRPC-JSON gateway, on urllib3.

Only what [`EtcdSyncGuard`][syncsafe.guard.EtcdSyncGuard] needs: ``range``, ``txn``, leases
(grant, one keepalive, revoke), authentication and a bounded watch. Every
rule below is a pitfall of general-purpose clients that the guard cannot
afford:

- every request has a timeout (connect and read), and a call as a whole
  gives up after ``request_timeout`` times the number of endpoints: then
  `Unavailable` is raised, never a hang;
- every request carries etcd's ``hasleader`` requirement (the gateway passes
  the ``Grpc-Metadata-Hasleader`` header on as the gRPC metadata
  ``hasleader=true``, which etcd's interceptors check), so that a member cut
  off from its leader answers "no leader" at once instead of waiting;
- endpoints are rotated on connection errors and on "no leader"; a request
  that may have reached etcd is sent again only where the caller says that
  repeating it is safe;
- reads are linearizable (never ``serializable``);
- keys and values are bytes on the wire (base64 in JSON), ``str`` is UTF-8;
  int64 fields arrive as JSON strings and absent fields mean zero or false;
- a watch only shortens a wait: it is bounded, and any error or surprise
  ends it, after which the caller reads the state again.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any, Final, final

import urllib3
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
)

from syncsafe.guard._etcd_record import b64, unb64

__all__ = ["EtcdClient", "EtcdError", "Unavailable", "b64", "unb64"]

_HEADERS: Final = {"Content-Type": "application/json", "Grpc-Metadata-Hasleader": "true"}
# gRPC status codes etcd's gateway returns in its error bodies.
_NOT_FOUND: Final = 5
_UNAVAILABLE: Final = 14
_UNAUTHENTICATED: Final = 16
_BACKOFF: Final = 0.05


class Unavailable(Exception):
    """No endpoint answered the request within its bound; *problem* says what the last one did."""

    def __init__(self, problem: str, *, sent: bool) -> None:
        super().__init__(problem)
        self.problem = problem
        self.sent = sent
        """Whether a request may have reached etcd (its effect is then unknown)."""


class EtcdError(Exception):
    """etcd refused a request: its gRPC code and message (a lease not found, a bad request)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(code, message)
        self.code = code
        self.message = message

    @property
    def not_found(self) -> bool:
        """Whether etcd said the thing asked for (a lease) does not exist."""
        return self.code == _NOT_FOUND


@final
class EtcdClient:
    """
    Requests to one etcd cluster through any of its *endpoints* (``http://`` or ``https://``).

    Thread-safe: urllib3 pools connections per endpoint, and the only shared
    state (the endpoint in use, the auth token) is changed under a lock.
    """

    def __init__(
        self,
        endpoints: Sequence[str],
        *,
        request_timeout: float,
        ca_file: str | None = None,
        cert_file: str | None = None,
        key_file: str | None = None,
        user: str | None = None,
        password: str | None = None,
    ) -> None:
        self.endpoints = tuple(e.rstrip("/") for e in endpoints)
        self.request_timeout = request_timeout
        tls: dict[str, Any] = {}
        if ca_file is not None:
            tls = {"cert_reqs": "CERT_REQUIRED", "ca_certs": ca_file}
            if cert_file is not None:
                tls.update(cert_file=cert_file, key_file=key_file)
        self._pool = urllib3.PoolManager(num_pools=max(4, len(self.endpoints)), maxsize=16, **tls)
        self._user = user
        self._password = password
        self._lock = threading.Lock()
        self._current = 0
        self._token: str | None = None

    # ---------------------------------------------------------------- the API

    def range(self, key: bytes) -> dict[str, Any]:
        """A linearizable read of one key: the response (``header``, ``kvs``)."""
        return self.call("/v3/kv/range", {"key": b64(key)}, repeatable=True)

    def txn(
        self,
        compare: list[dict[str, Any]],
        success: list[dict[str, Any]],
        failure: list[dict[str, Any]] | None = None,
        *,
        repeatable: bool,
    ) -> dict[str, Any]:
        """One transaction; the response's ``succeeded`` is set to a bool (absent means false)."""
        body: dict[str, Any] = {"compare": compare, "success": success}
        if failure:
            body["failure"] = failure
        response = self.call("/v3/kv/txn", body, repeatable=repeatable)
        response["succeeded"] = bool(response.get("succeeded", False))
        return response

    def lease_grant(self, ttl: int) -> tuple[int, int]:
        """A new lease of *ttl* seconds: its ID and the TTL etcd granted (it may raise it)."""
        response = self.call("/v3/lease/grant", {"TTL": ttl}, repeatable=True)
        if response.get("error"):
            raise EtcdError(0, str(response["error"]))
        return int(response["ID"]), int(response.get("TTL", 0))

    def lease_keepalive(self, lease: int) -> int:
        """Renew *lease* once; the TTL etcd gave it, 0 if the lease is gone."""
        response = self.call("/v3/lease/keepalive", {"ID": str(lease)}, repeatable=True)
        result = response.get("result", response)
        return int(result.get("TTL", 0))

    def lease_revoke(self, lease: int) -> None:
        """Revoke *lease*, deleting every key attached to it; a lease already gone is fine."""
        try:
            self.call("/v3/lease/revoke", {"ID": str(lease)}, repeatable=True)
        except EtcdError as error:
            if not error.not_found:
                raise

    def watch_once(self, key: bytes, start_revision: int, wait: float) -> None:
        """
        Return when *key* changed at or after *start_revision*, or after *wait* seconds.

        Never raises and never waits longer: it only shortens a wait, and the
        caller reads the state again whatever happened here.
        """
        body = {"create_request": {"key": b64(key), "start_revision": str(start_revision)}}
        deadline = time.monotonic() + wait
        with self._lock:
            endpoint = self.endpoints[self._current]
        try:
            response = self._pool.urlopen(
                "POST",
                endpoint + "/v3/watch",
                body=json.dumps(body).encode(),
                headers=self._headers(),
                timeout=urllib3.Timeout(connect=min(wait, self.request_timeout), read=wait),
                retries=False,
                preload_content=False,
            )
        except (HTTPError, OSError):
            time.sleep(max(0.0, min(_BACKOFF, deadline - time.monotonic())))
            return
        try:
            if response.status != 200:  # noqa: PLR2004 - HTTP OK
                return
            buffered = b""
            while time.monotonic() < deadline:
                chunk = response.read1(4096)
                if not chunk:
                    return
                buffered += chunk
                *lines, buffered = buffered.split(b"\n")
                for line in lines:
                    if _ends_wait(line):
                        return
        except (HTTPError, OSError, ValueError):
            return
        finally:
            response.close()  # the gateway ends the watch with the connection

    def close(self) -> None:
        """Close every pooled connection."""
        self._pool.clear()

    # -------------------------------------------------------------- internals

    def call(self, path: str, body: Mapping[str, Any], *, repeatable: bool) -> dict[str, Any]:
        """
        POST *body* to *path*, rotating endpoints until one answers, within the call's bound.

        A request that may have reached etcd is sent again only if
        *repeatable*; otherwise its failure is `Unavailable` with
        ``sent=True`` (its effect unknown).

        :raises Unavailable: no endpoint answered within ``request_timeout``
            times the number of endpoints.
        :raises EtcdError: etcd refused the request for a reason other than
            having no leader.
        """
        payload = json.dumps(body).encode()
        count = len(self.endpoints)
        deadline = time.monotonic() + self.request_timeout * count
        problem = "no endpoint tried"
        sent = False
        failures = 0
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise Unavailable(problem, sent=sent)
            with self._lock:
                index = self._current
            endpoint = self.endpoints[index]
            outcome = self._attempt(endpoint, path, payload, min(self.request_timeout, remaining))
            if isinstance(outcome, dict):
                return outcome
            problem, maybe_sent = outcome
            self._rotate(index)
            if maybe_sent:
                sent = True
                if not repeatable:
                    raise Unavailable(problem + "; the request's effect is unknown", sent=True)
            failures += 1
            if failures % count == 0:  # every endpoint failed once: back off before the next round
                pause = min(_BACKOFF * (failures // count), deadline - time.monotonic())
                time.sleep(max(0.0, pause))

    def _attempt(
        self, endpoint: str, path: str, payload: bytes, timeout: float, *, again: bool = False
    ) -> dict[str, Any] | tuple[str, bool]:
        """
        One request to one endpoint: the answer, or what went wrong and whether it was sent.

        :raises EtcdError: etcd refused the request for a reason other than having no leader.
        """
        try:
            response = self._pool.urlopen(
                "POST",
                endpoint + path,
                body=payload,
                headers=self._headers(),
                timeout=urllib3.Timeout(connect=timeout, read=timeout),
                retries=False,
            )
        except (NewConnectionError, ConnectTimeoutError) as error:
            return f"{endpoint}: cannot connect ({_reason(error)})", False
        except (ReadTimeoutError, ProtocolError, HTTPError, OSError) as error:
            return f"{endpoint}: no answer within {timeout:g} s ({_reason(error)})", True
        status = response.status
        try:
            answer: dict[str, Any] = json.loads(response.data or b"{}")
        except ValueError:
            answer = {"error": f"HTTP {status}: not JSON", "code": _UNAVAILABLE}
        if status == 200 and "error" not in answer:  # noqa: PLR2004 - HTTP OK
            return answer
        code = int(answer.get("code", 0))
        message = str(answer.get("message") or answer.get("error") or f"HTTP {status}")
        if code == _UNAUTHENTICATED and self._user is not None and not again:
            self._authenticate(endpoint, timeout)  # the token expired: log in again, once
            return self._attempt(endpoint, path, payload, timeout, again=True)
        if code != _UNAVAILABLE:
            raise EtcdError(code, message)
        # "no leader" is refused before anything is proposed; a timed-out
        # proposal or a leader change may have committed.
        return f"{endpoint}: {message}", "no leader" not in message

    def _headers(self) -> dict[str, str]:
        if self._user is None:
            return _HEADERS
        if self._token is None:
            with self._lock:
                endpoint = self.endpoints[self._current]
            self._authenticate(endpoint, self.request_timeout)
        return {**_HEADERS, "Authorization": self._token or ""}

    def _authenticate(self, endpoint: str, timeout: float) -> None:
        """Exchange the user and password for a token (etcd's simple or JWT token)."""
        body = json.dumps({"name": self._user, "password": self._password}).encode()
        try:
            response = self._pool.urlopen(
                "POST",
                endpoint + "/v3/auth/authenticate",
                body=body,
                headers=_HEADERS,
                timeout=urllib3.Timeout(connect=timeout, read=timeout),
                retries=False,
            )
        except (HTTPError, OSError) as error:
            raise Unavailable(f"{endpoint}: cannot authenticate ({error})", sent=False) from error
        answer = json.loads(response.data or b"{}")
        if response.status != 200 or "token" not in answer:  # noqa: PLR2004 - HTTP OK
            message = str(answer.get("message") or answer.get("error") or response.status)
            raise EtcdError(int(answer.get("code", _UNAUTHENTICATED)), message)
        self._token = str(answer["token"])

    def _rotate(self, index: int) -> None:
        with self._lock:
            if self._current == index:
                self._current = (index + 1) % len(self.endpoints)


def _ends_wait(line: bytes) -> bool:
    """Whether one message of a watch stream ends the wait: an event, an error, a cancel."""
    if not line.strip():
        return False
    message = json.loads(line)
    result = message.get("result")
    if not isinstance(result, dict):
        return True  # an error from the gateway
    return bool(result.get("events") or result.get("canceled") or result.get("compact_revision"))


def _reason(error: BaseException) -> str:
    reason = getattr(error, "reason", None)
    return str(reason if reason is not None else error)
