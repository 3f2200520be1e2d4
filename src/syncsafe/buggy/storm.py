"""
The incidents' storm detector and staleness script, reproduced with their bugs.

**Never use these.** From the deployment-storm write-up, the Python
``DeploymentStormDetector``: every 10 seconds it fetched the newest 100 events
of each tool and appended *all* of them to its list again, so an event was
counted once per poll that still returned it, up to six times in a 60-second
window; it took ``datetime.now()``, a naive local time, as "now", and a
timestamp without an offset became a naive local time too; it classified
namespaces by substring (``delivery`` contains ``live``). Only the HTTP
calls and the ``sleep`` are left out:
[`DeploymentStormDetector.poll`][syncsafe.buggy.storm.DeploymentStormDetector.poll] takes the two
responses' ``items`` and runs one iteration of the loop.

From the stale-overlay write-up, the bash ``flux-stale-sync-detector.sh``:
its ``case`` patterns (``* h)``) contain a space, so no pattern matches ``24h``
and the script exits on the "Invalid age format" branch
([`convert_age_to_secs`][syncsafe.buggy.storm.convert_age_to_secs]); had it gone on, ``git log`` on
Flux's ``main@sha1:<hex>`` revision fails, ``|| echo 0`` makes the commit time 0, and
every revision is about 56 years old ([`commit_time`][syncsafe.buggy.storm.commit_time],
[`check_cluster_stale_sync`][syncsafe.buggy.storm.check_cluster_stale_sync]), each alert appended to
the metrics file again on every run.

Replaced by [`syncsafe.StormDetector`][syncsafe.storm.StormDetector],
[`syncsafe.events_from`][syncsafe.storm.events_from],
[`syncsafe.parse_duration`][syncsafe.stale.parse_duration],
[`syncsafe.parse_revision`][syncsafe.stale.parse_revision],
[`syncsafe.git_commit_time`][syncsafe.stale.git_commit_time] and
[`syncsafe.write_textfile`][syncsafe.stale.write_textfile].
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any

__all__ = [
    "INVALID_AGE_MESSAGE",
    "DeploymentStormDetector",
    "SyncEvent",
    "check_cluster_stale_sync",
    "commit_time",
    "convert_age_to_secs",
]


@dataclass
class SyncEvent:
    """The incident's event record (a mutable dataclass, no identity)."""

    tool: str
    app_name: str
    namespace: str
    timestamp: datetime
    status: str
    is_production: bool


class DeploymentStormDetector:
    """
    BUGGY: the incident's detector, one poll at a time.

    *clock* is its ``datetime.now`` (a naive local time); *local_tz* stands for
    the host's time zone when a naive datetime is turned into a Unix time
    (``datetime.timestamp()`` assumes local time), so that tests and the demo
    can run the same on any host. ``errors`` collects what the loop's
    ``except Exception`` logged.
    """

    def __init__(
        self,
        *,
        clock: Callable[[], datetime] = datetime.now,
        local_tz: tzinfo | None = None,
    ) -> None:
        self.sync_events: list[SyncEvent] = []
        self.storm_threshold = 100  # Synks per minute trigger alert
        self.window_seconds = 60
        self.clock = clock
        self.local_tz = local_tz
        self.errors: list[str] = []

    def _ts(self, when: datetime) -> float:
        """``when.timestamp()``, a naive value read in *local_tz* when one is given."""
        if when.tzinfo is None and self.local_tz is not None:
            return when.replace(tzinfo=self.local_tz).timestamp()
        return when.timestamp()

    def fetch_argocd_events(self, items: Iterable[Mapping[str, Any]]) -> list[SyncEvent]:
        """The body of ``fetch_argocd_events`` after ``resp.json()``."""
        events = []
        for item in items:
            app_name = item.get("applicationName", "unknown")
            namespace = item.get("applicationNamespace", "default")
            timestamp = datetime.fromisoformat(item.get("timestamp").replace("Z", "+00:00"))  # type: ignore[union-attr]
            status = item.get("status", "unknown")
            is_prod = any(ns in namespace for ns in ["production", "prod", "live"])
            events.append(SyncEvent("argocd", app_name, namespace, timestamp, status, is_prod))
        return events

    def fetch_flux_events(self, items: Iterable[Mapping[str, Any]]) -> list[SyncEvent]:
        """The body of ``fetch_flux_events`` after ``resp.json()``: one ``lastAppliedTime`` each."""
        events = []
        for item in items:
            metadata = item.get("metadata", {})
            name = metadata.get("name", "unknown")
            namespace = metadata.get("namespace", "default")
            last_applied = item.get("status", {}).get("lastAppliedTime")
            if not last_applied:
                continue
            timestamp = datetime.fromisoformat(last_applied.replace("Z", "+00:00"))
            status = item.get("status", {}).get("conditions", [{}])[0].get("status", "unknown")
            is_prod = any(ns in namespace for ns in ["production", "prod", "live"])
            events.append(SyncEvent("flux", name, namespace, timestamp, status, is_prod))
        return events

    def detect_storm(self) -> dict[str, Any] | None:
        """BUGGY: count every copy in the list whose timestamp is in the last 60 s."""
        now = self.clock()
        window_start = self._ts(now) - self.window_seconds
        recent_syncs = [e for e in self.sync_events if self._ts(e.timestamp) >= window_start]
        sync_rate = len(recent_syncs) / (self.window_seconds / 60)  # Syncs per minute
        prod_syncs = sum(1 for e in recent_syncs if e.is_production)
        if sync_rate >= self.storm_threshold:
            return {
                "sync_rate": sync_rate,
                "total_syncs": len(recent_syncs),
                "production_syncs": prod_syncs,
                "timestamp": now.isoformat(),
            }
        return None

    def poll(
        self, argocd_items: Iterable[Mapping[str, Any]], flux_items: Iterable[Mapping[str, Any]]
    ) -> dict[str, Any] | None:
        """BUGGY: one iteration of ``run()``: append both responses whole, prune 5 min, detect."""
        try:
            argo_events = self.fetch_argocd_events(argocd_items)
            flux_events = self.fetch_flux_events(flux_items)
            self.sync_events.extend(argo_events + flux_events)
            five_mins_ago = self._ts(self.clock()) - 300
            self.sync_events = [
                e for e in self.sync_events if self._ts(e.timestamp) >= five_mins_ago
            ]
            return self.detect_storm()
        except Exception as e:  # noqa: BLE001 - the original's catch-all
            self.errors.append(f"Unexpected error: {e}")
            return None


