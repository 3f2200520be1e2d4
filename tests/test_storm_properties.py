from __future__ import annotations

from bisect import bisect_right
from datetime import datetime, timedelta, timezone
from random import Random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from syncsafe import StormDetector, SyncEvent, SyncSeries, WindowMovedPast
from syncsafe.buggy import storm as buggy
from syncsafe.strategies import sync_events

pytestmark = pytest.mark.property

T0 = datetime(2024, 10, 12, 9, 0, tzinfo=timezone.utc)
WINDOW = timedelta(seconds=60)


def brute_force(events: list[SyncEvent], now: datetime, window: timedelta) -> int:
    """Distinct identities among events with now - window < timestamp <= now."""
    return len({e.identity for e in events if now - window < e.timestamp <= now})


def _first_sightings(events: list[SyncEvent]) -> list[SyncEvent]:
    seen: set[object] = set()
    out = []
    for e in events:
        if e.identity not in seen:
            seen.add(e.identity)
            out.append(e)
    return out


@given(
    st.lists(sync_events(span=timedelta(minutes=3)), max_size=60),
    st.integers(0, 180_000),
    st.integers(1, 120),
)
def test_rate_equals_a_brute_force_count(events: list[SyncEvent], at_ms: int, secs: int) -> None:
    """After any stream (duplicates, disorder), rate(now) is the brute-force distinct count."""
    window = timedelta(seconds=secs)
    lateness = timedelta(minutes=4)  # retains the whole stream: every query is exact
    detector = StormDetector(10, window, lateness=lateness)
    for e in events:
        detector.observe(e)
    now = T0 + timedelta(milliseconds=at_ms)
    expected = brute_force(_first_sightings(events), now, window)
    assert expected == detector.count(now)
    assert expected * 60 / secs == pytest.approx(detector.rate(now))


@given(st.lists(sync_events(span=timedelta(minutes=3)), max_size=60), st.randoms())
def test_rate_is_exact_as_time_moves_forward(events: list[SyncEvent], rnd: Random) -> None:
    """Fed as time passes, shuffled within each poll, the detector is exact at every poll."""
    detector = StormDetector(10, WINDOW)
    pending = sorted(events, key=lambda e: e.timestamp)
    kept: list[SyncEvent] = []
    for step in range(0, 200, 7):
        now = T0 + timedelta(seconds=step)
        due = [e for e in pending if e.timestamp <= now]
        pending = pending[len(due) :]
        rnd.shuffle(due)
        kept += [e for e in due if detector.observe(e)]
        assert brute_force(kept, now, WINDOW) == detector.count(now)


@given(st.lists(sync_events(span=timedelta(minutes=2)), min_size=1, max_size=40), st.data())
def test_duplicates_never_change_the_rate(events: list[SyncEvent], data: st.DataObject) -> None:
    """Observing the stream again, in any order and any number of times, changes nothing."""
    now = T0 + timedelta(minutes=2)
    once = StormDetector(10, WINDOW, lateness=timedelta(minutes=3))
    for e in events:
        once.observe(e)
    again = StormDetector(10, WINDOW, lateness=timedelta(minutes=3))
    replayed = events + data.draw(st.permutations(events)) + events
    for e in replayed:
        again.observe(e)
    assert once.count(now) == again.count(now)
    assert len(replayed) - len(_first_sightings(events)) == again.statistics().duplicates


def _buggy_count(batches: list[list[SyncEvent]], now: datetime) -> int:
    """The incident detector's count after polling *batches*, each the same last-100 response."""
    poller = buggy.DeploymentStormDetector(
        clock=lambda: now.replace(tzinfo=None), local_tz=timezone.utc
    )
    for batch in batches:
        items = [
            {
                "applicationName": e.app,
                "applicationNamespace": e.namespace,
                "timestamp": e.timestamp.isoformat(),
            }
            for e in batch
        ]
        poller.poll(items, [])
    detected = poller.detect_storm()
    return (
        len([e for e in poller.sync_events if e.timestamp.timestamp() >= now.timestamp() - 60])
        if detected is None
        else int(detected["total_syncs"])
    )


