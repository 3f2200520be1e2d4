"""
StormDetector.observe on a long storm-rate stream, against a plain deque append loop.

The stream: 1,000,000 events (300,000 unless SYNCSAFE_BENCH_FULL is set) at
2,000 syncs a second, 2% of them re-reads of an event seen shortly before,
1% arriving up to 5 s late and 0.1% two minutes late, the shape a poller over
Argo CD and Flux produces during a storm. The events are built once, outside the timing: ``observe``
is timed, not the parsing that produced them. Events per second are recorded
in each benchmark's ``extra_info``; so are the detector's retained events and
memory after the whole stream (tracemalloc), which the window bounds.

The folded-record case: eight core/v1 Events (about 4 KB of JSON) with
interleaved spans, each claiming ``count: 100000``, read by ``events_from``
and counted by a detector, timed in alternating batches
(``benchmarks/_interleave.py``) beside ``json.loads`` of the same text (what
any reader must pay) and the same Events claiming ``count: 1``: ratios near
1 say the work follows the input's size, not the counts it claims.
"""

from __future__ import annotations

import json
import os
import random
import tracemalloc
from collections import deque
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import TypeVar

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from benchmarks._interleave import compare
from syncsafe import StormDetector, SyncEvent, events_from

Measure = Callable[[str, bool], BenchmarkFixture]
T = TypeVar("T")

FULL = bool(os.environ.get("SYNCSAFE_BENCH_FULL"))
N = 1_000_000 if FULL else 300_000
RATE = 2_000  # events a second
WINDOW = timedelta(seconds=60)
T0 = datetime(2024, 10, 12, 9, 17, tzinfo=timezone.utc)


@pytest.fixture(scope="session")
def stream() -> list[SyncEvent]:
    """N events with 2% duplicates and 1.1% late arrivals, in arrival order."""
    rnd = random.Random(6)  # noqa: S311 - a reproducible stream, not a secret
    step = timedelta(seconds=1) / RATE
    events: list[SyncEvent] = []
    for i in range(N):
        r = rnd.random()
        if r < 0.02 and events:
            events.append(events[-rnd.randrange(1, min(len(events), 500) + 1)])
            continue
        when = T0 + step * i
        if r < 0.03:
            when -= timedelta(seconds=rnd.uniform(0, 5))
        elif r < 0.031:
            when -= timedelta(seconds=120)
        tool = "argocd" if i % 50 < 29 else "flux"
        events.append(SyncEvent(tool, f"app-{i % 1200}", "prod-payments", when, f"{tool}:{i}"))
    return events


def _observe_all(events: list[SyncEvent]) -> StormDetector:
    detector = StormDetector(100, WINDOW)
    observe = detector.observe
    for e in events:
        observe(e)
    return detector


def _deque_all(events: list[SyncEvent]) -> deque[SyncEvent]:
    dq: deque[SyncEvent] = deque()
    append = dq.append
    for e in events:
        append(e)
    return dq


def _pedantic(
    benchmark: BenchmarkFixture,
    fn: Callable[[list[SyncEvent]], T],
    events: list[SyncEvent],
    rounds: int,
) -> T:
    """benchmark.pedantic with types: *rounds* runs of fn(events), one iteration each."""
    result: T = benchmark.pedantic(  # type: ignore[no-untyped-call]
        fn, args=(events,), rounds=rounds, iterations=1
    )
    return result


def _record_rate(benchmark: BenchmarkFixture, n: int) -> None:
    stats = getattr(benchmark, "stats", None)
    if stats is not None:  # None under --benchmark-disable
        benchmark.extra_info["events_per_second"] = round(n / stats.stats.mean)


def test_observe(measure: Measure, stream: list[SyncEvent]) -> None:
    """StormDetector.observe over the whole stream: de-duplicated, sorted, pruned."""
    benchmark = measure("storm-observe", False)  # noqa: FBT003
    detector = _pedantic(benchmark, _observe_all, stream, 3)
    _record_rate(benchmark, len(stream))
    stats = detector.statistics()
    assert stats.duplicates > 0
    assert stats.late > 0
    assert stats.accepted + stats.duplicates + stats.late == len(stream)
    assert stats.retained <= RATE * 60 + 1


def test_deque_append_baseline(measure: Measure, stream: list[SyncEvent]) -> None:
    """Baseline: append every event to a deque (no window, no de-duplication, unbounded)."""
    benchmark = measure("storm-observe", True)  # noqa: FBT003
    dq = _pedantic(benchmark, _deque_all, stream, 3)
    _record_rate(benchmark, len(stream))
    assert len(stream) == len(dq)


def test_memory_after_a_long_stream(measure: Measure, stream: list[SyncEvent]) -> None:
    """The detector's own memory after the stream is that of one window, however long the stream."""
    benchmark = measure("storm-memory", False)  # noqa: FBT003
    half = len(stream) // 2

    def grown(events: list[SyncEvent]) -> tuple[int, int]:
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            detector = _observe_all(events)
            used = tracemalloc.get_traced_memory()[0] - before
        finally:
            tracemalloc.stop()
        return detector.statistics().retained, used

    retained_half, used_half = grown(stream[:half])
    retained, used = _pedantic(benchmark, grown, stream, 1)
    benchmark.extra_info |= {
        "retained_events": retained,
        "detector_bytes": used,
        "bytes_per_retained_event": round(used / max(retained, 1)),
        "detector_bytes_after_half_the_stream": used_half,
    }
    assert retained <= RATE * 60 + 1
    assert abs(retained - retained_half) <= RATE  # one window either way: not growing
    assert used < 2 * used_half + 1_000_000


def _folded_events(count: int) -> str:
    """Eight Events about one Application, each folding *count* syncs, spans interleaved."""
    items = [
        {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": f"payments.{i}", "namespace": "argocd", "uid": f"uid-{i}"},
            "involvedObject": {
                "apiVersion": "argoproj.io/v1alpha1",
                "kind": "Application",
                "name": "payments",
                "namespace": "argocd",
            },
            "reason": "OperationCompleted",
            "message": "Sync operation to bbbb succeeded",
            "type": "Normal",
            "count": count,
            "firstTimestamp": f"2024-10-12T09:16:0{i}Z",
            "lastTimestamp": f"2024-10-12T09:16:5{i}Z",
            "source": {"component": "argocd-application-controller"},
        }
        for i in range(8)
    ]
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": items})


def _count_folded(text: str) -> int:
    now = T0
    detector = StormDetector(100, WINDOW)
    detector.advance(now)
    detector.observe_many(events_from(json.loads(text), since=now - WINDOW).events)
    return detector.evaluate(now).count


def test_folded_events_interleaved(measure: Measure) -> None:
    """8 Events claiming 100,000 syncs each, against json.loads of them and against count 1."""
    claimed, single = _folded_events(100_000), _folded_events(1)
    assert 799_999 == _count_folded(claimed)  # one sync at 09:16:00 is on the open edge
    candidates = {
        "json_loads": lambda: json.loads(claimed),
        "storm_count_1": lambda: _count_folded(single),
        "storm_count_100000": lambda: _count_folded(claimed),
    }
    bench = measure("storm-folded-interleaved", True)  # noqa: FBT003
    bench.extra_info["input_bytes"] = len(claimed)
    times = compare(
        bench, candidates, baseline="json_loads", rounds=30 if FULL else 1, calls=200 if FULL else 1
    )
    assert set(candidates) == set(times)
