"""
Sync events: what one is, and how they are read from the Kubernetes objects that record them.

[`SyncEvent`][syncsafe.storm.SyncEvent] is one sync at an instant and
[`SyncSeries`][syncsafe.storm.SyncSeries] many syncs that one record folds into a count (its cost
does not grow with the count). [`events_from`][syncsafe.storm.events_from] turns the objects that
``kubectl get -o json`` prints into them, with *stable* ids, so that reading the same object at
every poll never counts its syncs again; every ``status.history`` list is read by
one loop (``_Reader.history``), and *since* is applied in one place
(``_Reader.add``). The detector that counts them is [`syncsafe.storm`][syncsafe.storm],
which re-exports everything public here.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping
from datetime import datetime, timedelta, timezone
from typing import Final, final

import attrs

from syncsafe._k8s import parse_time, require_aware

__all__ = [
    "SYNC_EVENT_REASONS",
    "EventBatch",
    "SyncEvent",
    "SyncSeries",
    "events_from",
]

EPOCH: Final = datetime(1970, 1, 1, tzinfo=timezone.utc)
MICROSECOND: Final = timedelta(microseconds=1)

SYNC_EVENT_REASONS: Final[Mapping[str, frozenset[str]]] = {
    "argocd": frozenset({"OperationCompleted"}),
    "flux": frozenset({"ReconciliationSucceeded", "ReconciliationFailed"}),
}
"""The core/v1 Event reasons that record one sync, per tool (per-resource reasons do not)."""

_MAX_DEPTH: Final = 32
_INT64_MAX: Final = (1 << 63) - 1


def micros(when: datetime) -> int:
    """*when* as microseconds since the epoch: the detector's and the readers' one time scale."""
    return (when - EPOCH) // MICROSECOND


def instant(us: int) -> datetime:
    """The UTC instant *us* microseconds after the epoch (the inverse of `micros`)."""
    return EPOCH + timedelta(microseconds=us)


@final
@attrs.frozen
class SyncEvent:
    """
    One sync of one application by one tool, at an instant.

    Two events are the same sync when their ``id`` is equal (when it is given)
    or, without an id, when tool, namespace, app and the instant are equal (the
    same instant written in two time zones is one). A naive ``timestamp`` is
    refused with [`NaiveTimestamp`][syncsafe.errors.NaiveTimestamp].

    !!! note "Added in version 0.1.0"
    """

    tool: str
    app: str
    namespace: str
    timestamp: datetime
    id: str | None = None
    _micros: int = attrs.field(init=False, repr=False, eq=False)
    _identity: object = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        require_aware("SyncEvent.timestamp", self.timestamp)
        micros = (self.timestamp - EPOCH) // MICROSECOND
        object.__setattr__(self, "_micros", micros)
        identity = self.id if self.id is not None else (self.tool, self.namespace, self.app, micros)
        object.__setattr__(self, "_identity", identity)

    @property
    def identity(self) -> object:
        """What de-duplication compares: ``id``, or (tool, namespace, app, instant in µs)."""
        return self._identity


def last_at_or_before(a: int, span: int, n: int, x: int) -> int:
    """
    The number of syncs of a series at or before *x* (µs): the largest k with ``t(k) <= x``, or 0.

    Sync k of n is at ``t(k) = a + span * (k - 1) // (n - 1)`` (``a + span``
    when n is 1), non-decreasing in k, so the answer inverts the floor:
    ``t(k) <= x`` exactly when ``span * (k - 1) < (x - a + 1) * (n - 1)``.
    Constant time, whatever n is.
    """
    if n == 1:
        return 1 if a + span <= x else 0
    if x < a:
        return 0
    if span == 0:
        return n
    return min(n, -(-((x - a + 1) * (n - 1)) // span))


def time_of(a: int, span: int, n: int, k: int) -> int:
    """The time (µs) of sync *k* of a series of *n* from *a* over *span*."""
    return a + span * (k - 1) // (n - 1) if n > 1 else a + span


@final
@attrs.frozen
class SyncSeries:
    """
    Many syncs of one application that one record folds into a count.

    A core/v1 Event's ``count`` (or ``series.count``) and a Flux history
    entry's ``totalReconciliations`` say that *total* syncs happened, the
    first at *first* and the last at *last*, and nothing about the others:
    sync *k* (from 1) is taken to be at ``first + (last - first) * (k - 1) /
    (total - 1)``, floored to the microsecond (at *last* when *total* is 1),
    which is the mean rate. A series holds syncs *start* to *end* of them
    (inclusive; all by default). Sync *k*'s id is ``f"{id}#{k}"``: a
    [`StormDetector`][syncsafe.storm.StormDetector] that has seen syncs 1 to 3 of a record takes
    only 4 and 5 from a later read of it with a total of 5.

    One value whatever its total: a detector counts it in constant time per
    question, without an object per sync ([`events`][syncsafe.storm.SyncSeries.events] makes them,
    at the cost of one per sync).

    !!! note "Added in version 0.1.0"
    """

    tool: str
    app: str
    namespace: str
    id: str
    first: datetime
    last: datetime
    total: int
    start: int = 1
    end: int = attrs.field(default=attrs.Factory(lambda self: self.total, takes_self=True))
    _a: int = attrs.field(init=False, repr=False, eq=False)
    _span: int = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        require_aware("SyncSeries.first", self.first)
        require_aware("SyncSeries.last", self.last)
        if self.last < self.first:
            msg = f"SyncSeries {self.id!r}: last {self.last} is before first {self.first}"
            raise ValueError(msg)
        if not 1 <= self.start <= self.end <= self.total:
            msg = (
                f"SyncSeries {self.id!r}: syncs {self.start} to {self.end} of {self.total} "
                "must satisfy 1 <= start <= end <= total"
            )
            raise ValueError(msg)
        a = micros(self.first)
        object.__setattr__(self, "_a", a)
        object.__setattr__(self, "_span", micros(self.last) - a)

    def __len__(self) -> int:
        """The number of syncs the series holds: ``end - start + 1``."""
        return self.end - self.start + 1

    def timestamp(self, k: int) -> datetime:
        """The time taken for sync *k* (``start <= k <= end``)."""
        if not self.start <= k <= self.end:
            msg = f"SyncSeries {self.id!r} holds syncs {self.start} to {self.end}, not {k}"
            raise IndexError(msg)
        # From first, in its zone: an instant near the year 1 or 9999 need not exist in UTC.
        return self.first + timedelta(microseconds=time_of(0, self._span, self.total, k))

    def events(self) -> Iterator[SyncEvent]:
        """Each sync as a [`SyncEvent`][] with id ``f"{id}#{k}"``, oldest first."""
        for k in range(self.start, self.end + 1):
            yield SyncEvent(
                self.tool, self.app, self.namespace, self.timestamp(k), f"{self.id}#{k}"
            )


@final
@attrs.frozen
class EventBatch:
    """
    What [`events_from`][syncsafe.storm.events_from] found: the events, and what it could not read.

    ``skipped`` has one reason per malformed entry (``Application prod/pay:
    status.history[2]: ...``); ``ignored`` counts objects that are not syncs
    (other kinds, Events with other reasons).

    !!! note "Added in version 0.1.0"
    """

    events: tuple[SyncEvent | SyncSeries, ...]
    skipped: tuple[str, ...] = ()
    ignored: int = 0

    @property
    def syncs(self) -> int:
        """The number of syncs found: one per event, a series' length for each series."""
        return sum(1 if type(e) is SyncEvent else len(e) for e in self.events)

    def occurrences(self) -> Iterator[SyncEvent]:
        """
        Every sync as its own [`SyncEvent`][], a series' as ids ``…#k``, in order found.

        Costs one object per sync: a series of a hundred thousand makes a
        hundred thousand. A [`StormDetector`][syncsafe.storm.StormDetector] takes the series as they
        are.
        """
        for e in self.events:
            if type(e) is SyncEvent:
                yield e
            else:
                yield from e.events()


