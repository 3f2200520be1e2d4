from __future__ import annotations

import json
import shutil
import stat
import subprocess
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from syncsafe import (
    CommitTimeLookup,
    InvalidDuration,
    InvalidMetric,
    InvalidRevision,
    MetricFamily,
    NaiveTimestamp,
    Revision,
    Staleness,
    UnknownCommit,
    format_duration,
    git_commit_time,
    parse_duration,
    parse_duration_ns,
    parse_revision,
    render_exposition,
    staleness,
    staleness_metrics,
    timedelta_from_ns,
    write_textfile,
)
from syncsafe._demo.stale import kustomization, make_repo

GOLDEN = Path(__file__).parent / "data" / "go_duration_cases.jsonl"
NOW = datetime(2024, 10, 12, 9, 17, tzinfo=timezone.utc)
needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")

# ---------------------------------------------------------------- durations


@pytest.mark.parametrize(
    ("text", "ns"),
    [
        ("0", 0),
        ("+0", 0),
        ("-0", 0),
        ("24h", 24 * 3600 * 10**9),
        ("1h1h", 2 * 3600 * 10**9),
        (".5s", 5 * 10**8),
        ("5.s", 5 * 10**9),
        ("-1.5h", -90 * 60 * 10**9),
        ("1\u00b5s", 1000),
        ("1\u03bcs", 1000),
        ("1us", 1000),
        ("2h45m30.5s", (2 * 3600 + 45 * 60 + 30) * 10**9 + 5 * 10**8),
        ("9223372036854775807ns", 2**63 - 1),
        ("-9223372036854775808ns", -(2**63)),
        ("2562047h47m16.854775807s", 2**63 - 1),
        ("9223372036854775808ns9223372036854775808ns", 0),  # Go's uint64 sum wraps here
        ("1.00000000000000000000000000000009h", 3600 * 10**9),
    ],
)
def test_go_durations(text: str, ns: int) -> None:
    """Durations Go accepts give Go's nanoseconds, edge cases included."""
    assert ns == parse_duration_ns(text)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "empty duration"),
        ("+", "a sign needs a number"),
        (".", "a number needs a digit"),
        (".s", "a number needs a digit"),
        ("1", "missing unit"),
        ("0.0", "missing unit"),
        ("1d", "unknown unit 'd'"),
        ("1 s", "unknown unit ' s'"),
        ("1s ", "unknown unit 's '"),
        (" 1s", "expected a number at offset 0"),
        ("9223372036854775808ns", "overflows int64"),
        ("-9223372036854775809ns", "overflows int64"),
        ("2562047h47m16.854775808s", "overflows int64"),
        ("99999999999999999999ns", "overflows int64"),
        ("3000000h", "overflows int64"),
    ],
)
def test_invalid_durations(text: str, problem: str) -> None:
    """What Go rejects is an InvalidDuration naming the input and the problem."""
    with pytest.raises(InvalidDuration) as info:
        parse_duration_ns(text)
    assert text == info.value.text
    assert problem in info.value.problem
    assert repr(text) in str(info.value)


def test_agrees_with_go_on_the_golden_file() -> None:
    """Every case in the file Go's own ParseDuration and Duration.String produced agrees."""
    mismatches = []
    cases = [json.loads(line) for line in GOLDEN.read_text(encoding="utf-8").splitlines()]
    for case in cases:
        if "parse" in case:
            try:
                got: object = parse_duration_ns(case["parse"])
            except InvalidDuration:
                got = None
            expected = None if case.get("error") else case["ns"]
        else:
            got, expected = format_duration(case["format"]), case["string"]
        if got != expected:
            mismatches.append((case, got))
    assert [] == mismatches
    assert len(cases) > 6000


