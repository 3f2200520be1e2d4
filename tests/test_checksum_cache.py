from __future__ import annotations

import mmap
import os
import threading
import warnings
from pathlib import Path

import pytest

from _cache_tables import lookup
from syncsafe import Changes, ChecksumCache, ChecksumCacheWarning, checksum
from syncsafe.checksums import _cache
from syncsafe.checksums._cache import RACY_MARGIN_NS

HOUR = 3_600 * 10**9
DIGEST = bytes(range(16))


def _key(
    mtime_ns: int, ctime_ns: int | None = None, ino: int = 7
) -> tuple[int, int, int, int, int, int]:
    return (1, ino, 10, mtime_ns, mtime_ns if ctime_ns is None else ctime_ns, 0o100644)


def test_entries_round_trip_through_the_file(tmp_path: Path) -> None:
    """A saved entry is found by a new cache object reading the same file."""
    file = tmp_path / "cache"
    cache = ChecksumCache(file)
    started = ChecksumCache.start()
    key = _key(started - HOUR)
    assert lookup(cache, "xxh3-128", key) is None
    cache.record("xxh3-128", key, DIGEST, started)
    cache.save_if_changed()
    again = ChecksumCache(file)
    assert DIGEST == lookup(again, "xxh3-128", key)
    assert lookup(again, "sha256", key) is None
    assert (1, 1) == (again.hits, again.misses)
    assert repr(again) == f"ChecksumCache({str(file)!r})"


def test_racy_entries_are_not_cached(tmp_path: Path) -> None:
    """A file modified less than the margin before the run started is hashed every time."""
    cache = ChecksumCache(tmp_path / "cache")
    started = ChecksumCache.start()
    young = _key(started - RACY_MARGIN_NS + 1)
    young_ctime = _key(started - HOUR, ctime_ns=started)
    cache.record("xxh3-128", young, DIGEST, started)
    cache.record("xxh3-128", young_ctime, DIGEST, started)
    assert lookup(cache, "xxh3-128", young) is None
    assert lookup(cache, "xxh3-128", young_ctime) is None
    cache.save_if_changed()
    assert not (tmp_path / "cache").exists()  # nothing worth saving


def test_entries_younger_than_the_save_are_dropped_on_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The racy-git rule against the cache's own write time, if the clock went backwards."""
    file = tmp_path / "cache"
    cache = ChecksumCache(file)
    key = _key(10 * HOUR)
    cache.record("xxh3-128", key, DIGEST, 20 * HOUR)
    monkeypatch.setattr(_cache, "_now_ns", lambda: 10 * HOUR)  # written "before" the file aged
    cache.save()
    assert lookup(ChecksumCache(file), "xxh3-128", key) is None


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda _: b"something else entirely", "not a syncsafe checksum cache"),
        (lambda data: data[:-1], "corrupt"),
        (lambda data: data[:40] + bytes([data[40] ^ 1]) + data[41:], "corrupt"),
        (lambda data: data[:30], "corrupt"),
    ],
)
def test_corrupt_or_foreign_cache_is_ignored_with_a_warning(
    tmp_path: Path, damage: object, message: str
) -> None:
    """A damaged file is never trusted: a warning, no entries, and the next save rewrites it."""
    file = tmp_path / "cache"
    cache = ChecksumCache(file)
    key = _key(0)
    cache.record("xxh3-128", key, DIGEST, HOUR)
    cache.save()
    file.write_bytes(damage(file.read_bytes()))  # type: ignore[operator]
    reread = ChecksumCache(file)
    with pytest.warns(ChecksumCacheWarning, match=message):
        assert lookup(reread, "xxh3-128", key) is None
    reread.record("xxh3-128", key, DIGEST, HOUR)
    reread.save()
    assert DIGEST == lookup(ChecksumCache(file), "xxh3-128", key)


