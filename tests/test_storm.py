from __future__ import annotations

import copy
import functools
import itertools
import pickle
import sys
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from syncsafe import (
    EventBatch,
    NaiveTimestamp,
    StormDetector,
    SyncEvent,
    SyncSeries,
    WindowMovedPast,
    events_from,
    is_production_namespace,
    render_exposition,
    storm_metrics,
)

T0 = datetime(2024, 10, 12, 9, 17, tzinfo=timezone.utc)
S = timedelta(seconds=1)


def ev(
    seconds: float,
    app: str = "payments",
    ns: str = "prod",
    *,
    tool: str = "argocd",
    id: str | None = None,  # noqa: A002 - SyncEvent's own name
) -> SyncEvent:
    """An event *seconds* after T0."""
    return SyncEvent(tool, app, ns, T0 + seconds * S, id)


# ---------------------------------------------------------------- SyncEvent


def test_naive_timestamp_is_refused() -> None:
    """A SyncEvent with a naive timestamp raises NaiveTimestamp, a ValueError."""
    with pytest.raises(NaiveTimestamp, match=r"SyncEvent\.timestamp 2024-10-12T09:17:00 has no"):
        SyncEvent("argocd", "a", "prod", datetime(2024, 10, 12, 9, 17))  # noqa: DTZ001
    with pytest.raises(ValueError, match="no time zone"):
        SyncEvent("argocd", "a", "prod", datetime(2024, 10, 12, 9, 17))  # noqa: DTZ001


def test_identity_is_the_id_or_the_instant() -> None:
    """Identity is id when given, else (tool, namespace, app, instant); zones do not matter."""
    plus2 = timezone(timedelta(hours=2))
    assert ev(0).identity == SyncEvent("argocd", "payments", "prod", T0.astimezone(plus2)).identity
    assert ev(0).identity != ev(0, tool="flux").identity
    assert ev(0, id="x").identity == ev(5, app="other", id="x").identity
    assert ev(0) == copy.copy(ev(0))
    assert ev(0) == pickle.loads(pickle.dumps(ev(0)))  # noqa: S301 - our own data


# ---------------------------------------------------------------- detector


def test_rate_counts_the_half_open_window() -> None:
    """rate(now) counts now - window < t <= now: the left edge is out, the right edge in."""
    d = StormDetector(100)
    for s in (0, 30, 60):
        d.observe(ev(s, app=f"a{s}"))
    assert 2 == d.count(T0 + 60 * S)  # 30 and 60; 0 is exactly one window old
    assert 2.0 == d.rate(T0 + 60 * S)
    assert 2 == d.count(T0 + 89 * S)
    assert 1 == d.count(T0 + 90 * S)
    assert [ev(60, app="a60")] == d.events(T0 + 119 * S)


def test_rate_is_per_minute_of_window() -> None:
    """A 30 s window with 10 events is 20 per minute."""
    d = StormDetector(100, 30 * S)
    for i in range(10):
        d.observe(ev(i, app=str(i)))
    assert 20.0 == d.rate(T0 + 10 * S)


def test_duplicates_are_counted_once() -> None:
    """Observing the same event again returns False and leaves the rate alone."""
    d = StormDetector(100)
    assert d.observe(ev(1))
    assert not d.observe(ev(1))
    assert not d.observe(ev(1, ns="prod"))
    assert 1 == d.count(T0 + 2 * S)
    assert 2 == d.statistics().duplicates


def test_out_of_order_events_inside_the_window_count() -> None:
    """An event older than the newest, but inside the window, is counted."""
    d = StormDetector(100)
    d.observe(ev(50, app="late-arrival-newer"))
    assert d.observe(ev(10, app="older"))
    assert d.observe(ev(30, app="middle"))
    assert 3 == d.count(T0 + 55 * S)
    assert ["older", "middle", "late-arrival-newer"] == [e.app for e in d.events(T0 + 55 * S)]


def test_events_older_than_the_window_are_dropped() -> None:
    """An event at or before the horizon is refused as late; old ones leave memory."""
    d = StormDetector(100)
    d.observe(ev(0, app="old"))
    d.observe(ev(100, app="new"))
    assert not d.observe(ev(40, app="too-late"))
    assert 1 == d.statistics().late
    assert 1 == d.statistics().retained
    assert not d.observe(ev(0, app="old"))  # forgotten, but late: still not counted again


