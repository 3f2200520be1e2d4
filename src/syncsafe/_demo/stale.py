"""
The staleness check: the incident's bash script against [`syncsafe.stale`][syncsafe.stale].

A temporary git repository gets two commits, six weeks and two hours old;
the embedded Kustomization applied the newer one (``main@sha1:<hex>``), and
its Ready condition last flipped six weeks ago. With ``--max-age 24h`` the
right verdict is "fresh". The script never reaches a verdict (its ``case``
rejects ``24h``); with that fixed, its ``git log`` on the Flux revision fails
and makes everything 56 years old, and its metrics file grows on every run.
Without git on the PATH the git rows say so and the rest still runs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from syncsafe._demo._table import Row
from syncsafe.buggy import storm as buggy
from syncsafe.stale import (
    format_duration,
    git_commit_time,
    parse_duration,
    render_exposition,
    staleness,
    staleness_metrics,
    write_textfile,
)

__all__ = ["kustomization", "make_repo", "run"]

INCIDENT = "stale sync check"
MAX_AGE = "24h"
MAX_AGE_SECS = 86_400


def _git(repo: Path, *args: str, when: datetime | None = None) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "syncsafe demo",
        "GIT_AUTHOR_EMAIL": "demo@example.invalid",
        "GIT_COMMITTER_NAME": "syncsafe demo",
        "GIT_COMMITTER_EMAIL": "demo@example.invalid",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    if when is not None:
        stamp = f"{int(when.timestamp())} +0000"
        env |= {"GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp}
    return subprocess.run(  # noqa: S603 - fixed argv
        ["git", "-C", str(repo), *args],  # noqa: S607 - git from PATH
        capture_output=True,
        text=True,
        check=True,
        env=env,
    ).stdout.strip()


def make_repo(repo: Path, commits: list[datetime]) -> list[str]:
    """A git repository at *repo* with one commit at each time; their hashes, oldest first."""
    repo.mkdir(parents=True, exist_ok=True)
    _git(repo, "init", "-q", "-b", "main")
    shas = []
    for n, when in enumerate(commits):
        (repo / "kustomization.yaml").write_text(f"resources: [deploy-{n}.yaml]\n")
        _git(repo, "add", "kustomization.yaml")
        _git(repo, "commit", "-q", "-m", f"change {n}", when=when)
        shas.append(_git(repo, "rev-parse", "HEAD"))
    return shas


def kustomization(sha: str, now: datetime) -> dict[str, Any]:
    """A Flux Kustomization that applied *sha* five minutes before *now*; Ready since 6 weeks."""

    def t(ago: timedelta) -> str:
        return (now - ago).strftime("%Y-%m-%dT%H:%M:%SZ")

    return {
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
        "kind": "Kustomization",
        "metadata": {"name": "payments", "namespace": "flux-system"},
        "spec": {"interval": "10m", "path": "./overlays/prod", "prune": True},
        "status": {
            "lastAppliedRevision": f"main@sha1:{sha}",
            "lastAttemptedRevision": f"main@sha1:{sha}",
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True",
                    "reason": "ReconciliationSucceeded",
                    "lastTransitionTime": t(timedelta(weeks=6)),
                }
            ],
            "history": [
                {
                    "digest": "sha256:" + "3" * 64,
                    "firstReconciled": t(timedelta(hours=2)),
                    "lastReconciled": t(timedelta(minutes=5)),
                    "lastReconciledDuration": "1.2s",
                    "lastReconciledStatus": "ReconciliationSucceeded",
                    "totalReconciliations": 12,
                    "metadata": {"revision": f"main@sha1:{sha}"},
                }
            ],
        },
    }


def _parsers() -> list[Row]:
    threshold = buggy.convert_age_to_secs(MAX_AGE)
    bash = (
        buggy.INVALID_AGE_MESSAGE.format(age=MAX_AGE) + " exit 1: nothing is checked"
        if threshold is None
        else f"threshold {threshold}s"
    )
    ours = parse_duration(MAX_AGE)
    return [
        Row(
            INCIDENT,
            "buggy",
            "case '* h)'",
            f"--max-age {MAX_AGE}: {bash}",
            threshold == MAX_AGE_SECS,
        ),
        Row(
            INCIDENT,
            "fixed",
            "parse_duration",
            f"--max-age {MAX_AGE}: {format_duration(ours)} = {int(ours.total_seconds())}s",
            ours == timedelta(hours=24),
        ),
    ]


def _with_git(tmp: Path, now: datetime) -> list[Row]:
    shas = make_repo(tmp / "repo", [now - timedelta(weeks=6), now - timedelta(hours=2)])
    obj = kustomization(shas[-1], now)
    revision = obj["status"]["lastAppliedRevision"]
    max_age = parse_duration(MAX_AGE)

    bash_metrics = tmp / "flux-stale-metrics.prom"
    printed: list[str] = []
    for _ in range(2):  # two runs of the script
        printed = buggy.check_cluster_stale_sync(
            "prod-east",
            [revision],
            threshold_secs=MAX_AGE_SECS,
            now=int(now.timestamp()),
            commit_time=lambda r: buggy.commit_time(r, tmp / "repo"),
            metrics_path=bash_metrics,
        )
    lines = bash_metrics.read_text().splitlines()
    bash_outcome = (
        f"(case fixed) git log {revision[:16]}…: fails, || echo 0: "
        + (printed[0].split(": ", 1)[1] if printed else "no alert")
        + f" (~{now.timestamp() / (365.25 * 86400):.0f} years)"
        + f"; metrics file has {len(lines)} lines after 2 runs"
    )

    [report] = staleness(obj, max_age=max_age, commit_time=git_commit_time(tmp / "repo"), now=now)
    out = tmp / "textfile" / "syncsafe.prom"
    out.parent.mkdir()
    sizes = []
    for _ in range(2):
        write_textfile(out, render_exposition(staleness_metrics([report])))
        sizes.append(out.stat().st_size)
    fixed_outcome = (
        f"{report.revision.ref}@{report.revision.digest[:7]} committed "
        f"{format_duration(report.age)} ago: {'STALE' if report.stale else 'fresh'} "
        f"under {format_duration(max_age)} (Ready flipped 6 weeks ago: not a sync time); "
        f"textfile replaced atomically, {sizes[0]} bytes after run 1 and {sizes[1]} after run 2"
    )
    return [
        Row(INCIDENT, "buggy", 'git log -1 "$revision"', bash_outcome, not printed),
        Row(
            INCIDENT,
            "fixed",
            "staleness + git show",
            fixed_outcome,
            not report.stale and sizes[0] == sizes[1] and len(list(out.parent.iterdir())) == 1,
        ),
    ]


def run() -> list[Row]:
    """Parse the max age both ways, then (with git) judge a Kustomization's revision both ways."""
    rows = _parsers()
    if shutil.which("git") is None:
        rows.append(
            Row(
                INCIDENT,
                "fixed",
                "staleness + git show",
                "git is not installed: the commit-time comparison was skipped",
                correct=True,
            )
        )
        return rows
    now = datetime.now(timezone.utc).replace(microsecond=0)
    with tempfile.TemporaryDirectory(prefix="syncsafe-demo-") as tmp:
        rows += _with_git(Path(tmp), now)
    return rows
