"""
Deployment storms: an exact sliding-window sync rate across Argo CD and Flux, with alerting.

[`StormDetector`][syncsafe.storm.StormDetector] keeps a log of the distinct sync events of the last
window, sorted by time, and answers "how many syncs per minute right now" by
counting them, exactly: an event read twice counts once, an event that
arrives out of order counts if it is inside the window, an event older than
the window is dropped, and so is its de-duplication entry, so memory is
bounded by the window. The caller's clock moves the window, not the input: a
sync dated far ahead is counted apart, and a question about a time the
window has moved past is refused ([`WindowMovedPast`][syncsafe.errors.WindowMovedPast]), never
answered from a log that has lost events.
[`StormDetector.check`][syncsafe.storm.StormDetector.check] turns the rate into an alert with the
semantics of a Prometheus alerting rule (``for``, ``keep_firing_for``) plus hysteresis.

[`events_from`][syncsafe.storm.events_from] turns the objects that ``kubectl get -o json`` prints
into [`SyncEvent`][syncsafe.storm.SyncEvent] values with *stable* ids, so that reading the same
object at every poll never counts its syncs again, and a record that folds many
syncs into a count into one [`SyncSeries`][syncsafe.storm.SyncSeries], whose cost does not grow
with the count it claims. Those values and their readers live in
``syncsafe._events``; this module is the detector, and re-exports them.

Unlike a poller that appends the last hundred events at every poll and
compares naive with aware datetimes, nothing here depends on how often it is
polled, and every timestamp is an instant: naive datetimes are refused.
"""

from __future__ import annotations

import heapq
import re
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Final, Literal, final

import attrs

from syncsafe._events import (
    MICROSECOND,
    SYNC_EVENT_REASONS,
    EventBatch,
    SyncEvent,
    SyncSeries,
    events_from,
    instant,
    last_at_or_before,
    micros,
    time_of,
)
from syncsafe._exposition import MetricFamily
from syncsafe._k8s import require_aware
from syncsafe.errors import WindowMovedPast

__all__ = [
    "DEFAULT_MAX_SKEW",
    "PRODUCTION_WORDS",
    "SYNC_EVENT_REASONS",
    "AlertState",
    "EventBatch",
    "StormAlert",
    "StormDetector",
    "StormStatistics",
    "SyncEvent",
    "SyncSeries",
    "events_from",
    "is_production_namespace",
    "storm_metrics",
]

_MINUTE_US: Final = 60_000_000

PRODUCTION_WORDS: Final = frozenset({"prod", "production", "live"})
"""The default production words: a namespace is production when one of its components is one."""

_FOREVER: Final = 1 << 200  # beyond any time in µs

DEFAULT_MAX_SKEW: Final = timedelta(hours=1)
"""
How far after the newest time asked about a sync may be dated and still be taken.

Clocks of cluster nodes differ by seconds; a replay's quiet gaps before the
first question may last minutes; an hour passes both and still stops an
event dated a day or a month ahead.
"""

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


class _Piece:
    """Syncs *lo* to *hi* of a series, taken into a detector's log (the rest were not new)."""

    __slots__ = ("a", "hi", "lo", "n", "series", "span")

    def __init__(self, series: SyncSeries, lo: int, hi: int) -> None:
        self.series = series
        self.a = series._a  # noqa: SLF001 - our own class
        self.span = series._span  # noqa: SLF001
        self.n = series.total
        self.lo = lo
        self.hi = hi

    def upto(self, x: int) -> int:
        """How many of its syncs are at or before *x* (µs)."""
        k = last_at_or_before(self.a, self.span, self.n, x)
        return 0 if k < self.lo else min(k, self.hi) - self.lo + 1


