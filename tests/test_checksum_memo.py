from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from syncsafe import Changes, ChecksumCache, checksum
from syncsafe.checksums import _cache
from syncsafe.checksums import _tree as _tree_module
from syncsafe.checksums._cache import StatKey, _CachedRun
from syncsafe.strategies import FileTree
from syncsafe.walker import WalkEntry, WalkRun, walk

HOUR = 3_600 * 10**9


@pytest.fixture
def old_news(monkeypatch: pytest.MonkeyPatch) -> None:
    """Move the cache's clock an hour on: every file written by the test is safely old."""
    later = _cache._now_ns() + HOUR
    monkeypatch.setattr(_cache, "_now_ns", lambda: later)


def _tree(tmp_path: Path, n: int = 6) -> Path:
    return FileTree({f"d{i % 2}/f{i}.yaml": bytes([65 + i]) * (i + 1) for i in range(n)}).write(
        tmp_path / "repo"
    )


@pytest.mark.usefixtures("old_news")
def test_a_kept_cache_returns_its_last_result_for_an_unchanged_tree(tmp_path: Path) -> None:
    """Nothing changed: the same Checksum object comes back, every file a hit, none looked up."""
    repo = _tree(tmp_path)
    cache = ChecksumCache(tmp_path / "cache")
    first = checksum(repo, cache=cache)
    assert cache.memo is not None
    second = checksum(repo, cache=cache)
    assert first is second
    assert first == checksum(repo)
    assert (6, 6) == (cache.misses, cache.hits)


@pytest.mark.usefixtures("old_news")
@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ("edit", Changes(modified=("d1/f3.yaml",))),
        ("add_first", Changes(added=("a.yaml",))),
        ("add_last", Changes(added=("z.yaml",))),
        ("remove_last", Changes(removed=("d1/f5.yaml",))),
        ("rename", Changes(added=("d1/g.yaml",), removed=("d1/f3.yaml",))),
    ],
)
def test_a_kept_cache_sees_every_change_after_its_memo(
    tmp_path: Path, change: str, expected: Changes
) -> None:
    """An edit, an addition at either end, a removal at the end, a rename: each is in the result."""
    repo = _tree(tmp_path)
    cache = ChecksumCache(tmp_path / "cache")
    before = checksum(repo, cache=cache)
    if change == "edit":  # the same size, and its mtime put back: only ctime and inode tell
        mtime = (repo / "d1/f3.yaml").stat().st_mtime_ns
        (repo / "d1/f3.yaml").write_bytes(b"X" * 4)
        os.utime(repo / "d1/f3.yaml", ns=(mtime, mtime))
    elif change.startswith("add"):
        (repo / ("a.yaml" if change == "add_first" else "z.yaml")).write_bytes(b"new")
    elif change == "remove_last":
        (repo / "d1/f5.yaml").unlink()
    else:
        (repo / "d1/f3.yaml").rename(repo / "d1/g.yaml")
    after = checksum(repo, cache=cache)
    assert expected == before.diff(after)
    assert checksum(repo) == after


@pytest.mark.usefixtures("old_news")
def test_a_memo_serves_only_the_same_question(tmp_path: Path) -> None:
    """Another annotation key, algorithm, exclusion or subtree, same cache: its own answer."""
    repo = _tree(tmp_path)
    cache = ChecksumCache(tmp_path / "cache")
    checksum(repo, cache=cache)
    asks: list[dict[str, object]] = [
        {"annotation_key": "fluxcd.io/checksum"},
        {"algorithm": "sha256"},
        {"exclude": ["d0/"]},
    ]
    for ask in asks:
        assert checksum(repo, **ask) == checksum(repo, cache=cache, **ask)  # type: ignore[arg-type]
    assert checksum(repo / "d1", root=repo) == checksum(repo / "d1", root=repo, cache=cache)


@pytest.mark.usefixtures("old_news")
def test_a_sourceignore_above_the_subtree_is_part_of_the_question(tmp_path: Path) -> None:
    """A .sourceignore above the path is not walked, yet its edit changes the answer."""
    repo = _tree(tmp_path)
    cache = ChecksumCache(tmp_path / "cache")
    before = checksum(repo / "d1", root=repo, cache=cache)
    (repo / "d1" / ".sourceignore").write_bytes(b"f3.yaml\n")  # walked: a new file
    middle = checksum(repo / "d1", root=repo, cache=cache)
    assert Changes(added=("d1/.sourceignore",), removed=("d1/f3.yaml",)) == before.diff(middle)
    (repo / ".sourceignore").write_bytes(b"d1/f5.yaml\n")  # above the path: not walked
    after = checksum(repo / "d1", root=repo, cache=cache)
    assert Changes(removed=("d1/f5.yaml",)) == middle.diff(after)
    assert checksum(repo / "d1", root=repo) == after


def test_no_memo_is_made_of_a_run_with_a_file_too_young_to_trust(tmp_path: Path) -> None:
    """A file as young as the run keeps the run out of the memo: a same-tick edit is still seen."""
    repo = FileTree({"config.yaml": b"replicas: 3"}).write(tmp_path / "repo")
    tick = (repo / "config.yaml").stat().st_mtime_ns
    cache = ChecksumCache(tmp_path / "cache")
    first = checksum(repo, cache=cache)
    assert cache.memo is None
    (repo / "config.yaml").write_bytes(b"replicas: 6")
    os.utime(repo / "config.yaml", ns=(tick, tick))
    assert Changes(modified=("config.yaml",)) == first.diff(checksum(repo, cache=cache))