# ------------------------------------------------------------------ the script

INVALID_AGE_MESSAGE = "Invalid age format: {age}. Use 24h, 30m, etc."
"""What the script prints before ``exit 1`` when no ``case`` pattern matches."""

# The three patterns as printed: `* h)`, `* m)`, `* s)` -- a space between the
# star and the unit, so each matches only text that ends in " h", " m", " s".
_PATTERNS = (("h", 3600), ("m", 60), ("s", 1))


def _arith(text: str) -> int | None:
    """
    Bash ``$(( text ))`` for the operands the script can meet; None where the shell exits.

    A name is an unbound variable under ``set -u``: the shell exits. An empty
    operand or a bad octal number (``08``) is an arithmetic error that only
    fails the assignment, inside the function: the threshold keeps its initial 0.
    """
    word = text.strip()
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", word):
        return None
    if not re.fullmatch(r"[0-9]+", word):
        return 0
    if len(word) > 1 and word.startswith("0"):  # a leading 0 is octal in bash arithmetic
        return int(word, 8) if re.fullmatch(r"[0-7]+", word) else 0
    return int(word)


def convert_age_to_secs(age: str) -> int | None:
    """
    BUGGY: the script's ``convert_age_to_secs``; the threshold in seconds, or None for ``exit 1``.

    The patterns ``* h``, ``* m``, ``* s`` contain a space: ``24h``, ``30m`` and
    ``10s`` match none of them and fall through to ``*)``, which prints
    [`INVALID_AGE_MESSAGE`][syncsafe.buggy.storm.INVALID_AGE_MESSAGE] and exits 1. Only ``24 h``
    (with the space) would be converted; `` h`` or ``08 h`` fail the arithmetic and leave the
    threshold at 0, so every revision would be stale. (Bash itself reads the
    unquoted space as the end of the pattern and rejects the function with a
    syntax error: either way, no ``--max-age`` is ever accepted.)
    """
    for unit, seconds in _PATTERNS:
        if age.endswith(f" {unit}"):
            value = _arith(age.replace(unit, "", 1))  # ${age/h/}: the first "h" goes
            return None if value is None else value * seconds
    return None  # *) echo "Invalid age format: ..."; exit 1


def commit_time(revision: str, repo: str | Path) -> int:
    """
    BUGGY: ``$(git log -1 --format=%ct "$revision" 2>/dev/null || echo 0)`` in *repo*.

    Flux records ``main@sha1:<hex>``, which is not a revision git knows: git
    fails, and the ``|| echo 0`` turns the failure into a commit time of 0,
    the Unix epoch.
    """
    try:
        result = subprocess.run(  # noqa: S603 - a fixed argv, as the script ran it
            ["git", "log", "-1", "--format=%ct", revision],  # noqa: S607 - git from PATH, as bash
            cwd=repo,
            capture_output=True,
            text=True,
            check=False,
        )
    except FileNotFoundError:  # "git: command not found", then `|| echo 0`
        return 0
    out = result.stdout.strip()
    return int(out) if result.returncode == 0 and out.isdigit() else 0


def check_cluster_stale_sync(
    cluster: str,
    revisions: Iterable[str],
    *,
    threshold_secs: int,
    now: int,
    commit_time: Callable[[str], int],
    metrics_path: str | Path,
) -> list[str]:
    """
    BUGGY: the script's per-cluster loop; the lines it printed.

    *now* is ``date +%s``. Every stale revision's metric line is **appended**
    to *metrics_path*, so the file grows by the same lines on every run.
    """
    printed = []
    for revision in revisions:
        age_secs = now - commit_time(revision)
        if age_secs > threshold_secs:
            hours = int(age_secs / 3600)  # bash arithmetic truncates toward zero
            printed.append(
                f"ALERT: Stale sync detected in {cluster}: revision {revision} is {hours}h old"
            )
            with Path(metrics_path).open("a", encoding="utf-8") as f:
                f.write(f'flux_stale_sync{{cluster="{cluster}", revision="{revision}"}} 1\n')
    return printed
