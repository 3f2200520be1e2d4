"""A kept cache lists again only the directories whose stat changed, and agrees with no cache."""

from __future__ import annotations

import importlib
import os
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from syncsafe import Changes, Checksum, ChecksumCache, PathEscapeError, SymlinkLoopError, checksum
from syncsafe.checksums import _cache
from syncsafe.strategies import FileTree
from syncsafe.walker._listings import DirKey, Kept, Listings

engine_module = importlib.import_module("syncsafe.walker._engine")

HOUR = 3_600 * 10**9


@pytest.fixture
def old_news(monkeypatch: pytest.MonkeyPatch) -> None:
    """Move the cache's clock an hour on: every file and directory written is safely old."""
    later = _cache._now_ns() + HOUR
    monkeypatch.setattr(_cache, "_now_ns", lambda: later)


@pytest.fixture
def listed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The directories each run reads (scandir), as paths relative to the walk's root."""
    seen: list[str] = []
    real = engine_module._Walker._list

    def counting(self: object, frame: Any) -> None:  # noqa: ANN401 - the engine's _Frame
        before = os.scandir

        def scandir(fd: int) -> Iterator[os.DirEntry[str]]:
            seen.append(frame.rel)
            return before(fd)

        os.scandir = scandir  # type: ignore[assignment]
        try:
            real(self, frame)
        finally:
            os.scandir = before

    monkeypatch.setattr(engine_module._Walker, "_list", counting)
    return seen


def _tree(tmp_path: Path) -> Path:
    return FileTree(
        {"d0/a.yaml": b"a", "d0/b.yaml": b"bb", "d1/c.yaml": b"ccc", "d1/s/e.yaml": b"e"},
        {"lnk": "d0", "flink": "d1/c.yaml"},
    ).write(tmp_path / "repo")


@pytest.mark.usefixtures("old_news")
def test_a_kept_cache_lists_only_the_directories_that_changed(
    tmp_path: Path, listed: list[str]
) -> None:
    """Unchanged: no directory read; a file added to d1/s: that directory alone, and it is seen."""
    repo = _tree(tmp_path)
    cache = ChecksumCache(tmp_path / "cache")
    first = checksum(repo, cache=cache)
    assert ["", "d0/", "d1/", "d1/s/", "lnk/"] == listed
    listed.clear()
    assert first is checksum(repo, cache=cache)
    assert [] == listed
    (repo / "d1/s/new.yaml").write_bytes(b"new")
    after = checksum(repo, cache=cache)
    assert ["d1/s/"] == listed
    assert Changes(added=("d1/s/new.yaml",)) == first.diff(after)
    assert checksum(repo) == after


@pytest.mark.usefixtures("old_news")
def test_a_content_edit_is_seen_though_no_directory_is_read(
    tmp_path: Path, listed: list[str]
) -> None:
    """Files are stat-ed every run: an edit that changes no directory's stat is still seen."""
    repo = _tree(tmp_path)
    cache = ChecksumCache(tmp_path / "cache")
    first = checksum(repo, cache=cache)
    listed.clear()
    (repo / "d0/a.yaml").write_bytes(b"A!")
    after = checksum(repo, cache=cache)
    assert [] == listed
    assert Changes(modified=("d0/a.yaml", "lnk/a.yaml")) == first.diff(after)


@pytest.mark.usefixtures("old_news")
def test_links_are_resolved_every_run_in_an_unchanged_directory(tmp_path: Path) -> None:
    """The root is unchanged, but its link leads to a loop, then out: a kept cache sees both."""
    repo = FileTree({"a/b/x.yaml": b"x", "top.yaml": b"t"}, {"lnk": "a/b"}).write(tmp_path / "repo")
    cache = ChecksumCache(tmp_path / "cache")
    checksum(repo, cache=cache)
    shutil.rmtree(repo / "a/b")
    (repo / "a/b").symlink_to("..")  # a changed, the root did not: lnk leads into a loop now
    with pytest.raises(SymlinkLoopError) as cold:
        checksum(repo)
    with pytest.raises(SymlinkLoopError) as kept:
        checksum(repo, cache=cache)
    assert str(cold.value) == str(kept.value)
    (repo / "a/b").unlink()
    (repo / "a/b").symlink_to("../..")  # out of the root
    with pytest.raises(PathEscapeError):
        checksum(repo, cache=cache)


def test_a_directory_as_young_as_its_listing_is_read_again(
    tmp_path: Path, listed: list[str]
) -> None:
    """The racy rule on directories: one modified within the margin of its listing is not kept."""
    repo = _tree(tmp_path)  # just written: younger than the margin
    cache = ChecksumCache(tmp_path / "cache")
    checksum(repo, cache=cache)
    listed.clear()
    checksum(repo, cache=cache)
    assert ["", "d0/", "d1/", "d1/s/", "lnk/"] == listed