@given(
    st.lists(sync_events(span=timedelta(seconds=50)), min_size=1, max_size=30), st.integers(2, 6)
)
def test_the_buggy_poller_inflates_what_the_detector_counts(
    events: list[SyncEvent], polls: int
) -> None:
    """Polled *polls* times with the same response, the incident counts each event *polls* times."""
    now = T0 + timedelta(seconds=55)
    detector = StormDetector(10, WINDOW)
    for _ in range(polls):
        for e in events:
            detector.observe(e)
    distinct = detector.count(now)
    assert brute_force(events, now, WINDOW) == distinct
    assert polls * len(events) == _buggy_count([events] * polls, now)
    assert _buggy_count([events] * polls, now) > distinct


def test_the_buggy_poller_fails_the_duplicates_property() -> None:
    """The property 'polling the same events again changes nothing' fails for the incident."""

    @given(st.lists(sync_events(span=timedelta(seconds=50)), min_size=1, max_size=10))
    def polling_again_changes_nothing(events: list[SyncEvent]) -> None:
        now = T0 + timedelta(seconds=55)
        assert _buggy_count([events], now) == _buggy_count([events, events], now)

    with pytest.raises(AssertionError):
        polling_again_changes_nothing()


@given(st.lists(sync_events(span=timedelta(minutes=30)), max_size=200))
def test_memory_is_bounded_by_the_window(events: list[SyncEvent]) -> None:
    """The log and the de-duplication memory hold only events newer than the horizon."""
    detector = StormDetector(10, WINDOW)
    for e in sorted(events, key=lambda e: e.timestamp):
        detector.observe(e)
    if events:
        newest = max(e.timestamp for e in events)
        in_window = {e.identity for e in events if e.timestamp > newest - WINDOW}
        assert len(in_window) >= detector.statistics().retained
        assert len(detector._seen) == detector.statistics().retained


# ---------------------------------------------------------------- series, forgotten times

RECORDS = ("event:a", "event:b", "flux:c")


@st.composite
def sync_series(draw: st.DrawFn) -> SyncSeries:
    """A series of one of three records: up to 40 syncs over a minute or so, a sub-range of them."""
    total = draw(st.integers(1, 40))
    first = T0 + timedelta(milliseconds=draw(st.integers(0, 120_000)))
    last = first + timedelta(milliseconds=draw(st.integers(0, 60_000)))
    start = draw(st.integers(1, total))
    end = draw(st.integers(start, total))
    record = draw(st.sampled_from(RECORDS))
    return SyncSeries("flux", "apps", "prod", record, first, last, total, start, end)


@given(sync_series(), st.integers(-1_000, 200_000))
def test_a_series_counts_its_syncs_in_constant_time_as_its_events_would(
    series: SyncSeries, at_ms: int
) -> None:
    """The closed form for 'syncs at or before x' equals counting the expanded events."""
    x = T0 + timedelta(milliseconds=at_ms)
    expected = sum(1 for e in series.events() if e.timestamp <= x)
    assert expected == sum(
        1 for k in range(series.start, series.end + 1) if series.timestamp(k) <= x
    )
    day = timedelta(days=1)
    detector = StormDetector(1, day, lateness=day)
    detector.observe(series)
    assert expected == detector.count(x)


Step = tuple[str, SyncSeries | int]


def _count_or_refusal(detector: StormDetector, now: datetime) -> int | str:
    try:
        return detector.count(now)
    except WindowMovedPast:
        return "refused"


@given(
    st.lists(
        st.one_of(
            st.tuples(st.just("series"), sync_series()),
            st.tuples(st.just("ask"), st.integers(0, 200_000)),
        ),
        max_size=30,
    ),
    st.sampled_from([timedelta(seconds=30), timedelta(seconds=60)]),
    st.sampled_from([timedelta(0), timedelta(seconds=20)]),
    st.sampled_from([None, timedelta(seconds=10), timedelta(minutes=5)]),
)
def test_a_series_counts_as_its_events_would(
    steps: list[Step], window: timedelta, lateness: timedelta, skew: timedelta | None
) -> None:
    """A series observed whole is counted as its syncs observed one by one, newest first."""
    folded = StormDetector(1, window, lateness=lateness, max_skew=skew)
    expanded = StormDetector(1, window, lateness=lateness, max_skew=skew)
    for _, value in steps:
        if isinstance(value, SyncSeries):
            new = folded.observe_many([value])
            assert new == sum(1 for e in reversed(list(value.events())) if expanded.observe(e))
        else:
            now = T0 + timedelta(milliseconds=value)
            assert _count_or_refusal(expanded, now) == _count_or_refusal(folded, now)
        assert expanded.statistics() == folded.statistics()


