from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
from datetime import datetime, timedelta, timezone, tzinfo
from pathlib import Path
from typing import Any, ClassVar

import pytest

from syncsafe._cli._json import Malformed, documents
from syncsafe._demo.stale import kustomization, make_repo
from syncsafe.cli import main

NOW = datetime(2024, 10, 12, 9, 17, tzinfo=timezone.utc)
needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def app(name: str, history: list[dict[str, Any]]) -> dict[str, Any]:
    """An Argo CD Application deploying to prod-payments with this history."""
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": name, "namespace": "argocd"},
        "spec": {"destination": {"namespace": "prod-payments"}},
        "status": {"history": history},
    }


def storm_list(n: int) -> dict[str, Any]:
    """N applications, each with one sync in the minute before NOW."""
    items = [
        app(
            f"app-{i}",
            [
                {
                    "id": 1,
                    "revision": "a" * 40,
                    "deployStartedAt": f"2024-10-12T09:16:{i % 60:02d}Z",
                    "deployedAt": f"2024-10-12T09:16:{i % 60:02d}.5Z",
                }
            ],
        )
        for i in range(n)
    ]
    return {"apiVersion": "v1", "kind": "List", "items": items}


def test_documents_reads_every_shape() -> None:
    """One pretty document, JSON lines and concatenated pretty documents all parse."""
    pretty = json.dumps({"a": {"b": [1, 2]}}, indent=4) + "\n"
    lines = '{"x": 1}\n{"x": 2}\n'
    text = pretty + lines + pretty + "  \n"
    docs = list(documents(io.StringIO(text)))
    assert [{"a": {"b": [1, 2]}}, {"x": 1}, {"x": 2}, {"a": {"b": [1, 2]}}] == docs


def test_documents_skip_malformed_lines() -> None:
    """Malformed lines are reported with their line numbers; the next good document is read."""
    text = '{"x": 1}\n{"x": nope}\nnot json\n{"x": 2}\n{"unterminated": "abc\n{"x": 3}\n{"x"'
    docs = list(documents(io.StringIO(text)))
    good = [d for d in docs if not isinstance(d, Malformed)]
    bad = [d for d in docs if isinstance(d, Malformed)]
    assert [{"x": 1}, {"x": 2}, {"x": 3}] == good
    assert [2, 3, 5, 7] == [m.line for m in bad]