class _Malformed(Exception):
    pass


def _map(value: object, what: str) -> Mapping[str, object]:
    if not isinstance(value, Mapping):
        raise _Malformed(f"{what} is not an object")
    return value


def _str(obj: Mapping[str, object], key: str, what: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value:
        raise _Malformed(f"{what}.{key} is missing or not a string")
    return value


def _time(obj: Mapping[str, object], key: str, what: str) -> datetime:
    text = _str(obj, key, what)
    try:
        return parse_time(text)
    except ValueError as exc:
        raise _Malformed(f"{what}.{key}: {exc}") from None


def _int(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= _INT64_MAX:
        if isinstance(value, int) and value > _INT64_MAX:
            raise _Malformed(f"{what} {value} is more than an int64 holds")
        raise _Malformed(f"{what} {value!r} is not a positive integer")
    return value


class _Reader:
    def __init__(self, since: datetime | None, reasons: Mapping[str, Collection[str]]) -> None:
        self.since = None if since is None else micros(require_aware("since", since))
        self.reasons = reasons
        self.events: list[SyncEvent | SyncSeries] = []
        self.skipped: list[str] = []
        self.ignored = 0

    def skip(self, where: str, problem: str) -> None:
        self.skipped.append(f"{where}: {problem}")

    def add(self, found: SyncEvent | SyncSeries) -> None:
        """
        Keep what a reader found, less what is at or before ``since``: the one place it applies.

        An event at or before it is dropped; a series keeps the syncs after it.
        """
        since = self.since
        if since is None:
            self.events.append(found)
        elif type(found) is SyncEvent:
            if found._micros > since:  # noqa: SLF001 - our own class
                self.events.append(found)
        else:
            s: SyncSeries = found
            done = last_at_or_before(s._a, s._span, s.total, since)  # noqa: SLF001
            if done < s.total:
                self.events.append(attrs.evolve(s, start=done + 1) if done else s)

    def history(
        self,
        history: object,
        where: str,
        read: Callable[[Mapping[str, object], str], None],
    ) -> None:
        """
        Call *read* on each entry of a ``status.history`` list, with its place in the list.

        The one history loop: an entry that is not an object, or that *read*
        finds malformed, is skipped with its reason; the others are read.
        """
        if not isinstance(history, list):
            raise _Malformed("status.history is not a list")
        for i, raw in enumerate(history):
            what = f"status.history[{i}]"
            try:
                read(_map(raw, what), what)
            except _Malformed as exc:
                self.skip(where, str(exc))

    def occurrences(
        self,
        *,
        tool: str,
        app: str,
        namespace: str,
        ident: str,
        first: datetime,
        last: datetime,
        n: int,
    ) -> None:
        """
        Syncs 1..n of a folded record (an Event's count, a Flux history entry's total).

        Only the first and the last time are known: one [`SyncSeries`][syncsafe.storm.SyncSeries]
        holds them all, whatever *n* is (work and memory do not grow with it).
        """
        if last < first:
            first, last = last, first
        self.add(SyncSeries(tool, app, namespace, ident, first, last, n))

    def read(self, obj: object, depth: int = 0) -> None:
        if depth > _MAX_DEPTH:
            self.skip("item", f"Lists nested more than {_MAX_DEPTH} deep")
            return
        if not isinstance(obj, Mapping):
            self.skip("item", f"not an object but {type(obj).__name__}")
            return
        inner = obj.get("object")
        if isinstance(inner, Mapping) and isinstance(obj.get("type"), str):
            obj = inner  # a watch event: {"type": "MODIFIED", "object": {...}}
        kind = obj.get("kind")
        items = obj.get("items")
        if isinstance(items, list) and (kind is None or str(kind).endswith("List")):
            for item in items:
                self.read(item, depth + 1)
            return
        reader = self.reader_for(kind, str(obj.get("apiVersion", "")))
        if reader is None:
            self.ignored += 1
            return
        meta = obj.get("metadata")
        name = meta.get("name") if isinstance(meta, Mapping) else None
        namespace = meta.get("namespace") if isinstance(meta, Mapping) else None
        where = f"{kind} {namespace or ''}/{name or '?'}"
        if not isinstance(name, str) or not name:
            self.skip(where, "metadata.name is missing")
            return
        try:
            reader(obj, name, namespace if isinstance(namespace, str) else "", where)
        except _Malformed as exc:
            self.skip(where, str(exc))

    def reader_for(
        self, kind: object, api: str
    ) -> Callable[[Mapping[str, object], str, str, str], None] | None:
        """The method that reads *kind* objects of *api*, or None for kinds that are not syncs."""
        if kind == "Application" and api.startswith("argoproj.io/"):
            return self.application
        if kind == "Kustomization" and api.startswith("kustomize.toolkit.fluxcd.io/"):
            return self.kustomization
        if kind == "Event" and api in {"v1", "events.k8s.io/v1", "events.k8s.io/v1beta1"}:
            return self.event
        return None

    def application(self, obj: Mapping[str, object], name: str, ns: str, where: str) -> None:
        spec = obj.get("spec")
        dest = spec.get("destination") if isinstance(spec, Mapping) else None
        target = dest.get("namespace") if isinstance(dest, Mapping) else None
        target = target if isinstance(target, str) and target else ns
        status = obj.get("status")
        if status is None:
            return
        status = _map(status, "status")

        def entry_event(entry: Mapping[str, object], what: str) -> None:
            deployed = _time(entry, "deployedAt", what)
            if entry.get("deployStartedAt") is not None:
                ident = f"argocd:{ns}/{name}@{micros(_time(entry, 'deployStartedAt', what))}"
            else:
                ident = f"argocd:{ns}/{name}#history{entry.get('id')}:{entry.get('revision')}"
            self.add(SyncEvent("argocd", name, target, deployed, ident))

        self.history(status.get("history") or [], where, entry_event)
        op = status.get("operationState")
        if op is None:
            return
        try:
            op = _map(op, "status.operationState")
            if op.get("finishedAt") is None:
                return  # still running: not a sync yet
            finished = _time(op, "finishedAt", "status.operationState")
            started = _time(op, "startedAt", "status.operationState")
        except _Malformed as exc:
            self.skip(where, str(exc))
            return
        # History records deployStartedAt = the operation's startedAt: the same sync.
        ident = f"argocd:{ns}/{name}@{micros(started)}"
        self.add(SyncEvent("argocd", name, target, finished, ident))

    def kustomization(self, obj: Mapping[str, object], name: str, ns: str, where: str) -> None:
        status = obj.get("status")
        if status is None:
            return
        status = _map(status, "status")
        history = status.get("history")
        if history is None:
            if status.get("lastAppliedRevision") is not None:
                raise _Malformed(
                    "status.lastAppliedRevision without status.history: "
                    "the sync times are not recorded (kustomize-controller before v1.4)"
                )
            return

        def entry_event(entry: Mapping[str, object], what: str) -> None:
            digest = _str(entry, "digest", what)
            last = _time(entry, "lastReconciled", what)
            first = (
                _time(entry, "firstReconciled", what)
                if entry.get("firstReconciled") is not None
                else last
            )
            total = _int(entry.get("totalReconciliations", 1), f"{what}.totalReconciliations")
            self.occurrences(
                tool="flux",
                app=name,
                namespace=ns,
                ident=f"flux:{ns}/{name}:{digest}",
                first=first,
                last=last,
                n=total,
            )

        self.history(history, where, entry_event)

    def event(self, obj: Mapping[str, object], name: str, ns: str, _where: str) -> None:
        involved = obj.get("involvedObject", obj.get("regarding"))
        involved = _map(involved, "involvedObject")
        api = str(involved.get("apiVersion", ""))
        tool = "argocd" if api.startswith("argoproj.io/") else None
        if "toolkit.fluxcd.io/" in api:
            tool = "flux"
        if tool is None or obj.get("reason") not in self.reasons.get(tool, ()):
            self.ignored += 1
            return
        app = _str(involved, "name", "involvedObject")
        target = involved.get("namespace")
        target = target if isinstance(target, str) and target else ns
        series = obj.get("series")
        if series is not None:
            series = _map(series, "series")
            count = _int(series.get("count"), "series.count")
            last_key = "lastObservedTime"
            last_src: Mapping[str, object] = series
        else:
            count = _int(obj.get("count", obj.get("deprecatedCount", 1)), "count")
            last_key, last_src = "lastTimestamp", obj
        first_key = "eventTime" if obj.get("eventTime") else "firstTimestamp"
        if obj.get(first_key) is None and obj.get("deprecatedFirstTimestamp"):
            first_key = "deprecatedFirstTimestamp"
        first = _time(obj, first_key, "event")
        last = _time(last_src, last_key, "event") if last_src.get(last_key) else first
        meta = _map(obj.get("metadata"), "metadata")
        uid = meta.get("uid")
        ident = f"event:{uid}" if isinstance(uid, str) and uid else f"event:{ns}/{name}"
        self.occurrences(
            tool=tool, app=app, namespace=target, ident=ident, first=first, last=last, n=count
        )


def events_from(
    obj: object,
    *,
    since: datetime | None = None,
    reasons: Mapping[str, Collection[str]] = SYNC_EVENT_REASONS,
) -> EventBatch:
    """
    The sync events recorded in a Kubernetes object, with stable ids.

    Reads an Argo CD ``Application`` (one event per ``status.history`` entry at
    ``deployedAt``, and the finished ``status.operationState`` at ``finishedAt``:
    the history entry and the operation of one sync share its start time, so
    they share an id), a Flux ``Kustomization`` (``status.history``: each entry
    folds ``totalReconciliations`` reconciliations between ``firstReconciled``
    and ``lastReconciled``), a core/v1 ``Event`` about either (``count`` or
    ``series.count`` occurrences between the first and last time, for the
    reasons in *reasons*), a ``List`` of any of these (``kubectl get -A -o
    json``) and a watch event wrapping one (``kubectl get -w
    --output-watch-events``).

    A folded record of *n* syncs (an Event's count, a Flux entry's total) is
    one [`SyncSeries`][syncsafe.storm.SyncSeries] of syncs ``…#1`` to ``…#n``: read it again with a
    count of 5 where it was 3, and only ``#4`` and ``#5`` are new to a
    [`StormDetector`][syncsafe.storm.StormDetector]. Their times are spread evenly between the first
    and last time (the record keeps no others). With *since*, nothing at or
    before it is returned, so a long history costs nothing.

    Work and memory are linear in the size of *obj*, whatever counts it
    claims: a series is one value, never one object per sync, so eight
    Events claiming a hundred thousand syncs each cost what eight Events
    cost (``EventBatch.occurrences`` expands them, when that is wanted).

    An Argo CD event's namespace is the application's destination namespace,
    where it deploys. Malformed entries are skipped and listed in
    ``skipped``; this function does not raise on bad data.
    """
    reader = _Reader(since, reasons)
    reader.read(obj)
    return EventBatch(tuple(reader.events), tuple(reader.skipped), reader.ignored)
