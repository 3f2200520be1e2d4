"""
How old is what the cluster runs? Durations, revisions, staleness, metrics.

- [`parse_duration`][syncsafe.stale.parse_duration] reads ``24h``, ``90m``, ``1h30m`` exactly as
  Go's ``time.ParseDuration`` does (what Flux and Argo CD accept in their specs), and
  [`format_duration`][syncsafe.stale.format_duration] writes them back as Go's ``Duration.String``.
- [`parse_revision`][syncsafe.stale.parse_revision] reads Flux's ``main@sha1:<hex>`` and
  ``sha1:<hex>``, the legacy ``main/<hex>``, and Argo CD's bare hex, into a
  [`Revision`][syncsafe.stale.Revision].
- [`staleness`][syncsafe.stale.staleness] reports how old the commit of an object's applied revision
  is, asking a [`CommitTimeLookup`][syncsafe.stale.CommitTimeLookup] (by default ``git show`` in a
  repository, [`git_commit_time`][syncsafe.stale.git_commit_time]), and whether it is older than a
  maximum.
- [`staleness_metrics`][syncsafe.stale.staleness_metrics],
  [`render_exposition`][syncsafe.stale.render_exposition] and
  [`write_textfile`][syncsafe.stale.write_textfile] publish the reports to node_exporter's textfile
  collector: the file is replaced atomically, never appended to.

The commit time is the age measure: a condition's ``lastTransitionTime`` is
never read as a sync time, because it changes only when the condition's
status flips (a Ready Kustomization that has re-applied a hundred times keeps
the time it first became Ready).
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Final, final

import attrs

from syncsafe._duration import (
    format_duration,
    format_long_duration,
    parse_duration,
    parse_duration_ns,
    timedelta_from_ns,
)
from syncsafe._exposition import MetricFamily, render_exposition, write_textfile
from syncsafe._k8s import parse_time, require_aware
from syncsafe.errors import CommitTimeOutOfRange, InvalidRevision, UnknownCommit

__all__ = [
    "CommitTimeLookup",
    "MetricFamily",
    "Revision",
    "Staleness",
    "format_duration",
    "git_commit_time",
    "parse_duration",
    "parse_duration_ns",
    "parse_revision",
    "render_exposition",
    "staleness",
    "staleness_metrics",
    "timedelta_from_ns",
    "write_textfile",
]

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=timezone.utc)
_DIGEST_LENGTHS: Final = {"sha1": 40, "sha256": 64}
_HEX: Final = re.compile(r"[0-9a-f]+")

CommitTimeLookup = Callable[[str], datetime]
"""A function from a commit digest (lowercase hex) to its commit time, aware."""


@final
@attrs.frozen
class Revision:
    """
    A source revision as Flux or Argo CD record it: an optional ref, an algorithm, a digest.

    ``str()`` gives Flux's form, ``ref@algorithm:digest`` (or ``algorithm:digest``
    without a ref).

    !!! note "Added in version 0.1.0"
    """

    ref: str | None
    algorithm: str
    digest: str

    def __str__(self) -> str:
        body = f"{self.algorithm}:{self.digest}"
        return body if self.ref is None else f"{self.ref}@{body}"


def _check_digest(text: str, algorithm: str, digest: str) -> None:
    want = _DIGEST_LENGTHS.get(algorithm)
    if want is None:
        raise InvalidRevision(text, f"unknown digest algorithm {algorithm!r} (sha1 or sha256)")
    if not _HEX.fullmatch(digest):
        raise InvalidRevision(text, f"digest {digest!r} must be lowercase hexadecimal")
    if len(digest) != want:
        raise InvalidRevision(
            text, f"a {algorithm} digest has {want} hex digits, {digest!r} has {len(digest)}"
        )


def _algorithm_for(text: str, digest: str) -> str:
    if _HEX.fullmatch(digest):
        for algorithm, length in _DIGEST_LENGTHS.items():
            if len(digest) == length:
                return algorithm
    raise InvalidRevision(
        text, "expected ref@sha1:<hex>, sha1:<hex>, ref/<hex> or a 40- or 64-digit commit hash"
    )


def parse_revision(text: str) -> Revision:
    """
    Parse a revision string from a Flux or Argo CD status.

    - ``main@sha1:<40 hex>``, ``v1.2@sha256:<64 hex>``: Flux v2 (ref, then ``@``);
    - ``sha1:<hex>``: Flux v2 without a ref;
    - ``main/<hex>``, ``feature/x/<hex>``: the legacy Flux form (split on the last ``/``);
    - ``<40 or 64 hex>``: Argo CD's bare commit hash.

    The algorithm is ``sha1`` or ``sha256`` with the matching number of
    lowercase hex digits.

    :raises InvalidRevision: naming the text and what is wrong with it.
    """
    if not text:
        raise InvalidRevision(text, "empty revision")
    if ":" in text:
        ref: str | None
        head, _, digest = text.rpartition(":")
        if "@" in head:
            ref, _, algorithm = head.rpartition("@")
            if not ref:
                raise InvalidRevision(text, "empty ref before '@'")
        else:
            ref, algorithm = None, head
        _check_digest(text, algorithm, digest)
        return Revision(ref, algorithm, digest)
    if "/" in text:
        ref, _, digest = text.rpartition("/")
        if not ref:
            raise InvalidRevision(text, "empty ref before '/'")
        return Revision(ref, _algorithm_for(text, digest), digest)
    return Revision(None, _algorithm_for(text, text), text)


def git_commit_time(repo: str | Path, *, git: str = "git") -> CommitTimeLookup:
    """
    A [`CommitTimeLookup`][] that asks ``git show -s --format=%ct`` in *repo*.

    The digest is passed as ``<digest>^{commit}``, so a tree or blob hash is not
    taken for a commit, and after ``--end-of-options``, so it is never read as
    an option. The commit time (``%ct``) is when the commit was made on the
    branch, not when it was authored.

    :raises UnknownCommit: (from the lookup) when git does not know the commit.
    :raises CommitTimeOutOfRange: (from the lookup) when the commit is dated
        after the year 9999, which no ``datetime`` holds.
    :raises FileNotFoundError: (from the lookup) when *git* is not installed.
    """
    where = str(repo)

    def lookup(digest: str) -> datetime:
        result = subprocess.run(  # noqa: S603 - a fixed argv, no shell
            [
                git,
                "-C",
                where,
                "show",
                "-s",
                "--format=%ct",
                "--end-of-options",
                f"{digest}^{{commit}}",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        out = result.stdout.strip()
        if result.returncode != 0 or not out.isdigit():
            detail = (result.stderr.strip().splitlines() or ["git printed no commit time"])[0]
            raise UnknownCommit(digest, where, detail)
        try:
            return _EPOCH + timedelta(seconds=int(out))
        except OverflowError:  # beyond the year 9999: no datetime holds it
            raise CommitTimeOutOfRange(digest, where, int(out)) from None

    return lookup


@final
@attrs.frozen
class Staleness:
    """
    How old one object's applied revision is.

    ``age`` is ``now - committed_at``; ``stale`` is ``age > max_age``.
    ``synced_at`` is the last sync the object records (Flux
    ``status.history[0].lastReconciled``, Argo CD ``operationState.finishedAt``),
    or ``None``: never a condition's ``lastTransitionTime``.

    !!! note "Added in version 0.1.0"
    """

    kind: str
    namespace: str
    name: str
    revision: Revision
    committed_at: datetime
    now: datetime
    max_age: timedelta
    synced_at: datetime | None = None

    @property
    def age(self) -> timedelta:
        """How long ago the applied revision was committed."""
        return self.now - self.committed_at

    @property
    def stale(self) -> bool:
        """Whether the applied revision is older than ``max_age``."""
        return self.age > self.max_age

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready summary."""
        return {
            "kind": self.kind,
            "namespace": self.namespace,
            "name": self.name,
            "revision": str(self.revision),
            "committed_at": self.committed_at.isoformat(),
            "synced_at": None if self.synced_at is None else self.synced_at.isoformat(),
            "age_seconds": self.age.total_seconds(),
            "age": format_long_duration(self.age),
            "max_age": format_long_duration(self.max_age),
            "stale": self.stale,
        }


