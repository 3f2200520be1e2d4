"""syncsafe.walk against os.walk (no safety) and os.fwalk: 10,000 files, two linked dirs."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from benchmarks._interleave import compare
from syncsafe import walk

Measure = Callable[[str, bool], BenchmarkFixture]

FULL = os.environ.get("SYNCSAFE_BENCH_FULL") == "1"

DIRS, SUBDIRS, FILES = 10, 10, 100  # 10,000 files
LINKED = 1_100  # files reached a second time through the two directory links


@pytest.fixture(scope="session")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """10 x 10 directories of 100 files, plus two symlinked directories (1,100 more entries)."""
    root = tmp_path_factory.mktemp("walk-bench")
    for a in range(DIRS):
        for b in range(SUBDIRS):
            d = root / f"d{a}" / f"s{b}"
            d.mkdir(parents=True)
            for f in range(FILES):
                (d / f"f{f}.yaml").write_bytes(b"x")
    (root / "link0").symlink_to("d0")
    (root / "link1").symlink_to("d1/s1")
    return root


def _syncsafe(root: Path) -> int:
    return sum(1 for _ in walk(root))


def _os_walk(root: Path) -> int:
    return sum(len(files) for _, _, files in os.walk(root, followlinks=True))


def _os_fwalk(root: Path) -> int:
    return sum(len(files) for _, _, files, _ in os.fwalk(root, follow_symlinks=True))


EXPECTED = DIRS * SUBDIRS * FILES + LINKED


def test_os_walk_baseline(measure: Measure, tree: Path) -> None:
    """Baseline: os.walk following links (no containment, no loop check, no order)."""
    assert EXPECTED == measure("walk-10k", True)(_os_walk, tree)  # noqa: FBT003


def test_os_fwalk(measure: Measure, tree: Path) -> None:
    """os.fwalk following links: descriptor-based, but no containment check either."""
    assert EXPECTED == measure("walk-10k", False)(_os_fwalk, tree)  # noqa: FBT003


def test_syncsafe_walk(measure: Measure, tree: Path) -> None:
    """syncsafe.walk: sorted, contained, loop-checked, one WalkEntry per file."""
    assert EXPECTED == measure("walk-10k", False)(_syncsafe, tree)  # noqa: FBT003


def test_walk_interleaved(measure: Measure, tree: Path) -> None:
    """os.walk, os.fwalk and syncsafe.walk in alternating batches: ratios in extra_info."""
    candidates = {
        "os_walk": lambda: _os_walk(tree),
        "os_fwalk": lambda: _os_fwalk(tree),
        "syncsafe_walk": lambda: _syncsafe(tree),
    }
    bench = measure("walk-10k-interleaved", True)  # noqa: FBT003
    times = compare(bench, candidates, baseline="os_walk", rounds=30 if FULL else 1, calls=1)
    assert set(candidates) == set(times)