def test_lateness_keeps_events_for_skewed_clocks() -> None:
    """With lateness, a query behind the newest event by up to that much is still exact."""
    d = StormDetector(100, lateness=30 * S)
    d.observe(ev(0, app="a"))
    d.observe(ev(80, app="b"))  # a source whose clock runs ahead
    assert 1 == d.count(T0 + 50 * S)  # 'a' (0) is inside (-10, 50]
    assert d.observe(ev(40, app="c"))


def test_queries_prune_memory_too() -> None:
    """Asking about a later time drops what fell out of the window."""
    d = StormDetector(100)
    for i in range(3000):
        d.observe(ev(i / 100, app=str(i)))
    assert 3000 == d.statistics().retained
    assert 0 == d.count(T0 + 200 * S)
    assert 0 == d.statistics().retained
    assert not d._seen


def test_compaction_keeps_the_log_sorted() -> None:
    """After many prunes (and compaction), counts stay exact."""
    d = StormDetector(100, 10 * S)
    for i in range(5000):
        d.observe(ev(i / 10, app=str(i)))
    assert 100 == d.count(T0 + 499.9 * S)
    assert len(d._ts) < 5000


def test_naive_now_is_refused() -> None:
    """rate, count and check refuse a naive now."""
    d = StormDetector(100)
    for method in (d.rate, d.count, d.check, d.events):
        with pytest.raises(NaiveTimestamp, match="now"):
            method(datetime(2024, 10, 12, 9, 17))  # noqa: DTZ001


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"threshold": 0}, "threshold 0 must be a positive"),
        ({"threshold": 10, "window": timedelta(0)}, "at least one microsecond"),
        ({"threshold": 10, "clear_threshold": 11}, "at most threshold"),
        ({"threshold": 10, "for_duration": -S}, "for_duration .* must not be negative"),
    ],
)
def test_bad_options(kwargs: dict[str, Any], message: str) -> None:
    """Nonsense options are refused with a message naming the option."""
    with pytest.raises(ValueError, match=message):
        StormDetector(**kwargs)


def _burst(d: StormDetector, start: float, seconds: int, per_second: int) -> None:
    for s in range(seconds):
        for k in range(per_second):
            d.observe(ev(start + s + k / per_second, app=f"{start}-{s}-{k}"))


def test_check_fires_at_the_threshold_with_the_breakdown() -> None:
    """At or above the threshold, check returns the alert: rate, per tool, per namespace, share."""
    d = StormDetector(4)
    d.observe(ev(1, app="a", ns="prod-payments"))
    d.observe(ev(2, app="b", ns="prod-payments", tool="flux"))
    d.observe(ev(3, app="c", ns="staging"))
    assert d.check(T0 + 4 * S) is None
    d.observe(ev(4, app="d", ns="payments-live"))
    alert = d.check(T0 + 4 * S)
    assert alert is not None
    assert ("firing", 4.0, 4) == (alert.state, alert.rate, alert.count)
    assert {"argocd": 3, "flux": 1} == alert.by_tool
    assert {"prod-payments": 2, "staging": 1, "payments-live": 1} == alert.by_namespace
    assert 0.75 == alert.production_share
    assert alert.as_dict()["by_tool"] == {"argocd": 3, "flux": 1}


def test_for_duration_holds_the_alert_pending() -> None:
    """With for_duration, the alert is pending until the rate has held that long."""
    d = StormDetector(60, for_duration=30 * S)
    _burst(d, 0, 60, 2)  # 120 a minute
    assert d.check(T0 + 60 * S) is None
    assert "pending" == d.state
    _burst(d, 60, 20, 2)
    assert d.check(T0 + 80 * S) is None
    _burst(d, 80, 10, 2)
    alert = d.check(T0 + 90 * S)
    assert alert is not None
    assert T0 + 60 * S == alert.active_since


def test_pending_resets_when_the_rate_drops() -> None:
    """A pending alert whose rate drops goes back to inactive, and for_duration starts over."""
    d = StormDetector(60, for_duration=30 * S)
    _burst(d, 0, 60, 2)
    d.check(T0 + 60 * S)
    assert "pending" == d.state
    assert d.check(T0 + 200 * S) is None
    assert "inactive" == d.statistics().state