def _get(obj: object, *path: str) -> object:
    for part in path:
        if not isinstance(obj, Mapping):
            return None
        obj = obj.get(part)
    return obj


def _applied(obj: Mapping[str, object]) -> tuple[str, datetime | None]:
    """(revision, last sync time) for a Flux Kustomization or an Argo CD Application."""
    kind = obj.get("kind")
    if kind == "Application":
        revision = _get(obj, "status", "sync", "revision") or _get(
            obj, "status", "operationState", "syncResult", "revision"
        )
        synced = _get(obj, "status", "operationState", "finishedAt")
    else:
        revision = _get(obj, "status", "lastAppliedRevision")
        history = _get(obj, "status", "history")
        first = history[0] if isinstance(history, list) and history else None
        synced = _get(first, "lastReconciled")
    if not isinstance(revision, str):
        namespace, name = _get(obj, "metadata", "namespace"), _get(obj, "metadata", "name")
        where = f"{kind or 'object'} {namespace}/{name}"
        raise InvalidRevision(where, "no applied revision in its status")
    try:
        synced_at = parse_time(synced) if isinstance(synced, str) else None
    except ValueError:  # informational only: an unreadable sync time is no sync time
        synced_at = None
    return revision, synced_at


def _objects(obj: object) -> Iterator[Mapping[str, object]]:
    if isinstance(obj, Mapping):
        items = obj.get("items")
        if isinstance(items, list):
            for item in items:
                yield from _objects(item)
        else:
            yield obj


