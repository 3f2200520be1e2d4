"""
checksum against a plain unsafe loop, against dirhash, warm cache against cold, and a 1 GiB file.

The tree is 10,000 files of 2 KiB in 100 directories with SYNCSAFE_BENCH_FULL=1
(``make bench``), 1,000 otherwise, read once before timing so that every
run finds it in the page cache. The large file is 1 GiB with
SYNCSAFE_BENCH_FULL=1, 16 MiB otherwise.
"""

from __future__ import annotations

import os
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import dirhash  # type: ignore[import-untyped]
import pytest
import xxhash
from pytest_benchmark.fixture import BenchmarkFixture

from benchmarks._interleave import compare
from syncsafe import ChecksumCache, checksum, walk
from syncsafe.checksums._cache import RACY_MARGIN_NS

Measure = Callable[[str, bool], BenchmarkFixture]

FULL = os.environ.get("SYNCSAFE_BENCH_FULL") == "1"
FILES = 10_000 if FULL else 1_000
FILE_SIZE = 2 * 1024
BIG = (1 << 30) if FULL else (16 << 20)
GROUP = f"checksum-{FILES}-files"


def _warm(root: Path) -> None:
    for path in root.rglob("*"):
        if path.is_file():
            path.read_bytes()


@pytest.fixture(scope="session")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tree of small files, in the page cache."""
    root = tmp_path_factory.mktemp("checksum-tree")
    pool = os.urandom(FILE_SIZE * 16)
    for i in range(FILES):
        directory = root / f"d{i // 100:03d}"
        if i % 100 == 0:
            directory.mkdir()
        start = (i * 131) % (len(pool) - FILE_SIZE)
        (directory / f"f{i:05d}.yaml").write_bytes(pool[start : start + FILE_SIZE])
    assert {FILE_SIZE} == {p.stat().st_size for p in root.rglob("*.yaml")}  # exactly 2 KiB each
    _warm(root)
    return root


@pytest.fixture(scope="session")
def warm_cache(tree: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache file holding every file of *tree*."""
    # The racy-git rule keeps files younger than the margin out of the cache;
    # a real checkout is older than that, so wait for this one to age.
    newest = max(p.stat().st_ctime_ns for p in tree.rglob("*"))
    wait = newest + RACY_MARGIN_NS - time.time_ns()
    if wait > 0:
        time.sleep(wait / 1e9 + 0.05)
    file = tmp_path_factory.mktemp("checksum-cache") / "cache"
    cache = ChecksumCache(file)
    checksum(tree, cache=cache)
    assert cache.misses == FILES
    return file


def _unsafe_loop(root: Path) -> str:
    """The loop everyone writes: os.walk, read, xxh3, sort. No containment, no canonical form."""
    digests = []
    for directory, _, names in os.walk(root):
        for name in names:
            path = os.path.join(directory, name)  # noqa: PTH118
            with open(path, "rb") as file:  # noqa: PTH123
                digests.append((path, xxhash.xxh3_128_digest(file.read())))
    digests.sort()
    return xxhash.xxh3_128_hexdigest(b"".join(p.encode() + d for p, d in digests))


def test_unsafe_loop_baseline(measure: Measure, tree: Path) -> None:
    """Baseline: os.walk + read + xxh3 + sort."""
    assert len(measure(GROUP, True)(_unsafe_loop, tree)) == 32  # noqa: FBT003


def test_checksum_cold(measure: Measure, tree: Path) -> None:
    """syncsafe.checksum, no cache: walk, containment, open per directory fd, canonical encoding."""
    result = measure(GROUP, False)(checksum, tree)  # noqa: FBT003
    assert len(result.files) == FILES


def test_dirhash_peer(measure: Measure, tree: Path) -> None:
    """Peer: dirhash 0.5.0 with sha256 (what a reader might reach for)."""
    digest = measure(GROUP, False)(dirhash.dirhash, tree, "sha256")  # noqa: FBT003
    assert len(digest) == 64


def test_checksum_cold_cache_group(measure: Measure, tree: Path) -> None:
    """Baseline of the cache group: the same cold checksum."""
    result = measure(f"{GROUP}-cache", True)(checksum, tree)  # noqa: FBT003
    assert len(result.files) == FILES


def test_checksum_warm_cache(measure: Measure, tree: Path, warm_cache: Path) -> None:
    """With a ChecksumCache holding every file: stat each, read none."""

    def run() -> int:
        cache = ChecksumCache(warm_cache)
        checksum(tree, cache=cache)
        return cache.hits

    assert measure(f"{GROUP}-cache", False)(run) == FILES  # noqa: FBT003