def test_hysteresis_keeps_firing_until_the_clear_threshold() -> None:
    """Firing resolves only below clear_threshold, not just below threshold."""
    d = StormDetector(100, clear_threshold=50)
    _burst(d, 0, 60, 2)  # 120/min
    assert d.check(T0 + 60 * S) is not None
    # 30 s later half the burst is out of the window: 60/min, below 100 but above 50
    assert d.check(T0 + 90 * S) is not None
    assert d.check(T0 + 110 * S) is None  # 20/min
    assert "inactive" == d.state


def test_keep_firing_for() -> None:
    """After the rate drops, the alert keeps firing for keep_firing_for."""
    d = StormDetector(100, keep_firing_for=20 * S)
    _burst(d, 0, 60, 2)
    d.check(T0 + 60 * S)
    assert d.check(T0 + 100 * S) is not None  # 40/min now, but only 0 s below
    assert d.check(T0 + 115 * S) is not None
    assert d.check(T0 + 125 * S) is None


def test_statistics_and_metrics() -> None:
    """statistics() snapshots the counters; storm_metrics renders a report as gauges."""
    d = StormDetector(1)
    d.observe(ev(1))
    d.observe(ev(1))
    alert = d.evaluate(T0 + 2 * S)
    assert (1, 1, 0, 1, "firing") == (
        d.statistics().accepted,
        d.statistics().duplicates,
        d.statistics().late,
        d.statistics().retained,
        d.statistics().state,
    )
    text = render_exposition(storm_metrics(alert))
    assert 'syncsafe_storm_window_syncs{tool="argocd"} 1\n' in text
    assert "syncsafe_storm_firing 1\n" in text
    assert 1 == text.count("# TYPE syncsafe_storm_firing gauge")


# ---------------------------------------------------------------- production


@pytest.mark.parametrize(
    ("namespace", "production"),
    [
        ("prod", True),
        ("production", True),
        ("live", True),
        ("prod-payments", True),
        ("payments-live", True),
        ("eu_prod", True),
        ("productcatalog", False),
        ("delivery", False),
        ("olive", False),
        ("staging", False),
        ("preprod", False),
    ],
)
def test_production_namespaces_are_exact_components(
    namespace: str,
    production: bool,  # noqa: FBT001
) -> None:
    """A namespace is production when a component is prod/production/live, not a substring."""
    assert production == is_production_namespace(namespace)


def test_production_rule_is_configurable() -> None:
    """A detector takes any classifier, e.g. other words."""
    d = StormDetector(1, production=functools.partial(is_production_namespace, words={"prd"}))
    d.observe(ev(1, ns="prd-eu"))
    d.observe(ev(1, ns="prod", app="b"))
    alert = d.check(T0 + 2 * S)
    assert alert is not None
    assert 1 == alert.production


# ---------------------------------------------------------------- events_from


def application(**status: object) -> dict[str, Any]:
    """An Argo CD Application deploying to prod with this status."""
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": "payments", "namespace": "argocd", "uid": "7e1c"},
        "spec": {
            "project": "default",
            "source": {"repoURL": "https://git.example.com/apps.git", "path": "payments"},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": "prod"},
        },
        "status": status,
    }


HISTORY = [
    {
        "id": 41,
        "revision": "a" * 40,
        "deployStartedAt": "2024-10-12T09:16:58Z",
        "deployedAt": "2024-10-12T09:17:01Z",
        "source": {"repoURL": "https://git.example.com/apps.git"},
    },
    {
        "id": 42,
        "revision": "b" * 40,
        "deployStartedAt": "2024-10-12T09:17:20Z",
        "deployedAt": "2024-10-12T09:17:24Z",
    },
]
OPERATION = {
    "operation": {"sync": {"revision": "b" * 40}},
    "phase": "Succeeded",
    "startedAt": "2024-10-12T09:17:20Z",
    "finishedAt": "2024-10-12T09:17:24Z",
    "syncResult": {"revision": "b" * 40},
}


def test_application_history_and_operation_are_one_sync_each() -> None:
    """History entries give one event each; the finished operation shares its entry's id."""
    batch = events_from(application(history=HISTORY, operationState=OPERATION))
    assert 3 == len(batch.events)
    assert {"prod"} == {e.namespace for e in batch.events}  # the destination namespace
    d = StormDetector(100)
    assert 2 == d.observe_many(batch.events)
    assert 0 == d.observe_many(events_from(application(history=HISTORY)).events)