def staleness(
    obj: Mapping[str, object],
    *,
    max_age: timedelta,
    commit_time: CommitTimeLookup,
    now: datetime | None = None,
) -> list[Staleness]:
    """
    Report how old each object's applied revision is: one [`Staleness`][] per object.

    *obj* is a Flux ``Kustomization`` (``status.lastAppliedRevision``), an
    Argo CD ``Application`` (``status.sync.revision``), or a ``List`` of them
    (``kubectl get -o json``). *commit_time* finds a commit's time, e.g.
    [`git_commit_time`][syncsafe.stale.git_commit_time]; *now* defaults to the current time and must
    be timezone-aware.

    :raises InvalidRevision: when an object has no revision or an unreadable one.
    :raises UnknownCommit: when *commit_time* does not know the commit.
    :raises NaiveTimestamp: when *now* has no time zone.
    """
    when = datetime.now(timezone.utc) if now is None else require_aware("now", now)
    reports: list[Staleness] = []
    for item in _objects(obj):
        text, synced_at = _applied(item)
        revision = parse_revision(text)
        meta = item.get("metadata")
        meta = meta if isinstance(meta, Mapping) else {}
        reports.append(
            Staleness(
                kind=str(item.get("kind", "")),
                namespace=str(meta.get("namespace", "")),
                name=str(meta.get("name", "")),
                revision=revision,
                committed_at=commit_time(revision.digest),
                now=when,
                max_age=max_age,
                synced_at=synced_at,
            )
        )
    return reports


def staleness_metrics(reports: Sequence[Staleness]) -> list[MetricFamily]:
    """The reports as gauges: the commit's age, its timestamp, and a 0/1 stale flag."""

    def labels(r: Staleness) -> dict[str, str]:
        return {
            "kind": r.kind,
            "namespace": r.namespace,
            "name": r.name,
            "revision": str(r.revision),
        }

    return [
        MetricFamily(
            "syncsafe_revision_age_seconds",
            "Seconds since the applied revision was committed.",
            "gauge",
            [(labels(r), r.age.total_seconds()) for r in reports],
        ),
        MetricFamily(
            "syncsafe_revision_commit_timestamp_seconds",
            "Commit time of the applied revision, in Unix seconds.",
            "gauge",
            [(labels(r), r.committed_at.timestamp()) for r in reports],
        ),
        MetricFamily(
            "syncsafe_revision_stale",
            "1 if the applied revision is older than the maximum age, else 0.",
            "gauge",
            [(labels(r), 1 if r.stale else 0) for r in reports],
        ),
    ]
