"""
What an [`EtcdSyncGuard`][syncsafe.guard.EtcdSyncGuard] keeps in etcd, and the transactions on it.

Per key ``K`` under the guard's prefix ``P``:

``P/holder/K``
    Exists while a run holds the key; attached to the guard's lease, so it
    goes when the holder's process dies (within the lease's TTL) or its
    lease expires. Its ``create_revision`` is the run's generation; its value
    the holding guard's nonce, so that a take that committed unseen is
    recognised as the guard's own when it is sent again.
``P/started/K``
    Written when a run takes the key; its ``mod_revision`` is the record's
    ``started``.
``P/finished/K``
    ``{"finished": g, "error": ...}``: the newest run that ended.

Taking the key is one transaction: if ``holder`` does not exist (and, for a
caller that waited, ``finished`` is the one it decided on), put ``holder``
on the lease and ``started``, and read ``finished``; else read all three.
A run ends with one transaction that, only if ``holder`` is still the
run's, deletes it and stores the policy's end record. A fenced write is one
transaction that writes only if ``holder`` still has the run's
``create_revision``.

This module builds those requests and reads their responses, as the etcd
gateway's JSON spells them (keys and values base64, int64 fields as
strings, absent fields zero); it sends nothing. What the guard decides from
them is the policy's (``syncsafe.guard._policy``).
"""

from __future__ import annotations

import base64
import json
from typing import Any, NamedTuple, final

__all__ = ["Keys", "Read", "b64", "finished", "held_by", "read", "unb64"]


def b64(data: bytes | str) -> str:
    """*data* as the gateway wants bytes: base64; a ``str`` is UTF-8 first."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    return base64.b64encode(raw).decode("ascii")


def unb64(text: str | None) -> bytes:
    """The bytes of a base64 field of a gateway response (absent: empty)."""
    return base64.b64decode(text) if text else b""


class Read(NamedTuple):
    """A read of one key's three records: who holds it, the newest start and end."""

    held: int
    """The holding run's generation (``holder``'s create revision), 0 if none holds it."""
    started: int
    """``started``'s mod revision: the newest run that started, 0 if none did."""
    finished: int
    """The newest run that ended, 0 if none did."""
    error: str | None
    """What that run raised, as text; ``None`` if it returned."""
    decided_on: int
    """``finished``'s mod revision: what a take after a wait compares."""
    revision: int
    """The etcd revision the read was at."""


def finished(read: dict[str, Any]) -> tuple[int, str | None, int]:
    """The finished record from a range response: its generation, error and mod_revision."""
    kvs = read.get("response_range", {}).get("kvs") or []
    if not kvs:
        return 0, None, 0
    kv = kvs[0]
    record = json.loads(unb64(kv.get("value")) or b"{}")
    error = record.get("error")
    return (
        int(record.get("finished", 0)),
        None if error is None else str(error),
        int(kv.get("mod_revision", 0)),
    )


def _created(name: str, revision: int) -> dict[str, Any]:
    return {
        "target": "CREATE",
        "key": b64(name),
        "create_revision": str(revision),
        "result": "EQUAL",
    }


def _modified(name: str, revision: int) -> dict[str, Any]:
    return {"target": "MOD", "key": b64(name), "mod_revision": str(revision), "result": "EQUAL"}


@final
class Keys:
    """One key's three etcd keys under a prefix, and the transactions on them."""

    __slots__ = ("finished", "holder", "key", "started")

    def __init__(self, prefix: str, key: str) -> None:
        self.key = key
        self.holder = f"{prefix}holder/{key}"
        self.started = f"{prefix}started/{key}"
        self.finished = f"{prefix}finished/{key}"

    def reads(self) -> list[dict[str, Any]]:
        """Range requests for ``holder``, ``started`` and ``finished``, in that order."""
        return [
            {"requestRange": {"key": b64(name)}}
            for name in (self.holder, self.started, self.finished)
        ]

    def take(
        self, nonce: str, lease: int, decided_on: int | None
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
        """
        The transaction that takes the key: compare, success and failure operations.

        Succeeds only if nobody holds the key and, for a caller that waited
        (*decided_on* given), ``finished`` is still the record it decided on.
        Its success reads ``finished`` last; its failure reads all three.
        """
        compare = [_created(self.holder, 0)]
        if decided_on is not None:
            compare.append(_modified(self.finished, decided_on))
        success = [
            {"requestPut": {"key": b64(self.holder), "value": b64(nonce), "lease": str(lease)}},
            {"requestPut": {"key": b64(self.started), "value": b64(nonce)}},
            {"requestRange": {"key": b64(self.finished)}},
        ]
        return compare, success, self.reads()

    def end(
        self, generation: int, ended: int, error: str | None
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
        """The transaction that ends run *generation*, storing the end record; failure reads it."""
        value = json.dumps({"finished": ended, "error": error}).encode()
        compare = [_created(self.holder, generation)]
        success = [
            {"requestDeleteRange": {"key": b64(self.holder)}},
            {"requestPut": {"key": b64(self.finished), "value": b64(value)}},
        ]
        return compare, success, [{"requestRange": {"key": b64(self.finished)}}]

    def fence(self, generation: int) -> list[dict[str, Any]]:
        """The comparison of a fenced write: ``holder`` is still run *generation*'s."""
        return [_created(self.holder, generation)]


def held_by(holder_read: dict[str, Any], nonce: str, lease: int) -> bool:
    """Whether a range response of ``holder`` shows it put by the guard *nonce* on *lease*."""
    kvs = holder_read.get("response_range", {}).get("kvs") or []
    if not kvs:
        return False
    kv = kvs[0]
    return unb64(kv.get("value")) == nonce.encode() and int(kv.get("lease", 0)) == lease


def read(response: dict[str, Any]) -> Read:
    """A transaction's response to `Keys.reads`."""
    holder, started, finished_read = response["responses"]
    holder_kvs = holder.get("response_range", {}).get("kvs") or []
    started_kvs = started.get("response_range", {}).get("kvs") or []
    held = int(holder_kvs[0].get("create_revision", 0)) if holder_kvs else 0
    began = int(started_kvs[0].get("mod_revision", 0)) if started_kvs else 0
    ended, error, decided_on = finished(finished_read)
    return Read(held, began, ended, error, decided_on, int(response["header"]["revision"]))