Action = tuple[str, SyncEvent | int]
actions = st.lists(
    st.one_of(
        st.tuples(st.just("observe"), sync_events(span=timedelta(minutes=3), with_ids=False)),
        st.tuples(st.just("ask"), st.integers(0, 240_000)),
    ),
    max_size=40,
)


def answers_exactly_or_refuses(detector: StormDetector, steps: list[Action]) -> None:
    """Each count is the brute-force count of what was observed, or WindowMovedPast: never wrong."""
    observed: list[SyncEvent] = []
    newest: datetime | None = (
        None  # the newest time: of events until the first question, then asked
    )
    asked = False
    for _, value in steps:
        if isinstance(value, SyncEvent):
            detector.observe(value)
            observed.append(value)
            if not asked and (newest is None or value.timestamp > newest):
                newest = value.timestamp
            continue
        now = T0 + timedelta(milliseconds=value)
        try:
            answer = detector.count(now)
        except WindowMovedPast:
            assert newest is not None  # only a detector that has moved on refuses,
            assert now < newest - detector.lateness  # and only before what it still knows
            continue
        assert brute_force(observed, now, detector.window) == answer
        asked = True
        newest = now if newest is None or now > newest else newest


@given(actions, st.sampled_from([timedelta(0), timedelta(seconds=30)]))
def test_questions_are_answered_exactly_or_refused(
    steps: list[Action], lateness: timedelta
) -> None:
    """After any mix of events and questions, in any order, no count is silently wrong."""
    answers_exactly_or_refuses(StormDetector(10, WINDOW, lateness=lateness, max_skew=None), steps)


class _Forgetful(StormDetector):  # type: ignore[misc]  # a deliberately wrong variant
    """As syncsafe 0.1: a question about a window the log has moved past is answered anyway."""

    def _window(self, now: datetime) -> tuple[int, int, int, int]:
        self.advance(now)
        n = (now - datetime(1970, 1, 1, tzinfo=timezone.utc)) // timedelta(microseconds=1)
        low = n - self._window_us
        lo = bisect_right(self._ts, low, self._start)
        return low, n, lo, bisect_right(self._ts, n, lo)


def test_the_forgetful_variant_fails_the_exactness_property() -> None:
    """Answering from a log that has dropped events (the old behaviour) breaks the property."""

    @settings(max_examples=2_000, deadline=None)  # stops at the first failure it finds
    @given(actions)
    def exact_or_refused(steps: list[Action]) -> None:
        answers_exactly_or_refuses(_Forgetful(10, WINDOW, max_skew=None), steps)

    with pytest.raises(AssertionError):
        exact_or_refused()


@given(
    st.lists(
        st.one_of(
            st.tuples(st.just("observe"), sync_events(span=timedelta(minutes=30))),
            st.tuples(st.just("ask"), st.integers(0, 1_800_000)),
        ),
        max_size=40,
    ),
    st.sampled_from([timedelta(0), timedelta(seconds=30), timedelta(minutes=10)]),
)
def test_ahead_is_judged_against_the_newest_question(steps: list[Action], skew: timedelta) -> None:
    """A sync is ahead when after max_skew past the newest question (else the newest sync)."""
    detector = StormDetector(10, WINDOW, lateness=timedelta(hours=1), max_skew=skew)
    reference: datetime | None = None
    asked = False
    ahead = 0
    for _, value in steps:
        if isinstance(value, SyncEvent):
            if reference is not None and value.timestamp > reference + skew:
                ahead += 1
            elif not asked and (reference is None or value.timestamp > reference):
                reference = value.timestamp
            detector.observe(value)
        else:
            now = T0 + timedelta(milliseconds=value)
            detector.advance(now)
            reference = now if not asked or reference is None or now > reference else reference
            asked = True
        assert ahead == detector.statistics().ahead
