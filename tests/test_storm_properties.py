from __future__ import annotations

from datetime import datetime, timedelta, timezone
from random import Random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from syncsafe import StormDetector, SyncEvent
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
