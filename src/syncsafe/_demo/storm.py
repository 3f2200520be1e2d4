"""
The deployment storm, replayed: the incident's poller against [`syncsafe.StormDetector`][].

The event stream follows the write-up's figures: a normal load of 11 syncs a
minute (its "Hybrid, normal load" row), the storm from 09:17 (2,100 syncs
completed by 09:19, 8,400 by 09:22, 14,217 when the rollback ended at 09:29,
58% Argo CD and 42% Flux as in its per-tool rows, 94% in production
namespaces), then normal load again. Before it, one of the "minor sync
spikes" the write-up says the poller detected: 32 syncs a minute for three
minutes, which its counting reads as about 112, the figure it reports.

Both detectors are polled every 10 seconds with the same responses, the
newest 100 events of each tool, as the incident's API calls returned them;
both alert at 100 syncs a minute.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any, Final

import attrs

from syncsafe._demo._table import Row
from syncsafe.buggy import storm as buggy
from syncsafe.storm import StormDetector, SyncEvent

__all__ = ["Replay", "replay", "run", "stream"]

INCIDENT = "deployment storm"
THRESHOLD: Final = 100
POLL: Final = timedelta(seconds=10)
LIMIT: Final = 100  # ?limit=100 on each tool's API
START: Final = datetime(2024, 10, 12, 9, 3, tzinfo=timezone.utc)
END: Final = datetime(2024, 10, 12, 9, 33, tzinfo=timezone.utc)
STORM: Final = datetime(2024, 10, 12, 9, 17, tzinfo=timezone.utc)


def _at(hh: int, mm: int) -> datetime:
    return datetime(2024, 10, 12, hh, mm, tzinfo=timezone.utc)


# (start, end, syncs in that span, share of production namespaces in 50ths)
SEGMENTS: Final = (
    (_at(9, 0), _at(9, 4), 44, 25),  # normal load: 11 a minute
    (_at(9, 4), _at(9, 7), 96, 25),  # a minor spike: 32 a minute
    (_at(9, 7), _at(9, 17), 110, 25),
    (_at(9, 17), _at(9, 19), 2_100, 47),  # the storm: 2,100 by 09:19
    (_at(9, 19), _at(9, 22), 6_300, 47),  # 8,400 by 09:22
    (_at(9, 22), _at(9, 29), 5_817, 47),  # 14,217 by 09:29
    (_at(9, 29), _at(9, 35), 66, 25),  # normal load again
)


def stream() -> Iterator[SyncEvent]:
    """The storm-shaped event stream, in time order, every event distinct."""
    serial = 0
    for start, end, count, prod in SEGMENTS:
        step = (end - start) / count
        for i in range(count):
            serial += 1
            tool = "argocd" if serial % 50 < 29 else "flux"  # noqa: PLR2004 - 58% Argo CD
            ns = "prod-payments" if serial % 50 < prod else "staging"
            yield SyncEvent(tool, f"app-{serial % 1200}", ns, start + step * i)


def _argo_item(e: SyncEvent) -> dict[str, Any]:
    return {
        "applicationName": e.app,
        "applicationNamespace": e.namespace,
        "timestamp": e.timestamp.isoformat().replace("+00:00", "Z"),
        "status": "success",
    }


def _flux_item(e: SyncEvent) -> dict[str, Any]:
    return {
        "metadata": {"name": e.app, "namespace": e.namespace},
        "status": {
            "lastAppliedTime": e.timestamp.isoformat().replace("+00:00", "Z"),
            "conditions": [{"type": "Ready", "status": "True"}],
        },
    }


@attrs.frozen
class Replay:
    """One detector's replay: when it first alerted, and what it counted at each poll."""

    first_alert: datetime | None
    storm_alert: datetime | None
    counts: dict[datetime, int]
    truth: dict[datetime, int]
    """Distinct events the polls had returned, in the window, at each poll."""