def _raw_cache(*, version: int = 1, section: bytes, count: int, body: bytes) -> bytes:
    import struct  # noqa: PLC0415

    import xxhash  # noqa: PLC0415

    data = (
        _cache._MAGIC
        + struct.pack(">IqI", version, 10 * HOUR, 1)
        + struct.pack(">HHQ", len(section), 16, count)
        + section
        + body
    )
    return data + xxhash.xxh3_128_digest(data)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (_raw_cache(version=9, section=b"xxh3-128", count=0, body=b""), "version 9"),
        (_raw_cache(section=b"md5", count=0, body=b""), "unknown algorithm section 'md5'"),
        (_raw_cache(section=b"xxh3-128", count=1, body=b"\0" * 48), "truncated entry"),
        (_raw_cache(section=b"xxh3-128", count=0, body=b"\0"), "trailing bytes"),
        (_raw_cache(section=b"xxh3-128", count=2, body=b"\0" * 64), "truncated entry"),
    ],
)
def test_well_sealed_but_invalid_caches_are_ignored(
    tmp_path: Path, data: bytes, message: str
) -> None:
    """A file with a valid seal but impossible content is still not trusted."""
    (tmp_path / "cache").write_bytes(data)
    with pytest.warns(ChecksumCacheWarning, match=message):
        assert lookup(ChecksumCache(tmp_path / "cache"), "xxh3-128", _key(0)) is None


def test_save_is_atomic_and_leaves_no_temporary_files(tmp_path: Path) -> None:
    """A save replaces the file whole; only the file and its lock file remain."""
    file = tmp_path / "sub" / "cache"
    cache = ChecksumCache(file)
    cache.record("xxh3-64", _key(0), DIGEST[:8], HOUR)
    cache.save()
    assert sorted(p.name for p in file.parent.iterdir()) == ["cache", "cache.lock"]


def test_a_failed_save_leaves_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """If the rename fails the previous cache is intact and the temporary file is removed."""
    file = tmp_path / "cache"
    cache = ChecksumCache(file)
    cache.record("xxh3-128", _key(0), DIGEST, HOUR)
    cache.save()
    before = file.read_bytes()

    def fail(*_: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", fail)
    cache.record("xxh3-128", _key(0, ino=8), DIGEST, HOUR)
    with pytest.raises(OSError, match="No space left"):
        cache.save()
    assert before == file.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "cache.lock"]


@pytest.mark.timeout(30)
def test_concurrent_saves_never_tear_the_file(tmp_path: Path) -> None:
    """Savers racing on one file leave a valid cache holding one saver's entries."""
    file = tmp_path / "cache"
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def saver(ino: int) -> None:
        try:
            cache = ChecksumCache(file)
            for i in range(200):
                cache.record("xxh3-128", _key(0, ino=ino * 1000 + i), DIGEST, HOUR)
            barrier.wait()
            for _ in range(5):
                cache.save()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=saver, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [] == errors
    reread = ChecksumCache(file)
    found = [n for n in range(4) if lookup(reread, "xxh3-128", _key(0, ino=n * 1000)) == DIGEST]
    assert len(found) == 1
    winner = found[0]
    assert all(lookup(reread, "xxh3-128", _key(0, ino=winner * 1000 + i)) for i in range(200))


@pytest.fixture
def old_news(monkeypatch: pytest.MonkeyPatch) -> None:
    """Move the cache's clock an hour on: every file written by the test is safely old."""
    later = _cache._now_ns() + HOUR
    monkeypatch.setattr(_cache, "_now_ns", lambda: later)


@pytest.mark.timeout(30)  # a liveness bound: the bug was a hang in open()
@pytest.mark.usefixtures("old_news")
def test_a_fifo_as_the_cache_file_is_a_warning_not_a_hang(tmp_path: Path) -> None:
    """A FIFO at the cache path is never opened for a blocking read: ignored, then replaced."""
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "a.yaml").write_bytes(b"a")
    file = tmp_path / "cache"
    os.mkfifo(file)
    with pytest.warns(ChecksumCacheWarning, match=r"ignoring checksum cache .*: .*a FIFO"):
        result = checksum(repo, cache=ChecksumCache(file))
    assert checksum(repo) == result
    assert file.is_file()  # the save renamed a real cache over the FIFO
    again = ChecksumCache(file)
    assert checksum(repo, cache=again) == result
    assert (1, 0) == (again.hits, again.misses)