@final
@attrs.frozen
class StormAlert:
    """
    What [`StormDetector.check`][] reports: the window's rate and its breakdown.

    ``by_tool`` and ``by_namespace`` count the window's distinct syncs;
    ``production_share`` is the fraction in production namespaces.

    !!! note "Added in version 0.1.0"
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
    """A snapshot of a detector's counters (see [`StormDetector.statistics`][])."""

    accepted: int
    """Distinct syncs taken into the log (a series counts each of its syncs)."""
    duplicates: int
    """Syncs refused because a sync with the same identity is in the log."""
    late: int
    """Syncs refused because they are older than the window at the detector's newest time."""
    retained: int
    """Syncs in the log now: the de-duplication memory holds exactly these."""
    state: AlertState
    ahead: int = 0
    """
    Syncs refused because they are dated more than ``max_skew`` after the newest
    time asked about (or, before any question, after the newest sync): counted
    here, never used to move the window.

    !!! note "Added in version 0.1.0"
    """


@final
class StormDetector:
    """
    An exact sliding-window sync-rate detector with Prometheus-style alerting.

    ``rate(now)`` is the number of distinct syncs with
    ``now - window < timestamp <= now``, divided by the window in minutes;
    [`check`][syncsafe.storm.StormDetector.check] fires when it is at or above *threshold*, once
    that has held for *for_duration* (Prometheus' ``for``), and resolves when it falls
    below *clear_threshold* (hysteresis; default *threshold*) and has stayed
    there for *keep_firing_for*.

    The window moves with the caller's clock. The newest time is the newest
    ``now`` the detector has been asked about ([`count`][syncsafe.storm.StormDetector.count],
    [`rate`][syncsafe.storm.StormDetector.rate], [`events`][syncsafe.storm.StormDetector.events],
    [`check`][syncsafe.storm.StormDetector.check],
    [`evaluate`][syncsafe.storm.StormDetector.evaluate],
    [`advance`][syncsafe.storm.StormDetector.advance]); before the first question, it is the newest
    sync's timestamp. Syncs are kept until they are older than the window (plus *lateness*) at that
    newest time; then they and their de-duplication entries are dropped, and a sync arriving that
    late is refused (counted as ``late``). So a question about ``now`` is answered exactly for every
    ``now`` no earlier than the newest time minus *lateness*, and an earlier one raises
    [`WindowMovedPast`][syncsafe.errors.WindowMovedPast] rather than answer from a log that has
    forgotten events; set *lateness* to how far back the caller asks again (or to the clock skew
    between the sources, when nothing is asked).

    Input is not trusted to drive the clock: a sync dated more than
    *max_skew* after the newest time asked about (before any question: after
    the newest sync) is refused and counted as ``ahead`` in
    [`statistics`][syncsafe.storm.StormDetector.statistics], so one event dated a month ahead cannot
    push every real sync out of the window. ``None`` takes every sync, however far
    ahead. Before the first question a quiet gap longer than *max_skew*
    looks like a clock running ahead: call [`advance`][syncsafe.storm.StormDetector.advance] with
    the replay's time first, or widen *max_skew*.

    [`observe`][syncsafe.storm.StormDetector.observe] takes a
    [`SyncEvent`][syncsafe.storm.SyncEvent] or a [`SyncSeries`][syncsafe.storm.SyncSeries]. Work: an
    event costs ``O(log n)`` comparisons plus, when it arrives out of order, a move of the later
    part of the log (one ``memmove``), *n* being the events in the log; a series costs ``O(s log
    s)``, *s* being the pieces of its own record in the log; a question costs ``O(log n +
    p)``, *p* being the series pieces in the log
    ([`evaluate`][syncsafe.storm.StormDetector.evaluate] and
    [`events`][syncsafe.storm.StormDetector.events] also walk the window's events). Memory is one
    entry per event and one per series piece, never one per sync of a series: a record claiming a
    hundred thousand syncs costs what one does.

    Compared with ``collections.deque(maxlen=...)``: the window is a span of
    time, not a number of events, and duplicates and disorder are handled.

    Not thread-safe: feed it from one thread (or guard it with a lock).

    !!! note "Added in version 0.1.0"
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
        max_skew: timedelta | None = DEFAULT_MAX_SKEW,
        production: Callable[[str], bool] = is_production_namespace,
    ) -> None:
        if not threshold > 0:
            msg = f"threshold {threshold!r} must be a positive rate per minute"
            raise ValueError(msg)
        if window < MICROSECOND:
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
            ("max_skew", max_skew),
        ):
            if value is not None and value < timedelta(0):
                msg = f"{name} {value!r} must not be negative"
                raise ValueError(msg)
        self.threshold = threshold
        self.clear_threshold = clear
        self.window = window
        self.for_duration = for_duration
        self.keep_firing_for = keep_firing_for
        self.lateness = lateness
        self.max_skew = max_skew
        self.production = production
        self._window_us = window // MICROSECOND
        self._lateness_us = lateness // MICROSECOND
        self._retain_us = self._window_us + self._lateness_us
        self._skew_us = None if max_skew is None else max_skew // MICROSECOND
        self._skew_or_forever = _FOREVER if max_skew is None else max_skew // MICROSECOND
        self._per_minute = _MINUTE_US / self._window_us
        # The log of events: timestamps (µs) sorted ascending, events beside
        # them; the live part starts at _start (the prefix is dropped in bulk).
        self._ts: list[int] = []
        self._ev: list[SyncEvent] = []
        self._start = 0
        self._seen: set[object] = set()
        # The log of series pieces: by a sequence number; by record id, for
        # de-duplication; and a heap of (last sync's time, number) to drop them.
        self._pieces: dict[int, _Piece] = {}
        self._by_record: dict[str, list[_Piece]] = {}
        self._expiry: list[tuple[int, int]] = []
        self._next_piece = 0
        self._mark: int | None = None  # the newest time (µs)
        self._asked: int | None = None  # the newest time asked about (µs)
        # A sync after the limit is ahead: max_skew after the newest question (kept
        # once asked; before, it is the gate plus max_skew). The gate: the newest
        # time, or the limit when lower; an event at or before it needs no test.
        self._limit = _FOREVER
        self._gate = -_FOREVER
        self._horizon = -(1 << 62)  # syncs at or before this are dropped
        self._accepted = 0
        self._duplicates = 0
        self._late = 0
        self._ahead = 0
        self._state: AlertState = "inactive"
        self._active_since: datetime | None = None
        self._clear_since: datetime | None = None

    # ------------------------------------------------------------ the log

    def observe(self, event: SyncEvent | SyncSeries) -> bool:
        """
        Take *event* (or the syncs of a series) into the window; return whether any was new.

        A duplicate (same [`SyncEvent.identity`][syncsafe.storm.SyncEvent.identity] as an event in
        the log, or a series' sync number already in the log for its record), a sync
        older than the window and one too far ahead (see *max_skew*) are not
        counted.
        """
        try:  # free when it does not raise: the hot path pays no type test
            ts = event._micros  # type: ignore[union-attr]  # noqa: SLF001 - our own class
        except AttributeError:
            return self._observe_series(event) > 0  # type: ignore[arg-type]  # a SyncSeries
        key = event._identity  # type: ignore[union-attr]  # noqa: SLF001
        gate = self._gate
        if ts > gate:  # newer than the newest time (in order), or perhaps too far ahead
            if self._asked is None:  # the gate is the newest sync, the reference
                if ts > gate + self._skew_or_forever and self._mark is not None:
                    self._ahead += 1
                    return False
                self._advance(ts)  # before a question, the syncs tell the time
            elif ts > self._limit:
                self._ahead += 1
                return False
        if key in self._seen:
            self._duplicates += 1
            return False
        if ts <= self._horizon:
            self._late += 1
            return False
        self._seen.add(key)
        tss = self._ts
        if not tss or ts >= tss[-1]:
            tss.append(ts)
            self._ev.append(event)  # type: ignore[arg-type]  # a SyncEvent: it has _micros
        else:  # out of order: keep the log sorted
            i = bisect_right(tss, ts, self._start)
            tss.insert(i, ts)
            self._ev.insert(i, event)  # type: ignore[arg-type]
        self._accepted += 1
        return True

    def observe_many(self, events: Iterable[SyncEvent | SyncSeries]) -> int:
        """Observe every event and series; return how many syncs were new."""
        observe, series = self.observe, self._observe_series
        return sum((1 if observe(e) else 0) if type(e) is SyncEvent else series(e) for e in events)

    def _observe_series(self, series: SyncSeries) -> int:
        """Take the new syncs of *series* in: as one piece per run of new sync numbers."""
        a, span, n = series._a, series._span, series.total  # noqa: SLF001 - our own class
        lo, hi = series.start, series.end
        mark = self._mark
        if mark is not None and self._skew_us is not None:
            ref = mark if self._asked is None else self._asked
            cut = max(lo - 1, min(hi, last_at_or_before(a, span, n, ref + self._skew_us)))
            self._ahead += hi - cut
            hi = cut
            if hi < lo:
                return 0
        newest = time_of(a, span, n, hi)
        if mark is None or (self._asked is None and newest > mark):
            self._advance(newest)
        horizon = self._horizon
        fresh, duplicates = self._not_held(series.id, lo, hi, horizon)
        self._duplicates += duplicates
        late_upto = last_at_or_before(a, span, n, horizon)
        accepted = 0
        for p, q in fresh:
            first = max(p, min(q, late_upto) + 1)  # the oldest of them may be older than the window
            self._late += first - p
            if first <= q:
                self._take(series, first, q)
                accepted += q - first + 1
        self._accepted += accepted
        return accepted

    def _not_held(
        self, record: str, lo: int, hi: int, horizon: int
    ) -> tuple[list[tuple[int, int]], int]:
        """The runs of sync numbers lo..hi of *record* not in the log, and how many are."""
        taken: list[tuple[int, int]] = []
        for piece in self._by_record.get(record, ()):
            # Forget what fell out, lazily: the heap drops a piece once its last sync has.
            piece.lo += piece.upto(horizon)
            taken.append((piece.lo, piece.hi))
        taken.sort()
        fresh: list[tuple[int, int]] = []
        held = 0
        k = lo
        for p, q in taken:
            if q < k:
                continue
            if p > hi:
                break
            if p > k:
                fresh.append((k, p - 1))
            held += min(q, hi) - max(p, k) + 1
            k = q + 1
        if k <= hi:
            fresh.append((k, hi))
        return fresh, held

    def _take(self, series: SyncSeries, lo: int, hi: int) -> None:
        piece = _Piece(series, lo, hi)
        number = self._next_piece
        self._next_piece = number + 1
        self._pieces[number] = piece
        self._by_record.setdefault(series.id, []).append(piece)
        heapq.heappush(self._expiry, (time_of(piece.a, piece.span, piece.n, hi), number))

    def _set_limit(self) -> None:
        """Derive the ahead limit and the gate from the newest times (after a question)."""
        ref = self._mark if self._asked is None else self._asked
        skew = self._skew_us
        self._limit = _FOREVER if ref is None or skew is None else ref + skew
        self._gate = -_FOREVER if self._mark is None else min(self._mark, self._limit)

    def _advance(self, mark: int) -> None:
        self._mark = mark
        # The gate: the newest time, or the ahead limit when that is lower (see _set_limit).
        self._gate = mark if self._asked is None else min(mark, self._limit)
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
        expiry = self._expiry
        if expiry and expiry[0][0] <= horizon:
            self._expire(horizon)

    def _expire(self, horizon: int) -> None:
        """Drop the series pieces whose last sync is at or before *horizon*."""
        expiry = self._expiry
        while expiry and expiry[0][0] <= horizon:
            piece = self._pieces.pop(heapq.heappop(expiry)[1])
            held = self._by_record[piece.series.id]
            held.remove(piece)
            if not held:
                del self._by_record[piece.series.id]

    def advance(self, now: datetime) -> None:
        """
        Move the window to *now*, the caller's time, as a question would, without asking one.

        Call it before feeding a replay or a poll's events: *now* is then the
        reference for *max_skew*, and syncs are judged against the caller's
        clock from the first. A *now* behind the newest time changes nothing.

        !!! note "Added in version 0.1.0"
        """
        require_aware("now", now)
        n = micros(now)
        if self._asked is None or n > self._asked:
            self._asked = n
            self._set_limit()
        if self._mark is None or n > self._mark:
            self._advance(n)

    def _window(self, now: datetime) -> tuple[int, int, int, int]:
        """(low, high) bounds of now's window in µs and in the event log, after the checks."""
        self.advance(now)
        n = micros(now)
        low = n - self._window_us
        if low < self._horizon:
            assert self._mark is not None  # noqa: S101 - advance() set it
            raise WindowMovedPast(_iso(n), _iso(self._mark - self._lateness_us))
        lo = bisect_right(self._ts, low, self._start)
        hi = bisect_right(self._ts, n, lo)
        return low, n, lo, hi

    def count(self, now: datetime) -> int:
        """
        The number of distinct syncs with ``now - window < timestamp <= now``.

        :raises WindowMovedPast: when *now* is earlier than the newest time
            minus ``lateness``: the window has moved past it.
        """
        low, high, lo, hi = self._window(now)
        return hi - lo + sum(p.upto(high) - p.upto(low) for p in self._pieces.values())

    def rate(self, now: datetime) -> float:
        """
        [`count`][] per minute of window: the sync rate at *now*, exactly.

        :raises WindowMovedPast: as [`count`][syncsafe.storm.StormDetector.count].
        """
        return self.count(now) * self._per_minute

    def events(self, now: datetime) -> list[SyncEvent | SyncSeries]:
        """
        The distinct syncs in the window ending at *now*, oldest first.

        A series in the log comes back as a [`SyncSeries`][syncsafe.storm.SyncSeries] holding the
        syncs of it that are in the window, placed by its first.

        :raises WindowMovedPast: as [`count`][syncsafe.storm.StormDetector.count].
        """
        low, high, lo, hi = self._window(now)
        found: list[SyncEvent | SyncSeries] = list(self._ev[lo:hi])
        found += self._series_in(low, high)
        if len(found) > hi - lo:
            found.sort(key=_first_micros)
        return found

    def _series_in(self, low: int, high: int) -> list[SyncSeries]:
        found: list[SyncSeries] = []
        for p in self._pieces.values():
            below, upto = p.upto(low), p.upto(high)
            if upto > below:
                start = p.lo + below
                found.append(attrs.evolve(p.series, start=start, end=start + upto - below - 1))
        return found

    # ------------------------------------------------------------ alerting

    @property
    def state(self) -> AlertState:
        """The alert's state after the last [`check`][syncsafe.storm.StormDetector.check]."""
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

        :raises WindowMovedPast: as [`count`][syncsafe.storm.StormDetector.count].
        """
        alert = self.evaluate(now)
        return alert if alert.state == "firing" else None

    def evaluate(self, now: datetime) -> StormAlert:
        """Like [`check`][], but return the report in every state."""
        low, high, lo, hi = self._window(now)
        window = self._ev[lo:hi]
        by_tool = Counter(e.tool for e in window)
        by_namespace = Counter(e.namespace for e in window)
        for p in self._pieces.values():
            n = p.upto(high) - p.upto(low)
            if n:
                by_tool[p.series.tool] += n
                by_namespace[p.series.namespace] += n
        count = sum(by_tool.values())
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
        horizon = self._horizon
        in_series = sum(p.hi - p.lo + 1 - p.upto(horizon) for p in self._pieces.values())
        return StormStatistics(
            accepted=self._accepted,
            duplicates=self._duplicates,
            late=self._late,
            retained=len(self._ts) - self._start + in_series,
            state=self._state,
            ahead=self._ahead,
        )


def _first_micros(e: SyncEvent | SyncSeries) -> int:
    if type(e) is SyncEvent:
        return e._micros  # noqa: SLF001 - our own class
    s: SyncSeries = e
    return time_of(s._a, s._span, s.total, s.start)  # noqa: SLF001


def _iso(micros: int) -> str:
    """*micros* after the epoch in RFC 3339, or the count itself when no datetime holds it."""
    try:
        return instant(micros).isoformat()
    except OverflowError:
        return f"{micros}us after 1970-01-01T00:00:00+00:00"


def storm_metrics(alert: StormAlert) -> list[MetricFamily]:
    """An alert report (from [`StormDetector.evaluate`][]) as Prometheus gauges."""
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