@pytest.mark.usefixtures("old_news")
def test_listings_are_kept_by_the_object_not_the_cache_file(
    tmp_path: Path, listed: list[str]
) -> None:
    """A new cache object on the same file lists every directory: listings are never saved."""
    repo = _tree(tmp_path)
    checksum(repo, cache=ChecksumCache(tmp_path / "cache"))
    listed.clear()
    checksum(repo, cache=ChecksumCache(tmp_path / "cache"))
    assert ["", "d0/", "d1/", "d1/s/", "lnk/"] == listed


@pytest.mark.usefixtures("old_news")
def test_listings_are_kept_only_for_exclusions_of_the_path_alone(
    tmp_path: Path, listed: list[str]
) -> None:
    """With a .sourceignore at the root (its patterns read per directory), every run lists."""
    repo = _tree(tmp_path)
    (repo / ".sourceignore").write_bytes(b"d1/c.yaml\n")
    cache = ChecksumCache(tmp_path / "cache")
    checksum(repo, cache=cache)
    listed.clear()
    (repo / "d1/s/.sourceignore").write_bytes(b"e.yaml\n")
    assert checksum(repo) == checksum(repo, cache=cache)
    assert "d1/s/" in listed
    assert "d0/" in listed


# ------------------------------------------------------------------ the property

_TARGETS = ("d0", "d1", "d1/s", "top.yaml", "missing", "..", "../..", "d1/s/../..", "/etc")

OPS = st.lists(
    st.tuples(
        st.sampled_from(
            ["add", "remove", "rename", "move", "edit", "swap", "dir_to_link", "link_to_dir"]
        ),
        st.integers(0, 7),
    ),
    min_size=1,
    max_size=6,
)


def _dirs(repo: Path) -> dict[Path, os.stat_result]:
    """Every real directory of *repo* (links not followed), with its stat."""
    found = {repo: repo.lstat()}
    for top, names, _ in os.walk(repo):
        for name in names:
            path = Path(top, name)
            st = path.lstat()
            if not stat.S_ISLNK(st.st_mode):  # os.walk lists a link to a directory as one
                found[path] = st
    return found


def _pick(items: list[Path], n: int) -> Path | None:
    return sorted(items)[n % len(items)] if items else None


def _mutate(repo: Path, op: str, n: int, step: int) -> set[Path]:  # noqa: PLR0911 - one per op
    """Apply *op*; return the directories whose entries it changed."""
    dirs = sorted(_dirs(repo))
    files = sorted(p for p in repo.rglob("*") if p.is_file() and not p.is_symlink())
    links = sorted(p for p in repo.rglob("*") if p.is_symlink())
    stamp = _cache._now_ns() - 2 * HOUR - step * 10**9  # each file written: its own old mtime
    target: Path | None
    if op in {"add", "link_to_dir"} or (op != "swap" and not files):
        where = _pick([p for p in links if op == "link_to_dir"], n)
        if where is not None:  # a link replaced by a directory holding a file
            where.unlink()
            where.mkdir()
            (where / "f.yaml").write_bytes(b"was a link")
            os.utime(where / "f.yaml", ns=(stamp, stamp))
            return {where.parent, where}
        target = _pick(dirs, n)
        assert target is not None
        new = target / f"new{step}.yaml"
        new.write_bytes(bytes([97 + step]) * (n + 1))
        os.utime(new, ns=(stamp, stamp))
        return {target}
    if op == "swap":  # a link given another target, as a checkout replaces it (rename over)
        where = _pick(links, n) or repo / f"link{step}"
        tmp = where.with_name(f".tmp{step}")
        tmp.symlink_to(_TARGETS[(n + step) % len(_TARGETS)])
        tmp.replace(where)
        return {where.parent}
    if op == "dir_to_link":
        chosen = _pick(dirs[1:], n)
        if chosen is None:
            return set()
        shutil.rmtree(chosen)
        chosen.symlink_to(_TARGETS[n % len(_TARGETS)])
        return {chosen.parent}
    target = _pick(files, n)
    assert target is not None
    if op == "remove":
        target.unlink()
        return {target.parent}
    if op in {"rename", "move"}:
        into = target.parent if op == "rename" else _pick(dirs, n + 1)
        assert into is not None
        target.rename(into / f"moved{step}.yaml")
        return {target.parent, into}
    # edit: new content, its mtime put back (one tick); the size tells the key apart
    mtime = target.lstat().st_mtime_ns
    target.write_bytes(bytes([65 + step]) * (target.lstat().st_size + 1))
    os.utime(target, ns=(mtime, mtime))
    return set()