@pytest.mark.parametrize(
    ("ns", "micros"),
    [(1500, 1), (-1500, -1), (999, 0), (-999, 0), (1999, 1), (-1999, -1), (0, 0)],
)
def test_sub_microsecond_remainders_truncate_toward_zero(ns: int, micros: int) -> None:
    """Timedelta has microseconds: the nanosecond remainder is dropped toward zero."""
    assert timedelta(microseconds=micros) == timedelta_from_ns(ns)
    assert timedelta(microseconds=micros) == parse_duration(f"{ns}ns")


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0, "0s"),
        (1, "1ns"),
        (1500, "1.5\u00b5s"),
        (1_500_000, "1.5ms"),
        (10**9, "1s"),
        (3600 * 10**9, "1h0m0s"),
        (-(2**63), "-2562047h47m16.854775808s"),
        (timedelta(hours=24), "24h0m0s"),
        (timedelta(microseconds=-1), "-1\u00b5s"),
    ],
)
def test_format_duration_is_go_duration_string(value: int | timedelta, text: str) -> None:
    """format_duration writes what Go's Duration.String writes."""
    assert text == format_duration(value)


def test_format_duration_out_of_range() -> None:
    """A timedelta beyond int64 nanoseconds cannot be formatted."""
    with pytest.raises(InvalidDuration, match="overflows int64"):
        format_duration(timedelta(days=300 * 365))


# ---------------------------------------------------------------- revisions

SHA1 = "0123456789abcdef0123456789abcdef01234567"
SHA256 = "ab" * 32


@pytest.mark.parametrize(
    ("text", "revision"),
    [
        (f"main@sha1:{SHA1}", Revision("main", "sha1", SHA1)),
        (f"refs/tags/v1.2@sha256:{SHA256}", Revision("refs/tags/v1.2", "sha256", SHA256)),
        (f"sha1:{SHA1}", Revision(None, "sha1", SHA1)),
        (f"main/{SHA1}", Revision("main", "sha1", SHA1)),
        (f"feature/x/{SHA1}", Revision("feature/x", "sha1", SHA1)),
        (SHA1, Revision(None, "sha1", SHA1)),
        (SHA256, Revision(None, "sha256", SHA256)),
    ],
)
def test_parse_revision(text: str, revision: Revision) -> None:
    """Flux v2, legacy Flux and Argo CD revision forms parse to ref, algorithm, digest."""
    assert revision == parse_revision(text)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "empty revision"),
        (f"main@md5:{SHA1}", "unknown digest algorithm 'md5'"),
        ("main@sha1:abc", "a sha1 digest has 40 hex digits"),
        (f"main@sha1:{SHA1.upper()}", "lowercase hexadecimal"),
        (f"@sha1:{SHA1}", "empty ref before '@'"),
        (f"/{SHA1}", "empty ref before '/'"),
        ("main/abc", "expected ref@sha1"),
        ("1.2.3", "expected ref@sha1"),
    ],
)
def test_invalid_revisions(text: str, problem: str) -> None:
    """Unreadable revisions raise InvalidRevision naming the text and the problem."""
    with pytest.raises(InvalidRevision) as info:
        parse_revision(text)
    assert problem in info.value.problem


# ---------------------------------------------------------------- staleness


def fixed_times(**times: datetime) -> CommitTimeLookup:
    """A commit-time lookup from a table; UnknownCommit for anything else."""

    def lookup(digest: str) -> datetime:
        try:
            return times[digest]
        except KeyError:
            raise UnknownCommit(digest, "<test>") from None

    return lookup


def test_staleness_uses_the_commit_time_not_the_condition() -> None:
    """Age is now minus the commit time; a 6-week-old Ready condition changes nothing."""
    obj = kustomization(SHA1, NOW)
    lookup = fixed_times(**{SHA1: NOW - timedelta(hours=2)})
    [report] = staleness(obj, max_age=timedelta(hours=24), commit_time=lookup, now=NOW)
    assert timedelta(hours=2) == report.age
    assert not report.stale
    assert NOW - timedelta(minutes=5) == report.synced_at
    assert "2h0m0s" == report.as_dict()["age"]
    [old] = staleness(obj, max_age=timedelta(hours=1), commit_time=lookup, now=NOW)
    assert old.stale