def test_failed_operation_without_history_is_a_sync() -> None:
    """A failed sync leaves no history entry but is still one sync."""
    failed = {**OPERATION, "phase": "Failed", "startedAt": "2024-10-12T09:18:00Z"}
    batch = events_from(application(history=HISTORY, operationState=failed))
    assert 3 == StormDetector(100).observe_many(batch.events)


def test_running_operation_and_history_without_start() -> None:
    """A running operation is no sync yet; history without deployStartedAt is keyed by its id."""
    running = {"phase": "Running", "startedAt": "2024-10-12T09:18:00Z"}
    old = [{"id": 3, "revision": "c" * 40, "deployedAt": "2024-10-12T09:00:00Z"}]
    batch = events_from(application(history=old, operationState=running))
    assert ["argocd:argocd/payments#history3:" + "c" * 40] == [e.id for e in batch.events]


def kustomization(history: object, **status: object) -> dict[str, Any]:
    """A Flux Kustomization in prod with this status.history."""
    return {
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
        "kind": "Kustomization",
        "metadata": {"name": "apps", "namespace": "prod"},
        "spec": {"interval": "1m", "path": "./clusters/prod"},
        "status": {
            "lastAppliedRevision": "main@sha1:" + "d" * 40,
            "conditions": [
                {"type": "Ready", "status": "True", "lastTransitionTime": "2024-09-01T00:00:00Z"}
            ],
            "history": history,
            **status,
        },
    }


def flux_entry(total: int, last: str = "2024-10-12T09:17:00Z") -> dict[str, Any]:
    """A Flux history entry folding *total* reconciliations since 09:07."""
    return {
        "digest": "sha256:" + "e" * 64,
        "firstReconciled": "2024-10-12T09:07:00Z",
        "lastReconciled": last,
        "lastReconciledDuration": "800ms",
        "lastReconciledStatus": "ReconciliationSucceeded",
        "totalReconciliations": total,
        "metadata": {"revision": "main@sha1:" + "d" * 40},
    }


def test_kustomization_history_counts_each_reconciliation_once() -> None:
    """TotalReconciliations folds n syncs; a later read adds only the new ones."""
    first = events_from(kustomization([flux_entry(11)]))
    assert 11 == first.syncs
    syncs = list(first.occurrences())
    assert T0 - 10 * 60 * S == syncs[0].timestamp
    assert T0 == syncs[-1].timestamp
    assert all(a.timestamp <= b.timestamp for a, b in itertools.pairwise(syncs))
    d = StormDetector(100, timedelta(minutes=30))
    assert 11 == d.observe_many(first.events)
    later = events_from(kustomization([flux_entry(13, last="2024-10-12T09:17:24Z")]))
    assert 2 == d.observe_many(later.events)


def test_since_limits_a_long_history() -> None:
    """With since, nothing at or before it comes back."""
    batch = events_from(kustomization([flux_entry(601)]), since=T0 - 60 * S)
    assert 60 == batch.syncs
    assert all(e.timestamp > T0 - 60 * S for e in batch.occurrences())
    assert [f"flux:prod/apps:sha256:{'e' * 64}#{k}" for k in range(542, 602)] == [
        e.id for e in batch.occurrences()
    ]


def test_since_applies_to_application_history_and_operation() -> None:
    """With since, Application history entries and the operation at or before it are left out."""
    later_op = {
        **OPERATION,
        "startedAt": "2024-10-12T09:18:00Z",
        "finishedAt": "2024-10-12T09:18:05Z",
    }
    obj = application(history=HISTORY, operationState=later_op)
    assert 3 == len(events_from(obj).events)
    after_first = events_from(obj, since=T0 + 1 * S)  # 09:17:01 is deployedAt of entry 41
    assert [T0 + 24 * S, T0 + 65 * S] == [e.timestamp for e in after_first.events]
    assert [T0 + 65 * S] == [e.timestamp for e in events_from(obj, since=T0 + 24 * S).events]
    assert () == events_from(obj, since=T0 + 65 * S).events


def test_kustomization_without_history_is_reported() -> None:
    """Without status.history the sync times are unknown: skipped with a reason, never guessed."""
    obj = kustomization(None)
    del obj["status"]["history"]
    batch = events_from(obj)
    assert () == batch.events
    assert "lastAppliedRevision without status.history" in batch.skipped[0]