def replay() -> tuple[Replay, Replay]:
    """Poll the stream every 10 s into the buggy and the fixed detector; (buggy, fixed)."""
    events = list(stream())
    now = START
    poller = buggy.DeploymentStormDetector(
        clock=lambda: now.replace(tzinfo=None), local_tz=timezone.utc
    )
    fixed = StormDetector(THRESHOLD, timedelta(seconds=60))
    seen: list[SyncEvent] = []  # every distinct event the polls returned
    seen_ids: set[object] = set()
    bug_counts: dict[datetime, int] = {}
    fix_counts: dict[datetime, int] = {}
    truth: dict[datetime, int] = {}
    bug_alerts: list[datetime] = []
    fix_alerts: list[datetime] = []
    i = 0
    while now <= END:
        while i < len(events) and events[i].timestamp <= now:
            i += 1
        returned = events[:i]
        argo = [e for e in returned[-4 * LIMIT :] if e.tool == "argocd"][-LIMIT:]
        flux = [e for e in returned[-4 * LIMIT :] if e.tool == "flux"][-LIMIT:]
        alert = poller.poll([_argo_item(e) for e in argo], [_flux_item(e) for e in flux])
        window_start = now - timedelta(seconds=60)
        bug_counts[now] = sum(
            1 for e in poller.sync_events if e.timestamp.timestamp() >= window_start.timestamp()
        )
        if alert is not None:
            bug_alerts.append(now)
        for e in argo + flux:
            fixed.observe(e)
            if e.identity not in seen_ids:
                seen_ids.add(e.identity)
                seen.append(e)
        if fixed.check(now) is not None:
            fix_alerts.append(now)
        fix_counts[now] = fixed.count(now)
        truth[now] = sum(1 for e in seen if window_start < e.timestamp <= now)
        now += POLL

    def first(alerts: list[datetime], after: datetime | None = None) -> datetime | None:
        return next((t for t in alerts if after is None or t >= after), None)

    return (
        Replay(first(bug_alerts), first(bug_alerts, STORM), bug_counts, truth),
        Replay(first(fix_alerts), first(fix_alerts, STORM), fix_counts, truth),
    )


def _hms(when: datetime | None) -> str:
    return "never" if when is None else when.strftime("%H:%M:%S")


def run() -> list[Row]:
    """Replay the storm through both detectors and say when each alerted and what it counted."""
    bug, fix = replay()
    calm, spike = _at(9, 16), _at(9, 7)
    peak = max(fix.truth, key=lambda t: fix.truth[t])
    false_alarm = bug.first_alert is not None and bug.first_alert < STORM
    bug_outcome = (
        f"first alert {_hms(bug.first_alert)}"
        + (" (a false alarm before the storm)" if false_alarm else "")
        + f", storm alert {_hms(bug.storm_alert)}; counted {bug.counts[spike]} at 09:07 "
        f"and {bug.counts[calm]} at 09:16, where the polls returned {bug.truth[spike]} and "
        f"{bug.truth[calm]} distinct syncs: every poll re-appends the newest {LIMIT}"
    )
    fix_right = (
        fix.counts == fix.truth
        and fix.first_alert is not None
        and fix.first_alert >= STORM
        and fix.first_alert - STORM <= timedelta(seconds=20)
    )
    window = timedelta(seconds=60)
    stream_rate = sum(1 for e in stream() if peak - window < e.timestamp <= peak)
    fix_outcome = (
        f"first alert {_hms(fix.first_alert)}, at the storm; counted {fix.counts[spike]} at "
        f"09:07, {fix.counts[calm]} at 09:16 and {fix.counts[peak]:,} at the {_hms(peak)} peak: "
        "each sync the polls returned, once. The stream ran "
        f"{stream_rate:,}/min there, but polls of the newest {LIMIT} per tool every "
        f"{POLL.seconds} s return at most {2 * LIMIT * (60 // POLL.seconds):,}/min (the poller, "
        f"counting again what it had seen, said {bug.counts[peak]:,}); a watch stream "
        "sees every sync"
    )
    bug_right = bug.counts == bug.truth and not false_alarm
    return [
        Row(INCIDENT, "buggy", "DeploymentStormDetector", bug_outcome, bug_right),
        Row(INCIDENT, "fixed", "StormDetector", fix_outcome, fix_right),
    ]