def test_staleness_of_a_list_and_an_application() -> None:
    """A List of Kustomizations and Applications gives one report each."""
    app = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": "payments", "namespace": "argocd"},
        "status": {
            "sync": {"status": "Synced", "revision": SHA256},
            "operationState": {"finishedAt": "2024-10-12T09:00:00Z"},
        },
    }
    doc = {"kind": "List", "items": [kustomization(SHA1, NOW), app]}
    lookup = fixed_times(**{SHA1: NOW - timedelta(days=3), SHA256: NOW})
    reports = staleness(doc, max_age=timedelta(days=1), commit_time=lookup, now=NOW)
    assert [("Kustomization", True), ("Application", False)] == [(r.kind, r.stale) for r in reports]
    assert datetime(2024, 10, 12, 9, tzinfo=timezone.utc) == reports[1].synced_at


def test_staleness_errors() -> None:
    """No revision, an unknown commit, or a naive now are clear errors."""
    obj = kustomization(SHA1, NOW)
    del obj["status"]["lastAppliedRevision"]
    with pytest.raises(InvalidRevision, match="Kustomization flux-system/payments"):
        staleness(obj, max_age=timedelta(1), commit_time=fixed_times())
    with pytest.raises(UnknownCommit, match=SHA1):
        staleness(kustomization(SHA1, NOW), max_age=timedelta(1), commit_time=fixed_times())
    with pytest.raises(NaiveTimestamp):
        staleness(obj, max_age=timedelta(1), commit_time=fixed_times(), now=datetime(2024, 1, 1))  # noqa: DTZ001


def test_unreadable_sync_time_is_no_sync_time() -> None:
    """An unparseable lastReconciled leaves synced_at None; the verdict does not depend on it."""
    obj = kustomization(SHA1, NOW)
    obj["status"]["history"][0]["lastReconciled"] = "yesterday"
    lookup = fixed_times(**{SHA1: NOW})
    [report] = staleness(obj, max_age=timedelta(1), commit_time=lookup, now=NOW)
    assert report.synced_at is None