def core_event(count: int, **extra: object) -> dict[str, Any]:
    """A core/v1 Event about an Argo CD Application, folded *count* times."""
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": "payments.17fd", "namespace": "argocd", "uid": "5b2e-uid"},
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
        "firstTimestamp": "2024-10-12T09:16:00Z",
        "lastTimestamp": "2024-10-12T09:17:00Z",
        "source": {"component": "argocd-application-controller"},
        **extra,
    }


def test_core_event_count_deltas() -> None:
    """A core Event whose count goes 3 -> 5 between polls adds 2 events, not 5."""
    d = StormDetector(100, timedelta(minutes=5))
    assert 3 == d.observe_many(events_from(core_event(3)).events)
    assert 2 == d.observe_many(events_from(core_event(5)).events)
    assert 0 == d.observe_many(events_from(core_event(5)).events)


def test_event_series_count() -> None:
    """series.count and series.lastObservedTime take precedence over count."""
    obj = core_event(1, series={"count": 4, "lastObservedTime": "2024-10-12T09:17:30.500000Z"})
    batch = events_from(obj)
    assert 4 == batch.syncs
    assert T0 + 30.5 * S == list(batch.occurrences())[-1].timestamp


def test_flux_event_and_ignored_reasons() -> None:
    """Flux reconciliation Events count; per-resource and other kinds' Events are ignored."""
    flux = core_event(2, reason="ReconciliationSucceeded")
    flux["involvedObject"] = {
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
        "kind": "Kustomization",
        "name": "apps",
        "namespace": "prod",
    }
    pod = core_event(9)
    pod["involvedObject"] = {"apiVersion": "v1", "kind": "Pod", "name": "p", "namespace": "x"}
    batch = events_from(
        {"kind": "List", "items": [flux, core_event(1, reason="ResourceUpdated"), pod]}
    )
    assert [("flux", "apps", "prod")] * 2 == [
        (e.tool, e.app, e.namespace) for e in batch.occurrences()
    ]
    assert 2 == batch.ignored


def test_list_watch_events_and_other_kinds() -> None:
    """Lists (kubectl get -A -o json) and watch events are unwrapped; other kinds are ignored."""
    doc = {
        "apiVersion": "v1",
        "kind": "List",
        "items": [
            application(history=HISTORY[:1]),
            {"type": "MODIFIED", "object": kustomization([flux_entry(1)])},
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}},
        ],
    }
    batch = events_from(doc)
    assert ["argocd", "flux"] == [e.tool for e in batch.events]
    assert EventBatch(batch.events, (), 1) == batch


@pytest.mark.parametrize(
    ("obj", "reason"),
    [
        ("not an object", "not an object but str"),
        (application(history=[{"id": 1}]), "status.history[0].deployedAt is missing"),
        (application(history=[{"deployedAt": "yesterday"}]), "not an RFC 3339 time"),
        (application(history=[{"deployedAt": "2024-10-12T09:17:00"}]), "has no time zone"),
        (application(history="x"), "status.history is not a list"),
        (application(history=[7]), "status.history[0] is not an object"),
        (application(operationState={"finishedAt": "2024-10-12T09:17:00Z"}), "startedAt"),
        ({**application(), "metadata": {}}, "metadata.name is missing"),
        (kustomization([{**flux_entry(1), "totalReconciliations": 0}]), "not a positive integer"),
        (kustomization([{**flux_entry(1), "totalReconciliations": True}]), "not a positive"),
        (kustomization("x"), "status.history is not a list"),
        (kustomization([{"lastReconciled": "2024-10-12T09:17:00Z"}]), "digest is missing"),
        ({**core_event(1), "count": "3"}, "count '3' is not a positive integer"),
        ({**core_event(1), "involvedObject": None}, "involvedObject is not an object"),
        ({**core_event(1), "series": {"count": -1}}, "series.count -1"),
        ({**application(), "status": []}, "status is not an object"),
    ],
)
def test_malformed_entries_are_skipped_and_counted(obj: object, reason: str) -> None:
    """Each malformed entry is skipped with a reason; nothing raises."""
    batch = events_from(obj)
    assert 1 == len(batch.skipped)
    assert reason in batch.skipped[0]


def test_one_bad_entry_spares_the_rest() -> None:
    """A malformed history entry is skipped; its neighbours still count."""
    batch = events_from(application(history=[HISTORY[0], {"id": 2}, HISTORY[1]]))
    assert 2 == len(batch.events)
    assert 1 == len(batch.skipped)