def test_checksum_warm_cache_kept(measure: Measure, tree: Path, warm_cache: Path) -> None:
    """A ChecksumCache kept between runs, as a controller keeps it: loaded once, then stats."""
    cache = ChecksumCache(warm_cache)
    checksum(tree, cache=cache)

    def run() -> int:
        before = cache.hits
        checksum(tree, cache=cache)
        return cache.hits - before

    assert measure(f"{GROUP}-cache", False)(run) == FILES  # noqa: FBT003


def test_walk_and_stat_floor(measure: Measure, tree: Path) -> None:
    """The floor of a stat-keyed cache on the safe walker: walk, one fstatat per file, no more."""

    def run() -> int:
        stats = 0
        for entry in walk(tree):  # as the warm cache stats: by name, in the listed directory
            stats += entry.stat_key()[2] > 0
        return stats

    assert measure(f"{GROUP}-cache", False)(run) == FILES  # noqa: FBT003


def test_checksum_cache_interleaved(measure: Measure, tree: Path, warm_cache: Path) -> None:
    """
    Cold, warm, warm with the cache kept, and the walk+fstatat floor, in alternating batches.

    The ratios in extra_info compare the fastest run of each, measured side
    by side so that the machine's drift cannot skew them.
    """
    kept = ChecksumCache(warm_cache)
    checksum(tree, cache=kept)

    def warm() -> None:
        checksum(tree, cache=ChecksumCache(warm_cache))

    def floor() -> None:
        for entry in walk(tree):
            entry.stat_key()

    candidates = {
        "cold": lambda: checksum(tree),
        "warm": warm,
        "warm_kept": lambda: checksum(tree, cache=kept),
        "walk_and_stat_floor": floor,
    }
    bench = measure(f"{GROUP}-cache-interleaved", True)  # noqa: FBT003
    times = compare(bench, candidates, baseline="cold", rounds=15 if FULL else 1, calls=1)
    assert set(candidates) == set(times)


def _stat_key(st: os.stat_result) -> tuple[int, ...]:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_mode)


def _unsafe_stat_loop(root: Path, known: set[tuple[int, ...]]) -> int:
    """What a warm cache cannot beat: os.walk, one lstat per file, a set lookup. No reads."""
    hits = 0
    for directory, _, names in os.walk(root):
        for name in names:
            hits += _stat_key(os.lstat(os.path.join(directory, name))) in known  # noqa: PTH118
    return hits


def test_unsafe_stat_loop_peer(measure: Measure, tree: Path) -> None:
    """Peer of the warm cache: the bare loop of stats a cache hit needs, without walk or digest."""
    known = {_stat_key(p.lstat()) for p in tree.rglob("*") if p.is_file()}
    assert measure(f"{GROUP}-cache", False)(_unsafe_stat_loop, tree, known) == FILES  # noqa: FBT003


@pytest.fixture(scope="session")
def big_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One large file (1 GiB in full runs), in the page cache."""
    root = tmp_path_factory.mktemp("checksum-big")
    block = os.urandom(1 << 20)
    with (root / "big.bin").open("wb") as out:
        for _ in range(BIG >> 20):
            out.write(block)
    with (root / "big.bin").open("rb") as file:
        while file.read(1 << 24):
            pass
    return root


def _plain_stream(path: Path) -> bytes:
    hasher = xxhash.xxh3_128()
    buffer = bytearray(1 << 20)
    with path.open("rb") as file:
        while n := file.readinto(buffer):
            hasher.update(memoryview(buffer)[:n])
    return hasher.digest()


def test_big_file_plain_stream(measure: Measure, big_file: Path) -> None:
    """Baseline: read the large file in 1 MiB chunks into xxh3-128."""
    bench = measure("checksum-big-file", True)  # noqa: FBT003
    bench.extra_info["bytes"] = BIG
    assert len(bench(_plain_stream, big_file / "big.bin")) == 16


def test_big_file_checksum(measure: Measure, big_file: Path) -> None:
    """syncsafe.checksum of the large file; peak Python memory recorded, and constant."""
    tracemalloc.start()
    try:
        checksum(big_file)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    bench = measure("checksum-big-file", False)  # noqa: FBT003
    bench.extra_info["bytes"] = BIG
    bench.extra_info["tracemalloc_peak_bytes"] = peak
    assert peak < 4 << 20  # one 1 MiB read buffer and change, whatever the file size
    result = bench(checksum, big_file)
    assert list(result.files) == ["big.bin"]