@needs_git
def test_git_commit_time(tmp_path: Path) -> None:
    """git_commit_time reads the committer time with git show; an unknown commit is an error."""
    old, new = make_repo(tmp_path / "repo", [NOW - timedelta(days=40), NOW - timedelta(hours=1)])
    lookup = git_commit_time(tmp_path / "repo")
    assert NOW - timedelta(hours=1) == lookup(new)
    assert NOW - timedelta(days=40) == lookup(old)
    with pytest.raises(UnknownCommit) as info:
        lookup("f" * 40)
    assert str(tmp_path / "repo") in str(info.value)
    assert info.value.detail
    tree = subprocess.run(
        ["git", "-C", str(tmp_path / "repo"), "rev-parse", "HEAD^{tree}"],  # noqa: S607
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    with pytest.raises(UnknownCommit):
        lookup(tree)  # a tree is not a commit
    with pytest.raises(UnknownCommit):
        lookup("--help")  # never read as an option


def test_git_commit_time_without_git(tmp_path: Path) -> None:
    """Without git the lookup raises FileNotFoundError (an OSError the CLI reports)."""
    lookup = git_commit_time(tmp_path, git=str(tmp_path / "no-such-git"))
    with pytest.raises(FileNotFoundError):
        lookup(SHA1)


# ---------------------------------------------------------------- exposition


def test_exposition_format() -> None:
    """HELP and TYPE once per metric, samples in one block, label values escaped."""
    families = [
        MetricFamily(
            "x_age_seconds",
            "Age.\nSecond line with a \\ backslash.",
            "gauge",
            [({"name": 'a"b\\c\nd'}, 1.5), ({"name": "plain"}, 2.0)],
        ),
        MetricFamily("x_total", "Total.", "counter", [({}, float("inf"))]),
        MetricFamily("x_nan", "NaN.", "untyped", [({}, float("nan")), ({"a": "b"}, -float("inf"))]),
    ]
    assert (
        "# HELP x_age_seconds Age.\\nSecond line with a \\\\ backslash.\n"
        "# TYPE x_age_seconds gauge\n"
        'x_age_seconds{name="a\\"b\\\\c\\nd"} 1.5\n'
        'x_age_seconds{name="plain"} 2\n'
        "# HELP x_total Total.\n"
        "# TYPE x_total counter\n"
        "x_total +Inf\n"
        "# HELP x_nan NaN.\n"
        "# TYPE x_nan untyped\n"
        "x_nan NaN\n"
        'x_nan{a="b"} -Inf\n'
    ) == render_exposition(families)


@pytest.mark.parametrize(
    ("build", "problem"),
    [
        (lambda: MetricFamily("1x", "h"), "metric name must match"),
        (lambda: MetricFamily("x", "h", "gauge", [({"__a": "v"}, 1)]), "label name '__a'"),
        (lambda: MetricFamily("x", "h", "gauge", [({"a-b": "v"}, 1)]), "label name 'a-b'"),
        (
            lambda: MetricFamily("x", "h", "gauge", [({"a": "v"}, 1), ({"a": "v"}, 2)]),
            "two samples",
        ),
        (
            lambda: render_exposition([MetricFamily("x", "h"), MetricFamily("x", "h")]),
            "more than one family",
        ),
    ],
)
def test_invalid_metrics(build: Callable[[], object], problem: str) -> None:
    """Bad names, duplicate series and duplicate families are refused."""
    with pytest.raises(InvalidMetric, match=problem):
        build()


def test_write_textfile_replaces_atomically(tmp_path: Path) -> None:
    """The textfile is replaced whole, world-readable, with no temporary file left behind."""
    out = tmp_path / "stale.prom"
    out.write_text("old content that is longer than the new one\n")
    lookup = fixed_times(**{SHA1: NOW})
    reports = staleness(kustomization(SHA1, NOW), max_age=timedelta(1), commit_time=lookup, now=NOW)
    text = render_exposition(staleness_metrics(reports))
    for _ in range(3):
        write_textfile(out, text)
    assert text == out.read_text()
    assert ["stale.prom"] == [p.name for p in tmp_path.iterdir()]
    assert 0o644 == stat.S_IMODE(out.stat().st_mode)
    assert 1 == text.count("# TYPE syncsafe_revision_stale gauge")
    assert 'revision="main@sha1:' + SHA1 + '"} 0\n' in text


def test_write_textfile_cleans_up_on_error(tmp_path: Path) -> None:
    """If the rename fails, the temporary file is removed and the target untouched."""
    target = tmp_path / "dir.prom"
    target.mkdir()  # renaming a file over a directory fails
    with pytest.raises(OSError, match=r"dir\.prom"):
        write_textfile(target, "x 1\n")
    assert ["dir.prom"] == [p.name for p in tmp_path.iterdir()]


def test_reports_with_ages_beyond_go_durations_are_written_out() -> None:
    """A max_age or age longer than an int64 of nanoseconds is written, not InvalidDuration."""
    commit = datetime(1970, 1, 1, tzinfo=timezone.utc)
    report = Staleness(
        kind="Kustomization",
        namespace="flux-system",
        name="apps",
        revision=parse_revision("sha1:" + "a" * 40),
        committed_at=commit,
        now=datetime(9999, 12, 31, tzinfo=timezone.utc),
        max_age=timedelta(days=1_000_000),
    )
    summary = report.as_dict()
    assert ("70389504h0m0s", "24000000h0m0s", True) == (
        summary["age"],
        summary["max_age"],
        summary["stale"],
    )