@pytest.mark.usefixtures("old_news")
def test_a_directory_as_the_cache_file_warns_on_load_and_on_save(tmp_path: Path) -> None:
    """A directory at the cache path: one warning for the load, one for each failed save."""
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "a.yaml").write_bytes(b"a")
    file = tmp_path / "cache"
    file.mkdir()
    cache = ChecksumCache(file)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = checksum(repo, cache=cache)
    messages = [str(w.message) for w in caught]
    assert [ChecksumCacheWarning, ChecksumCacheWarning] == [w.category for w in caught]
    assert messages[0].startswith(f"ignoring checksum cache {file}: ")
    assert "a directory, not a regular file" in messages[0]
    assert messages[1].startswith(f"cannot save checksum cache {file}: ")
    assert checksum(repo) == result
    assert [] == list(file.iterdir())  # nothing written into it, no temporary file left
    assert ["cache", "cache.lock"] == sorted(p.name for p in tmp_path.iterdir() if p != repo)
    (tmp_path / "repo" / "b.yaml").write_bytes(b"b")  # a new file: a new entry, a new save
    with pytest.warns(ChecksumCacheWarning, match="cannot save checksum cache"):
        assert checksum(repo) == checksum(repo, cache=cache)


def test_an_explicit_save_still_raises(tmp_path: Path) -> None:
    """save() itself reports the failure as the OSError it is; only save_if_changed warns."""
    file = tmp_path / "cache"
    file.mkdir()
    cache = ChecksumCache(file)
    with pytest.warns(ChecksumCacheWarning, match="ignoring"):
        cache.record("xxh3-128", _key(0), DIGEST, HOUR)
    with pytest.raises(OSError, match="Is a directory"):
        cache.save()


def _stat_key(path: Path) -> tuple[int, int, int, int, int, int]:
    st = path.stat()
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_mode)


@pytest.mark.usefixtures("old_news")
def test_an_edit_through_a_dirty_shared_mapping_hides_from_the_cache_and_verify_finds_it(
    tmp_path: Path,
) -> None:
    """A write to an already dirty mmap page keeps the stat key; verify names the file."""
    repo = tmp_path / "repo"
    repo.mkdir()
    target, other = repo / "a.yaml", repo / "b.yaml"
    target.write_bytes(b"A" * mmap.PAGESIZE)
    other.write_bytes(b"b")
    file = tmp_path / "cache"
    fd = os.open(target, os.O_RDWR)
    try:
        with mmap.mmap(fd, mmap.PAGESIZE, mmap.MAP_SHARED) as mapping:
            mapping[0:1] = b"B"  # the page's first write: a fault, which sets mtime and ctime
            cached = checksum(repo, cache=ChecksumCache(file))
            key = _stat_key(target)
            mapping[1:2] = b"C"  # the page is dirty already: no fault, no timestamp
            mapping.flush()  # msync: the bytes reach the file, still no timestamp
            assert b"BC" == target.read_bytes()[:2]
            assert key == _stat_key(target)  # this file system keeps the stat key as it was
    finally:
        os.close(fd)
    truth = checksum(repo)
    assert Changes(modified=("a.yaml",)) == cached.diff(truth)
    cache = ChecksumCache(file)
    assert cached == checksum(repo, cache=cache)  # the hole: the old digest is served
    assert ("a.yaml",) == cache.verify(repo)
    assert () == cache.verify(repo)  # the wrong entry is gone; b.yaml's was right
    assert truth == checksum(repo, cache=cache)  # and the memo of the stale run with it
    assert truth == checksum(repo, cache=ChecksumCache(file))  # dropped on disk too