def _tick_past(probe: Path, newest: int) -> None:
    """
    Wait, without sleeping, until the file-time clock is past *newest*.

    Each ``utime`` of *probe* (outside the tree) sets its ctime to the
    clock's current tick, which is coarse (a few milliseconds): once that is
    past every directory's ctime, a change made now cannot leave a
    directory's key as it was, which is what makes a kept listing trusted
    under the clock moved an hour on.
    """
    probe.touch()
    while probe.lstat().st_ctime_ns <= newest:
        os.utime(probe)


def _same_tick(before: dict[Path, os.stat_result], touched: set[Path]) -> None:
    """
    Put back the mtime of each directory *touched* that is still the same directory.

    So that only its ctime, which no program sets, tells that it changed.
    """
    for path in touched:
        old = before.get(path)
        if old is None or path.is_symlink() or not path.is_dir():
            continue
        if path.lstat().st_ino == old.st_ino:
            os.utime(path, ns=(old.st_atime_ns, old.st_mtime_ns), follow_symlinks=False)


def _outcome(run: Callable[[], Checksum]) -> object:
    try:
        return run()
    except (OSError, ValueError) as exc:  # the walker's errors are OSError or ValueError kinds
        return (type(exc).__name__, str(exc))


def _kept_cache_agrees(ops: list[tuple[str, int]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        repo = _tree(Path(tmp))
        (Path(tmp) / "outside.yaml").write_bytes(b"outside")
        cache = ChecksumCache(Path(tmp) / "cache")
        checksum(repo, cache=cache)
        for step, (op, n) in enumerate(ops):
            before = _dirs(repo)
            _tick_past(Path(tmp) / "probe", max(s.st_ctime_ns for s in before.values()))
            _same_tick(before, _mutate(repo, op, n, step))
            assert _outcome(lambda: checksum(repo)) == _outcome(lambda: checksum(repo, cache=cache))


PROPERTY = settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow], deadline=None)


@pytest.mark.property
@pytest.mark.usefixtures("old_news")
@PROPERTY
@given(OPS)
def test_a_kept_cache_with_listings_always_agrees_with_no_cache(ops: list[tuple[str, int]]) -> None:
    """After additions, removals, renames, link swaps, directories made links, same-tick edits."""
    _kept_cache_agrees(ops)


def _frozen(key_of: Callable[[int], DirKey]) -> Callable[[int], DirKey]:
    """A directory stat whose times never move: every change within one tick of a coarse clock."""
    frozen = _cache._now_ns() - 1

    def key(fd: int) -> DirKey:
        dev, ino, _, _ = key_of(fd)
        return (dev, ino, frozen, frozen)

    return key


@pytest.mark.property
@pytest.mark.usefixtures("old_news")
@PROPERTY
@given(OPS)
def test_the_racy_rule_rereads_directories_of_the_same_tick(ops: list[tuple[str, int]]) -> None:
    """Directory times that never move but are as young as the listing: read again, and right."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(engine_module, "dir_key", _frozen(engine_module.dir_key))
        _kept_cache_agrees(ops)


@pytest.mark.property
@pytest.mark.usefixtures("old_news")
def test_listings_keyed_on_mtime_alone_fail_the_property(monkeypatch: pytest.MonkeyPatch) -> None:
    """A directory key without the ctime misses changes whose mtime was put back: caught."""
    real = engine_module.dir_key

    def mtime_only(fd: int) -> DirKey:
        dev, ino, mtime, _ = real(fd)
        return (dev, ino, mtime, 0)

    monkeypatch.setattr(engine_module, "dir_key", mtime_only)

    @PROPERTY
    @given(OPS)
    def under_mtime_only(ops: list[tuple[str, int]]) -> None:
        _kept_cache_agrees(ops)

    with pytest.raises(AssertionError):
        under_mtime_only()


@pytest.mark.property
@pytest.mark.usefixtures("old_news")
def test_listings_without_the_racy_rule_fail_the_property(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keeping a listing as young as its directory, in a tick that never moves: caught."""

    def keep_always(self: Listings, rel: str, kept: Kept, listed_at: int) -> None:  # noqa: ARG001
        self.seen[rel] = kept

    monkeypatch.setattr(Listings, "keep", keep_always)
    monkeypatch.setattr(engine_module, "dir_key", _frozen(engine_module.dir_key))

    @PROPERTY
    @given(OPS)
    def without_the_racy_rule(ops: list[tuple[str, int]]) -> None:
        _kept_cache_agrees(ops)

    with pytest.raises(AssertionError):
        without_the_racy_rule()
