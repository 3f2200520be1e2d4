from __future__ import annotations

import shutil
import subprocess
from datetime import datetime, timedelta, timezone, tzinfo
from pathlib import Path
from typing import Any

import pytest

from syncsafe._demo.stale import make_repo
from syncsafe.buggy import storm as buggy

NOW = datetime(2024, 10, 12, 9, 17, tzinfo=timezone.utc)
needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
needs_bash = pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")


def argo_item(seconds_ago: int, app: str = "payments", ns: str = "prod") -> dict[str, Any]:
    """One item of the Argo CD events API response the incident polled."""
    when = NOW - timedelta(seconds=seconds_ago)
    return {
        "applicationName": app,
        "applicationNamespace": ns,
        "timestamp": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "status": "success",
    }


def poller(now: datetime = NOW, local_tz: tzinfo = timezone.utc) -> buggy.DeploymentStormDetector:
    """The incident detector on a host in *local_tz*, its clock stopped at *now*."""
    return buggy.DeploymentStormDetector(
        clock=lambda: now.astimezone(local_tz).replace(tzinfo=None), local_tz=local_tz
    )


def test_every_poll_re_appends_the_same_events() -> None:
    """Five polls returning the same 20 events count 100 syncs: a storm out of nothing."""
    p = poller()
    items = [argo_item(i, app=f"a{i}") for i in range(20)]
    alerts = [p.poll(items, []) for _ in range(6)]
    assert [None, None, None, None] == alerts[:4]
    assert [100, 120] == [a["total_syncs"] for a in alerts[4:] if a is not None]


def test_substring_production_classification() -> None:
    """'delivery' contains 'live', so the incident counts it as production."""
    p = poller()
    [event] = p.fetch_argocd_events([argo_item(1, ns="delivery")])
    assert event.is_production


def test_naive_timestamps_shift_the_window_by_the_host_offset() -> None:
    """A timestamp without an offset is read as host-local time: on a UTC+2 host it is 2 h off."""
    plus2 = timezone(timedelta(hours=2))
    p = poller(local_tz=plus2)
    fresh = {**argo_item(0), "timestamp": NOW.strftime("%Y-%m-%dT%H:%M:%S")}  # no "Z"
    p.poll([fresh] * 200, [])
    assert [] == p.sync_events  # 2 h "old": pruned as older than 5 minutes
    p_utc = poller(local_tz=timezone.utc)
    assert p_utc.poll([fresh] * 200, []) is not None


def test_report_timestamp_is_naive_local_time() -> None:
    """The alert's timestamp is datetime.now().isoformat(): no offset, host-local."""
    p = poller(local_tz=timezone(timedelta(hours=-5)))
    alert = p.poll([argo_item(1, app=str(i)) for i in range(100)], [])
    assert alert is not None
    assert "2024-10-12T04:17:00" == alert["timestamp"]


def test_missing_timestamp_loses_the_whole_poll() -> None:
    """An item without a timestamp raises in fetch; the catch-all drops that whole poll."""
    p = poller()
    good = [argo_item(i, app=str(i)) for i in range(5)]
    assert p.poll([*good, {"applicationName": "x"}], []) is None
    assert [] == p.sync_events
    assert ["Unexpected error: 'NoneType' object has no attribute 'replace'"] == p.errors


def test_flux_lastappliedtime_and_empty_conditions() -> None:
    """Flux items without lastAppliedTime are skipped; empty conditions raise IndexError."""
    p = poller()
    item: dict[str, Any] = {
        "metadata": {"name": "apps", "namespace": "prod"},
        "status": {"lastAppliedTime": "2024-10-12T09:16:50Z", "conditions": [{"status": "True"}]},
    }
    assert p.poll([], [item, {"metadata": {}, "status": {}}]) is None
    assert ["apps"] == [e.app_name for e in p.sync_events]
    broken = {**item, "status": {**item["status"], "conditions": []}}
    p.poll([], [broken])
    assert ["Unexpected error: list index out of range"] == p.errors