EDITS = st.lists(
    st.tuples(st.sampled_from(["edit", "add", "remove", "rename"]), st.integers(0, 5)),
    min_size=1,
    max_size=5,
)


def _apply(repo: Path, op: str, n: int, step: int) -> None:
    """One change to *repo*; every file written gets its own old mtime, so no two keys can tie."""
    files = sorted(p for p in repo.rglob("*") if p.is_file())
    target = files[n % len(files)] if files else None
    if op == "add" or target is None:
        target = repo / f"d{n % 2}" / f"new{step}.yaml"
        target.parent.mkdir(exist_ok=True)
    if op == "remove" and len(files) > 1:
        target.unlink()
        return
    if op == "rename":
        target = target.rename(target.with_name(f"moved{step}.yaml"))
    else:
        target.write_bytes(bytes([97 + step]) * (n + 1))  # often the size it had
    stamp = _cache._now_ns() - HOUR - step * 10**9
    os.utime(target, ns=(stamp, stamp))


def _kept_cache_agrees(edits: list[tuple[str, int]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        repo = _tree(Path(tmp))
        cache = ChecksumCache(Path(tmp) / "cache")
        checksum(repo, cache=cache)
        for step, (op, n) in enumerate(edits):
            _apply(repo, op, n, step)
            assert checksum(repo) == checksum(repo, cache=cache)


MEMO = settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow], deadline=None)


@pytest.mark.property
@pytest.mark.usefixtures("old_news")
@MEMO
@given(EDITS)
def test_a_kept_cache_always_agrees_with_no_cache(edits: list[tuple[str, int]]) -> None:
    """After any edits, additions, removals and renames, a kept cache gives the uncached result."""
    _kept_cache_agrees(edits)


@pytest.mark.property
@pytest.mark.usefixtures("old_news")
def test_a_memo_of_paths_alone_fails_the_property(monkeypatch: pytest.MonkeyPatch) -> None:
    """A memo trusting paths and ignoring stat keys would miss edits: the property says so."""

    def paths_only(self: _CachedRun, run: WalkRun, keys: list[StatKey]) -> bool:
        memo = self.memo
        if memo is None:
            return False
        end = self.at + len(keys)
        if memo.paths[self.at : end] == run.paths:  # the keys left out of the comparison
            self.at = end
            return True
        self._leave()
        return False

    monkeypatch.setattr(_CachedRun, "follow", paths_only)

    @MEMO
    @given(EDITS)
    def under_a_paths_only_memo(edits: list[tuple[str, int]]) -> None:
        _kept_cache_agrees(edits)

    with pytest.raises(AssertionError):
        under_a_paths_only_memo()


@pytest.mark.usefixtures("old_news")
def test_a_run_served_by_the_memo_still_reports_progress_and_reads_nested_ignores(
    tmp_path: Path,
) -> None:
    """Progress is called for each file of a memo run, and a nested .sourceignore still applies."""
    repo = _tree(tmp_path)
    (repo / "d0" / ".sourceignore").write_bytes(b"f2.yaml\n")
    cache = ChecksumCache(tmp_path / "cache")
    first = checksum(repo, cache=cache)
    seen: list[tuple[str, int]] = []
    second = checksum(repo, cache=cache, progress=lambda path, size: seen.append((path, size)))
    assert first is second
    assert "d0/f2.yaml" not in second.files
    assert checksum(repo) == second
    assert sorted((p, (repo / p).stat().st_size) for p in [*second.files, "d0/f2.yaml"]) == sorted(
        seen
    )


@pytest.mark.usefixtures("old_news")
def test_a_memo_follows_files_reached_through_links(tmp_path: Path) -> None:
    """Files under a symlinked directory and a symlinked file are compared like the others."""
    repo = FileTree(
        {"base/a.yaml": b"a", "base/b.yaml": b"b"}, {"overlay": "base", "c": "base/a.yaml"}
    )
    root = repo.write(tmp_path / "repo")
    cache = ChecksumCache(tmp_path / "cache")
    first = checksum(root, cache=cache)
    assert {"base/a.yaml", "base/b.yaml", "c", "overlay/a.yaml", "overlay/b.yaml"} == set(
        first.files
    )
    assert first is checksum(root, cache=cache)
    mtime = (root / "base/b.yaml").stat().st_mtime_ns
    (root / "base/b.yaml").write_bytes(b"B")
    os.utime(root / "base/b.yaml", ns=(mtime, mtime))
    after = checksum(root, cache=cache)
    assert Changes(modified=("base/b.yaml", "overlay/b.yaml")) == first.diff(after)


@pytest.mark.usefixtures("old_news")
def test_a_memo_follows_entries_that_are_not_the_walkers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An entry offering only path, stat and open() is compared by its stat."""
    repo = _tree(tmp_path)

    class Plain:
        def __init__(self, entry: WalkEntry) -> None:
            self.path = entry.path
            self.stat = entry.stat
            self.open = entry.open

    monkeypatch.setattr(_tree_module, "walk", lambda *a, **k: (Plain(e) for e in walk(*a, **k)))
    cache = ChecksumCache(tmp_path / "cache")
    first = checksum(repo, cache=cache)
    assert first is checksum(repo, cache=cache)