def test_objects_without_status_yield_nothing() -> None:
    """A new Application or Kustomization without status has no syncs yet, and is not malformed."""
    app = application()
    del app["status"]
    kus = kustomization(None)
    del kus["status"]
    assert EventBatch((), (), 0) == events_from({"kind": "List", "items": [app, kus]})


def test_event_without_uid_falls_back_to_its_name() -> None:
    """An Event without metadata.uid is identified by namespace/name."""
    obj = core_event(1)
    del obj["metadata"]["uid"]
    assert ["event:argocd/payments.17fd#1"] == [e.id for e in events_from(obj).occurrences()]


def test_naive_since_is_refused() -> None:
    """Since must be timezone-aware."""
    with pytest.raises(NaiveTimestamp):
        events_from({}, since=datetime(2024, 1, 1))  # noqa: DTZ001


def test_absurdly_nested_lists_are_skipped() -> None:
    """Lists nested beyond any real kubectl output are skipped, not a RecursionError."""
    doc: dict[str, Any] = {"kind": "List", "items": []}
    for _ in range(500):
        doc = {"kind": "List", "items": [doc]}
    batch = events_from(doc)
    assert ["item: Lists nested more than 32 deep"] == list(batch.skipped)


# ---------------------------------------------------------------- forgotten times, skew


def test_a_question_about_a_forgotten_window_is_refused() -> None:
    """After rate(t2), count(t1) for a window the log has moved past raises, never answers 0."""
    d = StormDetector(100)
    for s in range(10):
        d.observe(ev(s, app=str(s)))
    assert 10 == d.count(T0 + 10 * S)
    d.rate(T0 + 600 * S)
    with pytest.raises(WindowMovedPast, match=r"window ending at 2024-10-12T09:17:10\+00:00"):
        d.count(T0 + 10 * S)
    with pytest.raises(ValueError, match="only times from 2024-10-12T09:27:00"):
        d.events(T0 + 10 * S)
    assert 0 == d.count(T0 + 600 * S)  # the newest time itself is still answered


def test_lateness_keeps_earlier_questions_answerable() -> None:
    """With lateness, a question up to that far behind the newest time is answered exactly."""
    d = StormDetector(100, lateness=60 * S)
    for s in range(10):
        d.observe(ev(s, app=str(s)))
    d.count(T0 + 70 * S)
    assert 10 == d.count(T0 + 10 * S)
    with pytest.raises(WindowMovedPast):
        d.count(T0 + 9 * S)


def test_an_event_far_ahead_does_not_blind_the_detector() -> None:
    """One event 30 days ahead is counted apart; the window stays where the caller asks."""
    d = StormDetector(5)
    d.advance(T0)
    for s in range(10):
        d.observe(ev(-s, app=str(s)))
    assert not d.observe(ev(30 * 86_400, app="from-the-future"))
    alert = d.check(T0)
    assert alert is not None
    assert (10, 1, 0) == (alert.count, d.statistics().ahead, d.statistics().late)
    assert d.observe(ev(-30, app="still-in-the-window"))


def test_before_any_question_the_newest_event_is_the_reference() -> None:
    """Without a question, an event more than max_skew after the newest event is counted apart."""
    d = StormDetector(5, max_skew=timedelta(minutes=5))
    d.observe(ev(0, app="a"))
    d.observe(ev(200, app="b"))  # within 5 minutes of 'a': it moves the window
    assert not d.observe(ev(200 + 301, app="c"))
    assert 1 == d.statistics().ahead
    assert 1 == d.count(T0 + 200 * S)


def test_once_asked_events_do_not_move_the_window() -> None:
    """After a question, an event ahead of it (within max_skew) is kept and counts when due."""
    d = StormDetector(5)
    assert 0 == d.count(T0)
    d.observe(ev(-30, app="now"))
    d.observe(ev(120, app="two-minutes-ahead"))
    assert 1 == d.count(T0)  # the event ahead did not push -30 out
    assert 1 == d.count(T0 + 121 * S)


def test_no_skew_bound_takes_everything() -> None:
    """max_skew=None: an event however far ahead is taken and moves the window, as before."""
    d = StormDetector(5, max_skew=None)
    d.observe(ev(0))
    assert d.observe(ev(30 * 86_400, app="far"))
    assert 0 == d.statistics().ahead