def test_default_clock_uses_the_host_zone() -> None:
    """Without local_tz the naive conversion is Python's own (host-local)."""
    p = buggy.DeploymentStormDetector()
    assert p.poll([], []) is None


# ---------------------------------------------------------------- the bash script

# The function as printed, but with the spaces escaped so that bash parses it;
# as printed (`* h)`), bash rejects the script with a syntax error.
SCRIPT = r"""
set -euo pipefail
STALE_THRESHOLD_SECS=0
convert_age_to_secs() {
local age="$1"
case "$age" in
*\ h) STALE_THRESHOLD_SECS=$(( ${age/h/} * 3600 )) ;;
*\ m) STALE_THRESHOLD_SECS=$(( ${age/m/} * 60 )) ;;
*\ s) STALE_THRESHOLD_SECS="${age/s/}" ;;
*) echo "Invalid age format: $age. Use 24h, 30m, etc."; exit 1 ;;
esac
}
convert_age_to_secs "$1"
echo "T=$(( STALE_THRESHOLD_SECS ))"
"""
AS_PRINTED = SCRIPT.replace("*\\ ", "* ")
AGES = ["24h", "30m", "10s", "1d", "", "24 h", "30 m", "10 s", "010 h", "08 h", " h", "x h", "h h"]


@needs_bash
@pytest.mark.parametrize("age", AGES)
def test_convert_age_matches_bash(age: str) -> None:
    """The Python reproduction gives what bash gives, exit or threshold, for each input."""
    run = subprocess.run(
        ["bash", "-c", SCRIPT, "script", age],  # noqa: S607
        capture_output=True,
        text=True,
        check=False,
    )
    expected = int(run.stdout.split("T=")[1]) if run.returncode == 0 else None
    assert expected == buggy.convert_age_to_secs(age)
    if expected is None and "Invalid" in run.stdout:
        assert buggy.INVALID_AGE_MESSAGE.format(age=age) == run.stdout.strip()


@needs_bash
def test_the_script_as_printed_does_not_even_parse() -> None:
    """As printed, bash stops at `* h)` with a syntax error: no max age is ever accepted."""
    run = subprocess.run(
        ["bash", "-c", AS_PRINTED, "script", "24h"],  # noqa: S607
        capture_output=True,
        text=True,
        check=False,
    )
    assert 2 == run.returncode
    assert "syntax error" in run.stderr


@needs_git
def test_git_log_on_a_flux_revision_gives_zero(tmp_path: Path) -> None:
    """Git log on main@sha1:<hex> fails, and || echo 0 makes the commit time 0."""
    [sha] = make_repo(tmp_path / "repo", [NOW - timedelta(hours=2)])
    assert int((NOW - timedelta(hours=2)).timestamp()) == buggy.commit_time(sha, tmp_path / "repo")
    assert 0 == buggy.commit_time(f"main@sha1:{sha}", tmp_path / "repo")


def test_git_missing_gives_zero(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without git, 'command not found' || echo 0: zero again."""
    monkeypatch.setenv("PATH", str(tmp_path))
    assert 0 == buggy.commit_time("HEAD", tmp_path)


def test_metrics_are_appended_on_every_run(tmp_path: Path) -> None:
    """Each run appends its alert lines again: the file grows forever, and ages are ~56 years."""
    out = tmp_path / "flux-stale-metrics.prom"
    for _ in range(3):
        printed = buggy.check_cluster_stale_sync(
            "prod-east",
            ["main@sha1:abc", "main@sha1:def"],
            threshold_secs=86_400,
            now=int(NOW.timestamp()),
            commit_time=lambda _revision: 0,
            metrics_path=out,
        )
    assert 6 == len(out.read_text().splitlines())
    assert printed[0] == (
        "ALERT: Stale sync detected in prod-east: revision main@sha1:abc is 480201h old"
    )
    fresh = buggy.check_cluster_stale_sync(
        "c", ["r"], threshold_secs=10, now=5, commit_time=lambda _r: 0, metrics_path=out
    )
    assert [] == fresh