def test_storm_exit_1_while_storming(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """120 syncs in the last minute with threshold 100: the storm fires, exit status 1."""
    path = tmp_path / "apps.json"
    path.write_text(json.dumps(storm_list(120), indent=2))
    status = main(["storm", str(path), "--now", "2024-10-12T09:17:00Z"])
    out = capsys.readouterr().out
    assert 1 == status
    assert out.startswith("storm: FIRING  120 syncs/min (120 in 1m0s, threshold 100/min)")
    assert "argocd=120" in out
    assert "production 100%" in out


def test_storm_quiet_is_exit_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Below the threshold: exit 0, and --json prints the report as one JSON line."""
    path = tmp_path / "apps.json"
    path.write_text(json.dumps(storm_list(30)))
    status = main(["storm", str(path), "--now", "2024-10-12T09:17:00Z", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert 0 == status
    assert ("inactive", 30, 30.0) == (report["state"], report["count"], report["rate_per_minute"])


def test_storm_options(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--threshold and --window change the verdict; --textfile writes the metrics."""
    path = tmp_path / "apps.json"
    path.write_text(json.dumps(storm_list(30)))
    prom = tmp_path / "storm.prom"
    status = main(
        [
            "storm", str(path), "--now", "2024-10-12T09:17:00Z",
            "--threshold", "15", "--window", "2m", "--textfile", str(prom),
        ]
    )  # fmt: skip
    assert 1 == status  # 30 syncs in two minutes: 15 a minute, at the threshold
    assert "syncsafe_storm_firing 1\n" in prom.read_text()
    assert "FIRING" in capsys.readouterr().out


def test_storm_stream_from_stdin(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A -w style stream with a malformed line: state changes printed, bad lines on stderr."""
    docs = [json.dumps(a, indent=2) for a in storm_list(110)["items"]]
    stream = "\n".join(docs[:50]) + "\n{broken\n" + "\n".join(docs[50:]) + "\n"
    monkeypatch.setattr("sys.stdin", io.StringIO(stream))
    status = main(["storm", "-", "--now", "2024-10-12T09:17:00Z", "--json"])
    captured = capsys.readouterr()
    lines = [json.loads(line) for line in captured.out.splitlines()]
    assert 1 == status
    assert ["firing", "firing"] == [line["state"] for line in lines]  # the change, then final
    assert 100 == lines[0]["count"]
    assert "skipped 1 malformed line(s); first at line" in captured.err


def test_storm_reports_malformed_entries(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Malformed entries are counted on stderr, never a crash."""
    path = tmp_path / "apps.json"
    path.write_text(json.dumps(app("x", [{"id": 1}])) + "\n[1, 2]\n")
    assert 0 == main(["storm", str(path), "--now", "2024-10-12T09:17:00Z"])
    err = capsys.readouterr().err
    assert "skipped 2 malformed entr(y/ies); first: Application argocd/x" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--window", "1d"], "unknown unit 'd'"),
        (["--now", "2024-10-12T09:17:00"], "has no time zone"),
        (["--now", "soon"], "not an RFC 3339 time"),
    ],
)
def test_storm_usage_errors(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A bad --window or --now is a usage error (exit 2) that says what is wrong."""
    with pytest.raises(SystemExit) as info:
        main(["storm", "-", *args])
    assert 2 == info.value.code
    assert message in capsys.readouterr().err


def test_storm_bad_threshold_and_missing_file(capsys: pytest.CaptureFixture[str]) -> None:
    """A non-positive threshold and a missing file exit 2 with a message."""
    assert 2 == main(["storm", "-", "--threshold", "0"])
    assert "--threshold must be positive" in capsys.readouterr().err
    assert 2 == main(["storm", "/nonexistent/apps.json"])
    assert "/nonexistent/apps.json" in capsys.readouterr().err


def test_storm_uses_the_clock_by_default(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without --now, 2024's syncs are long out of the window: no storm."""
    path = tmp_path / "apps.json"
    path.write_text(json.dumps(storm_list(120)))
    assert 0 == main(["storm", str(path)])
    assert "INACTIVE  0 syncs/min" in capsys.readouterr().out


@needs_git
def test_stale_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Syncsafe stale: fresh is exit 0, stale exit 1, the textfile is written; JSON too."""
    now = datetime.now(timezone.utc).replace(microsecond=0)
    [sha] = make_repo(tmp_path / "repo", [now - timedelta(hours=2)])
    path = tmp_path / "k.json"
    path.write_text(json.dumps(kustomization(sha, now)))
    prom = tmp_path / "stale.prom"
    base = ["stale", str(path), "--repo", str(tmp_path / "repo")]
    assert 0 == main([*base, "--max-age", "24h", "--textfile", str(prom)])
    assert f"flux-system/payments Kustomization main@sha1:{sha}: committed 2h0m" in (
        capsys.readouterr().out
    )
    assert "syncsafe_revision_stale{" in prom.read_text()
    assert 1 == main([*base, "--max-age", "1h", "--json"])
    [report] = json.loads(capsys.readouterr().out)
    assert report["stale"]


@needs_git
def test_stale_unknown_commit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A revision whose commit the repository lacks is an error, exit 2, naming the commit."""
    make_repo(tmp_path / "repo", [NOW])
    path = tmp_path / "k.json"
    path.write_text(json.dumps(kustomization("f" * 40, NOW)))
    status = main(["stale", str(path), "--max-age", "24h", "--repo", str(tmp_path / "repo")])
    assert 2 == status
    assert f"commit {'f' * 40} is not in the repository" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("content", "message"), [("{nope\n", "is not JSON"), ("[1]\n", "found an array")]
)
def test_stale_bad_input(
    tmp_path: Path, content: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Input that is not a JSON object is an error, exit 2."""
    path = tmp_path / "k.json"
    path.write_text(content)
    assert 2 == main(["stale", str(path), "--max-age", "24h", "--repo", str(tmp_path)])
    assert message in capsys.readouterr().err


def test_storm_survives_bad_bytes_and_deep_nesting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Invalid UTF-8 and absurdly deep nesting are malformed lines, not a crash."""
    path = tmp_path / "bad.json"
    good = json.dumps(storm_list(3)).encode()
    path.write_bytes(b'{"kind": "\xff\xfe' + b"\n" + b"[" * 100_000 + b"\n" + good + b"\n")
    assert 0 == main(["storm", str(path), "--now", "2024-10-12T09:17:00Z"])
    captured = capsys.readouterr()
    assert "3 syncs/min" in captured.out
    assert "skipped 2 malformed line(s); first at line 1" in captured.err


@pytest.mark.parametrize("command", ["storm", "stale"])
def test_a_number_too_long_to_read_is_a_malformed_line(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A JSON integer past Python's 4,300-digit limit is a malformed line, never a traceback."""
    path = tmp_path / "big.json"
    path.write_text('{"count": ' + "1" * 5_000 + "}\n")
    extra = ["--now", "2024-10-12T09:17:00Z"] if command == "storm" else ["--max-age", "1h"]
    extra += [] if command == "storm" else ["--repo", str(tmp_path)]
    assert 2 == main([command, str(path), *extra])
    assert "a number too long" in capsys.readouterr().err


def test_storm_one_event_far_ahead_is_counted_apart_and_warned(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A storm with one sync dated 30 days ahead still fires (exit 1) and says what it left out."""
    doc = storm_list(120)
    ahead = {"id": 9, "revision": "c" * 40, "deployedAt": "2024-11-11T09:17:00Z"}
    doc["items"].append(app("from-the-future", [ahead]))
    path = tmp_path / "apps.json"
    path.write_text(json.dumps(doc))
    status = main(["storm", str(path), "--now", "2024-10-12T09:17:00Z"])
    captured = capsys.readouterr()
    assert 1 == status
    assert captured.out.startswith("storm: FIRING  120 syncs/min")
    warning = (
        "syncsafe storm: warning: 1 sync(s) dated more than 5m0s after 2024-10-12T09:17:00+00:00 "
        "were not counted (a clock running ahead? see --max-skew)"
    )
    assert [warning] == captured.err.splitlines()
    assert 1 == main(["storm", str(path), "--now", "2024-10-12T09:17:00Z", "--max-skew", "745h"])
    assert "warning" not in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--now", "0001-01-01T00:00:00Z"], "--now 0001-01-01T00:00:00+00:00: the window of 1m0s"),
        (
            ["--now", "0003-01-01T00:00:00Z", "--window", "2562047h"],
            "--now 0003-01-01T00:00:00+00:00: the window of 2562047h0m0s",
        ),
    ],
)
def test_storm_now_whose_window_starts_before_the_year_1(
    args: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A --now whose window would start before the year 1 is exit 2 with one line naming it."""
    path = tmp_path / "apps.json"
    path.write_text(json.dumps(storm_list(3)))
    assert 2 == main(["storm", str(path), *args])
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith(f"syncsafe storm: error: {message}")


def test_storm_extreme_times_and_counts_are_answered(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Times at the ends of the calendar, huge windows and counts: answers, never a traceback."""
    event = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": "x", "namespace": "argocd", "uid": "u"},
        "involvedObject": {"apiVersion": "argoproj.io/v1alpha1", "name": "p", "namespace": "d"},
        "reason": "OperationCompleted",
        "count": 5,
        "firstTimestamp": "0001-01-01T00:00:00+23:59",  # before the year 1 in UTC
        "lastTimestamp": "9999-12-31T23:59:59-23:59",  # after the year 9999 in UTC
    }
    huge = {**event, "metadata": {"name": "y", "uid": "v"}, "count": 10**30}
    path = tmp_path / "edge.json"
    path.write_text(json.dumps(event) + "\n" + json.dumps(huge) + "\n")
    runs = [
        ["--now", "9999-12-31T23:59:59Z"],
        ["--now", "9999-12-31T23:59:59-23:59", "--max-skew", "0s", "--json"],
        ["--now", "0001-01-01T00:01:00Z", "--window", "1s"],
        ["--now", "2024-01-01T00:00:00Z", "--window", "2562047h", "--for", "2562047h"],
        ["--max-skew", "2562047h", "--threshold", "1e-320"],
    ]
    for args in runs:
        assert main(["storm", str(path), *args]) in {0, 1}
        err = capsys.readouterr().err
        assert "Traceback" not in err
        assert f"count {10**30} is more than an int64 holds" in err


def _commit_at(repo: Path, seconds: int) -> str:
    """A commit in a new repository at *repo* dated *seconds* after 1970 (any number git takes)."""
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.invalid",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.invalid",
        "GIT_COMMITTER_DATE": f"@{seconds} +0000",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    for argv in (["init", "-q"], ["commit", "-q", "--allow-empty", "-m", "x"]):
        subprocess.run(["git", "-C", str(repo), *argv], env=env, check=True)  # noqa: S607
    return subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "HEAD"],  # noqa: S607
        env=env, check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip


@needs_git
def test_stale_commit_dated_after_the_year_9999(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A commit dated in the year 33658 is exit 2 with one line naming the commit and its time."""
    repo = tmp_path / "repo"
    repo.mkdir()
    sha = _commit_at(repo, 1_000_000_000_000)
    path = tmp_path / "k.json"
    path.write_text(json.dumps(kustomization(sha, NOW)))
    assert 2 == main(["stale", str(path), "--max-age", "24h", "--repo", str(repo)])
    error = (
        f"syncsafe stale: error: commit {sha} in the repository at {repo} is dated "
        "1000000000000 seconds after 1970, outside the years 1 to 9999"
    )
    assert [error] == capsys.readouterr().err.splitlines()


@needs_git
@pytest.mark.parametrize(
    ("now", "status", "age"),
    [
        ("9999-12-31T23:59:59Z", 1, "70389527h59m59s ago"),
        ("0001-01-01T00:00:00Z", 0, "-17259888h0m0s ago"),
    ],
)
def test_stale_ages_beyond_292_years(
    now: str, status: int, age: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An age longer than Go's durations hold (a --now far off) is written out, not a traceback."""
    repo = tmp_path / "repo"
    repo.mkdir()
    sha = _commit_at(repo, 0)
    path = tmp_path / "k.json"
    path.write_text(json.dumps(kustomization(sha, NOW)))
    base = ["stale", str(path), "--max-age", "24h", "--repo", str(repo), "--now", now]
    assert status == main(base)
    assert f"committed {age}" in capsys.readouterr().out
    assert status == main([*base, "--json"])
    assert age.removesuffix(" ago") == json.loads(capsys.readouterr().out)[0]["age"]


class _SteppingBack(datetime):
    """A wall clock that NTP steps back by a minute after its first reading."""

    readings: ClassVar[list[datetime]] = []

    @classmethod
    def now(cls, tz: tzinfo | None = None) -> _SteppingBack:
        """The next reading: NOW, then a minute before it, again and again."""
        when = NOW if not cls.readings else NOW - timedelta(minutes=1)
        cls.readings.append(when)
        return cls.fromtimestamp(when.timestamp(), tz)


def test_storm_survives_a_wall_clock_stepping_back(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A clock stepped back between documents is held at its newest reading: the storm fires."""
    monkeypatch.setattr("syncsafe._cli.storm.datetime", _SteppingBack)
    monkeypatch.setattr(_SteppingBack, "readings", [])
    path = tmp_path / "apps.jsonl"
    path.write_text("".join(json.dumps(a) + "\n" for a in storm_list(120)["items"]))
    assert 1 == main(["storm", str(path)])
    captured = capsys.readouterr()
    assert "" == captured.err
    assert "FIRING  120 syncs/min" in captured.out
    assert NOW - timedelta(minutes=1) in _SteppingBack.readings