def test_max_skew_must_not_be_negative() -> None:
    """A negative max_skew is refused, naming it."""
    with pytest.raises(ValueError, match=r"max_skew .* must not be negative"):
        StormDetector(1, max_skew=-S)


# ---------------------------------------------------------------- series


def series(total: int, first: float = 0, last: float = 60, **kwargs: int) -> SyncSeries:
    """A series of *total* syncs of one Event between T0+first and T0+last seconds."""
    return SyncSeries(
        "argocd", "payments", "prod", "event:u", T0 + first * S, T0 + last * S, total, **kwargs
    )


def test_series_spreads_its_syncs_evenly() -> None:
    """Sync k is at first + (last - first)(k - 1)/(total - 1); one sync is at last."""
    s = series(5, 0, 60)
    assert [T0 + t * S for t in (0, 15, 30, 45, 60)] == [e.timestamp for e in s.events()]
    assert ["event:u#1", "event:u#5"] == [e.id for e in s.events()][::4]
    assert [T0 + 60 * S] == [e.timestamp for e in series(1).events()]
    assert 2 == len(series(5, start=2, end=3))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"total": 3, "first": 10, "last": 0}, "last .* is before first"),
        ({"total": 3, "start": 0}, "syncs 0 to 3 of 3"),
        ({"total": 3, "start": 2, "end": 1}, "syncs 2 to 1 of 3"),
        ({"total": 3, "end": 4}, "syncs 1 to 4 of 3"),
    ],
)
def test_series_refuses_nonsense(kwargs: dict[str, Any], message: str) -> None:
    """A series whose times or sync numbers contradict each other is refused."""
    with pytest.raises(ValueError, match=message):
        series(**kwargs)


def test_series_counts_and_reports_like_its_syncs() -> None:
    """A detector counts a series' syncs in the window and lists the part of it that is there."""
    d = StormDetector(100, 120 * S)
    assert 5 == d.observe_many([series(5, 0, 60)])
    assert 2 == d.count(T0 + 150 * S)  # 45 and 60 are in (30, 150]
    assert [series(5, 0, 60, start=4)] == d.events(T0 + 150 * S)
    alert = d.evaluate(T0 + 150 * S)
    assert ({"argocd": 2}, {"prod": 2}, 2) == (alert.by_tool, alert.by_namespace, alert.count)
    assert 2 == d.statistics().retained
    # Read again with 7: 4 and 5 are held, 1 to 3 (at 0, 15, 30) are late, 6 and 7 new.
    assert 2 == d.observe_many([series(7, 0, 90)])
    assert (7, 2, 3) == (d.statistics().accepted, d.statistics().duplicates, d.statistics().late)
    assert 0 == d.count(T0 + 500 * S)
    assert (0, {}) == (d.statistics().retained, d._by_record)


def _calls(fn: Callable[[], object]) -> int:
    """The Python and C function calls *fn* makes: work, counted, not timed."""
    calls = 0

    def profile(_frame: object, event: str, _arg: object) -> None:
        nonlocal calls
        if event in {"call", "c_call"}:
            calls += 1

    sys.setprofile(profile)
    try:
        fn()
    finally:
        sys.setprofile(None)
    return calls


def _interleaved_events(count: int) -> dict[str, Any]:
    """Eight Events, each folding *count* syncs over interleaved spans of the last minute."""
    items = []
    for i in range(8):
        e = core_event(count, firstTimestamp=f"2024-10-12T09:16:0{i}.5Z")
        e["lastTimestamp"] = f"2024-10-12T09:16:5{i}Z"
        e["metadata"] = {**e["metadata"], "uid": f"uid-{i}", "name": f"payments.{i}"}
        items.append(e)
    return {"apiVersion": "v1", "kind": "List", "items": items}


def test_work_does_not_grow_with_the_counts_events_claim() -> None:
    """8 Events claiming 100,000 syncs each cost the calls 8 Events of 10 do, and count exactly."""

    def run(count: int) -> tuple[int, int]:
        d = StormDetector(100)
        doc = _interleaved_events(count)

        def work() -> None:
            d.advance(T0)
            d.observe_many(events_from(doc, since=T0 - 60 * S).events)
            d.evaluate(T0)

        return _calls(work), d.count(T0)

    small_calls, small = run(10)
    large_calls, large = run(100_000)
    assert (80, 800_000) == (small, large)
    assert small_calls == large_calls
    assert large_calls < 5_000
