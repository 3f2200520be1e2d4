"""How the checksum reads files: raw descriptors from the walk, a stat alone on a cache hit."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import xxhash

from _cache_tables import entries
from syncsafe import ChecksumCache, UnsafePathError, checksum
from syncsafe.checksums import _cache
from syncsafe.strategies import FileTree
from syncsafe.walker import WalkEntry

HOUR = 3_600 * 10**9


def _age(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every file of *repo* an hour old by the time the checksum runs (the racy-git rule)."""
    old = repo.stat().st_mtime_ns - HOUR
    for path in repo.rglob("*"):
        os.utime(path, ns=(old, old), follow_symlinks=False)
    later = _cache._now_ns() + HOUR
    monkeypatch.setattr(_cache, "_now_ns", lambda: later)


def test_a_file_swapped_while_the_checksum_runs_is_refused(tmp_path: Path) -> None:
    """A file replaced after its directory was listed, before it is read, fails the checksum."""
    repo = FileTree({"d/a.yaml": b"a", "d/b.yaml": b"b"}).write(tmp_path / "repo")

    def swap(path: str, _: int) -> None:
        if path == "d/a.yaml":  # d/b.yaml is listed, not yet opened
            (repo / "d" / "new").write_bytes(b"attacker")
            (repo / "d" / "new").rename(repo / "d" / "b.yaml")

    with pytest.raises(UnsafePathError, match=r"d/b\.yaml: was replaced since it was listed"):
        checksum(repo, progress=swap)


def test_small_and_large_files_read_from_the_descriptor(tmp_path: Path) -> None:
    """Empty, small and larger-than-a-chunk files hash to their contents' digests."""
    contents = {"empty": b"", "small": b"s" * 100, "large": bytes(range(256)) * 5000}
    repo = FileTree(contents).write(tmp_path / "repo")
    result = checksum(repo)
    expected = {path: xxhash.xxh3_128_hexdigest(data) for path, data in contents.items()}
    assert expected == dict(result.files)


def test_a_cache_hit_is_a_stat_and_no_open(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With every file cached, the checksum opens none of them, and its digest is the same."""
    repo = FileTree({f"d{i % 3}/f{i}.yaml": str(i).encode() for i in range(12)}).write(
        tmp_path / "repo"
    )
    _age(repo, monkeypatch)
    cold = checksum(repo, cache=ChecksumCache(tmp_path / "cache"))

    def refuse(self: WalkEntry) -> tuple[int, os.stat_result]:
        raise AssertionError(self.path)

    monkeypatch.setattr(WalkEntry, "open_fd", refuse)
    warm_cache = ChecksumCache(tmp_path / "cache")
    assert cold == checksum(repo, cache=warm_cache)
    assert (12, 0) == (warm_cache.hits, warm_cache.misses)


def test_a_cache_miss_is_keyed_on_the_file_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A missed file's digest is recorded under the fstat of the descriptor it was read from."""
    repo = FileTree({"a.yaml": b"one", "b.yaml": b"two"}).write(tmp_path / "repo")
    _age(repo, monkeypatch)
    cache = ChecksumCache(tmp_path / "cache")
    checksum(repo, cache=cache)
    recorded = entries(ChecksumCache(tmp_path / "cache"), "xxh3-128")
    keys = set()
    for name in ("a.yaml", "b.yaml"):
        st = (repo / name).stat()
        keys.add((st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_mode))
    assert keys == set(recorded)
    assert {xxhash.xxh3_128_digest(b"one"), xxhash.xxh3_128_digest(b"two")} == set(
        recorded.values()
    )
