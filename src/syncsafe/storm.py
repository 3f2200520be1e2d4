"""
Deployment storms: an exact sliding-window sync rate across Argo CD and Flux, with alerting.

:class:`StormDetector` keeps a log of the distinct sync events of the last
window, sorted by time, and answers "how many syncs per minute right now" by
counting them, exactly: an event read twice counts once, an event that
arrives out of order counts if it is inside the window, an event older than
the window is dropped, and so is its de-duplication entry, so memory is
bounded by the window. :meth:`StormDetector.check` turns the rate into an
alert with the semantics of a Prometheus alerting rule (``for``,
``keep_firing_for``) plus hysteresis.

:func:`events_from` turns the objects that ``kubectl get -o json`` prints into
:class:`SyncEvent` values with *stable* ids, so that reading the same object
at every poll never counts its syncs again.

Unlike a poller that appends the last hundred events at every poll and
compares naive with aware datetimes, nothing here depends on how often it is
polled, and every timestamp is an instant: naive datetimes are refused.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping
from datetime import datetime, timedelta, timezone
from typing import Final, Literal, final

import attrs

from syncsafe._exposition import MetricFamily
from syncsafe._k8s import parse_time, require_aware

__all__ = [
    "PRODUCTION_WORDS",
    "SYNC_EVENT_REASONS",
    "AlertState",
    "EventBatch",
    "StormAlert",
    "StormDetector",
    "StormStatistics",
    "SyncEvent",
    "events_from",
    "is_production_namespace",
    "storm_metrics",
]

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=timezone.utc)
_US: Final = timedelta(microseconds=1)
_MINUTE_US: Final = 60_000_000

PRODUCTION_WORDS: Final = frozenset({"prod", "production", "live"})
"""The default production words: a namespace is production when one of its components is one."""

SYNC_EVENT_REASONS: Final[Mapping[str, frozenset[str]]] = {
    "argocd": frozenset({"OperationCompleted"}),
    "flux": frozenset({"ReconciliationSucceeded", "ReconciliationFailed"}),
}
"""The core/v1 Event reasons that record one sync, per tool (per-resource reasons do not)."""

_MAX_OCCURRENCES: Final = 100_000
_MAX_DEPTH: Final = 32

AlertState = Literal["inactive", "pending", "firing"]


def is_production_namespace(namespace: str, words: Collection[str] = PRODUCTION_WORDS) -> bool:
    """
    Whether *namespace* is a production namespace: one of its components is in *words*.

    Components are separated by ``-``, ``_`` or ``.``: ``prod``, ``prod-payments``
    and ``payments-live`` are production; ``productcatalog``, ``delivery`` and
    ``olive`` are not, although they contain ``prod`` or ``live`` (a substring
    test, as the incident's detector used, says they are).
    """
    return any(part in words for part in re.split(r"[-_.]", namespace))


@final
@attrs.frozen
class SyncEvent:
    """
    One sync of one application by one tool, at an instant.

    Two events are the same sync when their ``id`` is equal (when it is given)
    or, without an id, when tool, namespace, app and the instant are equal (the
    same instant written in two time zones is one). A naive ``timestamp`` is
    refused with :class:`~syncsafe.NaiveTimestamp`.

    .. versionadded:: 0.1.0
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
        micros = (self.timestamp - _EPOCH) // _US
        object.__setattr__(self, "_micros", micros)
        identity = self.id if self.id is not None else (self.tool, self.namespace, self.app, micros)
        object.__setattr__(self, "_identity", identity)

    @property
    def identity(self) -> object:
        """What de-duplication compares: ``id``, or (tool, namespace, app, instant in µs)."""
        return self._identity


@final
@attrs.frozen
class StormAlert:
    """
    What :meth:`StormDetector.check` reports: the window's rate and its breakdown.

    ``by_tool`` and ``by_namespace`` count the window's distinct syncs;
    ``production_share`` is the fraction in production namespaces.

    .. versionadded:: 0.1.0
    """

    state: AlertState
    at: datetime
    rate: float
    """Distinct syncs in the window per minute of window."""
    count: int
    threshold: float
    window: timedelta
    active_since: datetime | None
    by_tool: Mapping[str, int]
    by_namespace: Mapping[str, int]
    production: int

    @property
    def production_share(self) -> float:
        """The fraction of the window's syncs that hit production namespaces (0.0 when none)."""
        return self.production / self.count if self.count else 0.0

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready summary."""
        return {
            "state": self.state,
            "at": self.at.isoformat(),
            "rate_per_minute": self.rate,
            "count": self.count,
            "threshold": self.threshold,
            "window_seconds": self.window.total_seconds(),
            "active_since": None if self.active_since is None else self.active_since.isoformat(),
            "by_tool": dict(sorted(self.by_tool.items())),
            "by_namespace": dict(sorted(self.by_namespace.items())),
            "production": self.production,
            "production_share": self.production_share,
        }


@final
@attrs.frozen
class StormStatistics:
    """A snapshot of a detector's counters (see :meth:`StormDetector.statistics`)."""

    accepted: int
    """Distinct events taken into the log."""
    duplicates: int
    """Events refused because an event with the same identity is in the log."""
    late: int
    """Events refused because they are older than the window at the detector's newest time."""
    retained: int
    """Events in the log now: the de-duplication memory holds exactly these."""
    state: AlertState


@final
class StormDetector:
    """
    An exact sliding-window sync-rate detector with Prometheus-style alerting.

    ``rate(now)`` is the number of distinct events with
    ``now - window < timestamp <= now``, divided by the window in minutes;
    :meth:`check` fires when it is at or above *threshold*, once that has
    held for *for_duration* (Prometheus' ``for``), and resolves when it falls
    below *clear_threshold* (hysteresis; default *threshold*) and has stayed
    there for *keep_firing_for*.

    Events are kept until they are older than the window (plus *lateness*) at
    the newest time the detector has seen, an event's timestamp or a ``now``
    it was asked about; then they and their de-duplication entries are
    dropped, and an event arriving that late is refused (counted as ``late``).
    So ``rate(now)`` is exact for every ``now`` no earlier than that newest
    time minus *lateness*; set *lateness* to the clock skew between the event
    sources and the caller's clock.

    Compared with ``collections.deque(maxlen=...)``: the window is a span of
    time, not a number of events, and duplicates and disorder are handled.

    Not thread-safe: feed it from one thread (or guard it with a lock).

    .. versionadded:: 0.1.0
    """

    def __init__(
        self,
        threshold: float,
        window: timedelta = timedelta(seconds=60),
        *,
        for_duration: timedelta = timedelta(0),
        clear_threshold: float | None = None,
        keep_firing_for: timedelta = timedelta(0),
        lateness: timedelta = timedelta(0),
        production: Callable[[str], bool] = is_production_namespace,
    ) -> None:
        if not threshold > 0:
            msg = f"threshold {threshold!r} must be a positive rate per minute"
            raise ValueError(msg)
        if window < _US:
            msg = f"window {window!r} must be at least one microsecond"
            raise ValueError(msg)
        clear = threshold if clear_threshold is None else clear_threshold
        if not 0 < clear <= threshold:
            msg = f"clear_threshold {clear!r} must be positive and at most threshold {threshold!r}"
            raise ValueError(msg)
        for name, value in (
            ("for_duration", for_duration),
            ("keep_firing_for", keep_firing_for),
            ("lateness", lateness),
        ):
            if value < timedelta(0):
                msg = f"{name} {value!r} must not be negative"
                raise ValueError(msg)
        self.threshold = threshold
        self.clear_threshold = clear
        self.window = window
        self.for_duration = for_duration
        self.keep_firing_for = keep_firing_for
        self.lateness = lateness
        self.production = production
        self._window_us = window // _US
        self._retain_us = self._window_us + lateness // _US
        self._per_minute = _MINUTE_US / self._window_us
        # The log: timestamps (µs) sorted ascending, events beside them; the
        # live part starts at _start (the prefix is dropped in bulk, amortised).
        self._ts: list[int] = []
        self._ev: list[SyncEvent] = []
        self._start = 0
        self._seen: set[object] = set()
        self._mark: int | None = None  # the newest time seen (µs)
        self._horizon = -(1 << 62)  # events at or before this are dropped
        self._accepted = 0
        self._duplicates = 0
        self._late = 0
        self._state: AlertState = "inactive"
        self._active_since: datetime | None = None
        self._clear_since: datetime | None = None

    # ------------------------------------------------------------ the log

    def observe(self, event: SyncEvent) -> bool:
        """
        Take *event* into the window; return whether it was new.

        A duplicate (same :attr:`SyncEvent.identity` as an event in the log)
        or an event older than the window is not counted.
        """
        key = event._identity  # noqa: SLF001 - our own class
        ts = event._micros  # noqa: SLF001
        if key in self._seen:
            self._duplicates += 1
            mark = self._mark
            if mark is not None and ts > mark:  # a re-read still tells the time
                self._advance(ts)
            return False
        if ts <= self._horizon:
            self._late += 1
            return False
        self._seen.add(key)
        tss = self._ts
        if not tss or ts >= tss[-1]:
            tss.append(ts)
            self._ev.append(event)
        else:  # out of order: keep the log sorted
            i = bisect_right(tss, ts, self._start)
            tss.insert(i, ts)
            self._ev.insert(i, event)
        self._accepted += 1
        mark = self._mark
        if mark is None or ts > mark:
            self._advance(ts)
        return True

    def observe_many(self, events: Iterable[SyncEvent]) -> int:
        """Observe every event; return how many were new."""
        observe = self.observe
        return sum(1 for e in events if observe(e))

    def _advance(self, mark: int) -> None:
        self._mark = mark
        horizon = self._horizon = mark - self._retain_us
        tss, evs, seen = self._ts, self._ev, self._seen
        start, end = self._start, len(tss)
        while start < end and tss[start] <= horizon:
            seen.discard(evs[start]._identity)  # noqa: SLF001
            start += 1
        if start > 1024 and start * 2 > end:  # noqa: PLR2004 - compact once half is dead
            del tss[:start]
            del evs[:start]
            start = 0
        self._start = start

    def _bounds(self, now: datetime) -> tuple[int, int]:
        require_aware("now", now)
        n = (now - _EPOCH) // _US
        if self._mark is None or n > self._mark:
            self._advance(n)
        lo = bisect_right(self._ts, n - self._window_us, self._start)
        hi = bisect_right(self._ts, n, lo)
        return lo, hi

    def count(self, now: datetime) -> int:
        """The number of distinct events with ``now - window < timestamp <= now``."""
        lo, hi = self._bounds(now)
        return hi - lo

    def rate(self, now: datetime) -> float:
        """:meth:`count` per minute of window: the sync rate at *now*, exactly."""
        return self.count(now) * self._per_minute

    def events(self, now: datetime) -> list[SyncEvent]:
        """The distinct events in the window ending at *now*, oldest first."""
        lo, hi = self._bounds(now)
        return self._ev[lo:hi]

    # ------------------------------------------------------------ alerting

    @property
    def state(self) -> AlertState:
        """The alert's state after the last :meth:`check`."""
        return self._state

    def check(self, now: datetime) -> StormAlert | None:
        """
        Evaluate the alert rule at *now*; return the alert while it fires, else ``None``.

        ``inactive`` → ``pending`` when the rate reaches the threshold;
        ``pending`` → ``firing`` once it has stayed there for ``for_duration``
        (at once when that is zero), or back to ``inactive`` if it drops;
        ``firing`` stays while the rate is at or above ``clear_threshold`` and
        for ``keep_firing_for`` after the first evaluation that finds it below. Call it at regular
        intervals, as Prometheus evaluates rules.
        """
        alert = self.evaluate(now)
        return alert if alert.state == "firing" else None

    def evaluate(self, now: datetime) -> StormAlert:
        """Like :meth:`check`, but return the report in every state."""
        lo, hi = self._bounds(now)
        count = hi - lo
        rate = count * self._per_minute
        if self._state == "firing":
            if rate >= self.clear_threshold:
                self._clear_since = None
            else:
                if self._clear_since is None:  # as Prometheus: from the first clear evaluation
                    self._clear_since = now
                if now - self._clear_since >= self.keep_firing_for:
                    self._state, self._active_since, self._clear_since = "inactive", None, None
        elif rate >= self.threshold:
            if self._state == "inactive":
                self._state, self._active_since = "pending", now
            assert self._active_since is not None  # noqa: S101 - set on entering pending
            if now - self._active_since >= self.for_duration:
                self._state = "firing"
        else:
            self._state, self._active_since = "inactive", None
        window = self._ev[lo:hi]
        by_tool = Counter(e.tool for e in window)
        by_namespace = Counter(e.namespace for e in window)
        production = sum(n for ns, n in by_namespace.items() if self.production(ns))
        return StormAlert(
            state=self._state,
            at=now,
            rate=rate,
            count=count,
            threshold=self.threshold,
            window=self.window,
            active_since=self._active_since,
            by_tool=dict(by_tool),
            by_namespace=dict(by_namespace),
            production=production,
        )

    def statistics(self) -> StormStatistics:
        """A snapshot of the counters."""
        return StormStatistics(
            accepted=self._accepted,
            duplicates=self._duplicates,
            late=self._late,
            retained=len(self._ts) - self._start,
            state=self._state,
        )


def storm_metrics(alert: StormAlert) -> list[MetricFamily]:
    """An alert report (from :meth:`StormDetector.evaluate`) as Prometheus gauges."""
    return [
        MetricFamily(
            "syncsafe_storm_sync_rate_per_minute",
            "Distinct syncs in the window per minute of window.",
            "gauge",
            [({}, alert.rate)],
        ),
        MetricFamily(
            "syncsafe_storm_window_syncs",
            "Distinct syncs in the window, per tool.",
            "gauge",
            [({"tool": tool}, n) for tool, n in sorted(alert.by_tool.items())],
        ),
        MetricFamily(
            "syncsafe_storm_production_share",
            "Fraction of the window's syncs in production namespaces.",
            "gauge",
            [({}, alert.production_share)],
        ),
        MetricFamily(
            "syncsafe_storm_firing",
            "1 while the storm alert fires, else 0.",
            "gauge",
            [({}, 1 if alert.state == "firing" else 0)],
        ),
    ]


# ------------------------------------------------------------------ events_from


@final
@attrs.frozen
class EventBatch:
    """
    What :func:`events_from` found: the events, and what it could not read.

    ``skipped`` has one reason per malformed entry (``Application prod/pay:
    status.history[2]: ...``); ``ignored`` counts objects that are not syncs
    (other kinds, Events with other reasons).

    .. versionadded:: 0.1.0
    """

    events: tuple[SyncEvent, ...]
    skipped: tuple[str, ...] = ()
    ignored: int = 0


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
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise _Malformed(f"{what} {value!r} is not a positive integer")
    return value


def _micros(when: datetime) -> int:
    return (when - _EPOCH) // _US


def _at(micros: int) -> datetime:
    return _EPOCH + timedelta(microseconds=micros)


class _Reader:
    def __init__(self, since: datetime | None, reasons: Mapping[str, Collection[str]]) -> None:
        self.since = None if since is None else _micros(require_aware("since", since))
        self.reasons = reasons
        self.events: list[SyncEvent] = []
        self.skipped: list[str] = []
        self.ignored = 0

    def skip(self, where: str, problem: str) -> None:
        self.skipped.append(f"{where}: {problem}")

    def event_at(self, event: SyncEvent) -> None:
        """Keep *event* unless it is at or before ``since``: the one place ``since`` applies."""
        if self.since is None or event._micros > self.since:  # noqa: SLF001 - our own class
            self.events.append(event)

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
        Occurrences 1..n of a folded record (an Event's count, a Flux history entry's total).

        Only the first and the last time are known: occurrence 1 is at
        *first*, n at *last*, the others evenly between (the mean rate). Their
        ids are ``ident#k``, so a later read with a higher count adds only the
        new ones. The newest ``_MAX_OCCURRENCES`` at most, and none at or before
        ``since``.
        """
        a, b = _micros(first), _micros(last)
        if b < a:
            a, b = b, a
        span = b - a
        newest_first: list[SyncEvent] = []
        for k in range(n, max(0, n - _MAX_OCCURRENCES), -1):
            t = a + (span * (k - 1)) // (n - 1) if n > 1 else b
            if self.since is not None and t <= self.since:
                break
            newest_first.append(SyncEvent(tool, app, namespace, _at(t), f"{ident}#{k}"))
        self.events.extend(reversed(newest_first))

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
                ident = f"argocd:{ns}/{name}@{_micros(_time(entry, 'deployStartedAt', what))}"
            else:
                ident = f"argocd:{ns}/{name}#history{entry.get('id')}:{entry.get('revision')}"
            self.event_at(SyncEvent("argocd", name, target, deployed, ident))

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
        ident = f"argocd:{ns}/{name}@{_micros(started)}"
        self.event_at(SyncEvent("argocd", name, target, finished, ident))

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

    A folded record of *n* occurrences yields ids ``…#1`` to ``…#n``: read it
    again with a count of 5 where it was 3, and only ``#4`` and ``#5`` are new
    to a :class:`StormDetector`. Their times are spread evenly between the
    first and last time (the record keeps no others). With *since*, nothing at
    or before it is returned, so a long history costs nothing.

    An Argo CD event's namespace is the application's destination namespace,
    where it deploys. Malformed entries are skipped and listed in
    ``skipped``; this function does not raise on bad data.
    """
    reader = _Reader(since, reasons)
    reader.read(obj)
    return EventBatch(tuple(reader.events), tuple(reader.skipped), reader.ignored)
