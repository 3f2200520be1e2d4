from __future__ import annotations

import os
import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from syncsafe import _fs
from syncsafe.errors import UnsafePathError
from syncsafe.paths import open_inside
from syncsafe.walker import walk

SWAPS = 1_500
MAX_READS = 20_000


def _swapper(root: Path, outside: Path, done: threading.Event) -> Callable[[], None]:
    """Swap root/sub for a symlink to outside and back, SWAPS times (or until told to stop)."""

    def run() -> None:
        sub, parked, link = root / "sub", root / "sub.parked", root / "sub"
        try:
            for i in range(SWAPS):
                if done.is_set():
                    return
                sub.rename(parked)
                # alternate an absolute and a relative link to the outside directory
                link.symlink_to(outside if i % 2 else Path("..") / outside.name)
                link.unlink()
                parked.rename(sub)
        finally:
            done.set()

    return run


@pytest.fixture
def racing_tree(tmp_path: Path) -> tuple[Path, Path]:
    """root/sub/config.yaml says 'inside'; outside/config.yaml beside the root says 'OUTSIDE'."""
    root = tmp_path / "repo"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "config.yaml").write_bytes(b"inside")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "config.yaml").write_bytes(b"OUTSIDE")
    return root, outside


@pytest.mark.timeout(60)
@pytest.mark.parametrize("fast", [False, True], ids=["portable", "openat2"])
def test_open_inside_never_reads_outside_while_a_directory_is_swapped(
    racing_tree: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
    fast: bool,  # noqa: FBT001 - a parameter
) -> None:
    """A directory swapped for a symlink to outside, in a loop, never yields outside content."""
    if fast and not _fs.openat2_available:
        pytest.skip("openat2 is not available here")
    monkeypatch.setattr(_fs, "openat2_available", fast)
    root, outside = racing_tree
    done = threading.Event()
    swapper = threading.Thread(target=_swapper(root, outside, done))
    outcomes: Counter[str] = Counter()
    swapper.start()
    try:
        while not done.is_set() and sum(outcomes.values()) < MAX_READS:
            try:
                with open_inside(root, "sub/config.yaml") as f:
                    outcomes[f.read().decode()] += 1
            except (UnsafePathError, OSError) as exc:  # noqa: PERF203 - one trial of the race
                outcomes[type(exc).__name__] += 1
    finally:
        done.set()
        swapper.join()
    assert "OUTSIDE" not in outcomes
    assert outcomes["inside"] > 0
    assert set(outcomes) <= {
        "inside",
        "PathEscapeError",
        "AbsoluteSymlinkError",
        "FileNotFoundError",
        "NotADirectoryError",
        "UnsafePathError",
    }


@pytest.mark.timeout(60)
def test_walk_never_reads_outside_while_a_directory_is_swapped(
    racing_tree: tuple[Path, Path],
) -> None:
    """Walking and reading each entry during the same swapping never yields outside content."""
    root, outside = racing_tree
    done = threading.Event()
    swapper = threading.Thread(target=_swapper(root, outside, done))
    read: Counter[bytes] = Counter()
    failed: Counter[str] = Counter()
    swapper.start()
    try:
        while not done.is_set() and sum(read.values()) + sum(failed.values()) < MAX_READS:
            try:
                for entry in walk(root, exclude=["sub.parked/"]):
                    with entry.open() as f:
                        read[f.read()] += 1
            except (UnsafePathError, OSError) as exc:  # noqa: PERF203 - one trial of the race
                failed[type(exc).__name__] += 1
    finally:
        done.set()
        swapper.join()
    assert b"OUTSIDE" not in read
    assert set(read) <= {b"inside"}
    assert os.path.isdir(root / "sub")  # noqa: PTH112 - the swapper put it back
