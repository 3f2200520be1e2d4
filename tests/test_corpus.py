from __future__ import annotations

import contextlib
import os
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from syncsafe.buggy import paths as buggy
from syncsafe.errors import UnsafePathError
from syncsafe.paths import open_inside
from syncsafe.testing import (
    SECRET,
    Symlink,
    TreeSpec,
    attack_corpus,
    benign_corpus,
    build_tree,
)
from syncsafe.walker import scan, walk

ATTACKS = attack_corpus()
BENIGN = benign_corpus()


def _walk_all(root: Path) -> None:
    for _ in walk(root):
        pass


def _accepts(check: Callable[[Path], object], root: Path) -> bool:
    try:
        check(root)
    except (buggy.BuildFailed, UnsafePathError):
        return False
    return True


def test_the_attack_corpus_has_every_family() -> None:
    """At least 100 malicious trees, covering each family of attack, with unique names."""
    assert len(ATTACKS) >= 100
    assert len({s.name for s in ATTACKS}) == len(ATTACKS)
    kinds = Counter(s.kind for s in ATTACKS)
    assert {
        "relative-escape",
        "absolute",
        "chain",
        "through-symlinked-dir",
        "sibling-prefix",
        "loop",
    } == set(kinds)


@pytest.mark.parametrize("spec", ATTACKS, ids=[s.name for s in ATTACKS])
def test_the_walk_rejects_every_attack(tmp_path: Path, spec: TreeSpec) -> None:
    """Every malicious tree makes walk raise UnsafePathError and scan report it."""
    root = build_tree(spec, tmp_path)
    with pytest.raises(UnsafePathError):
        _walk_all(root)
    assert scan(root)


@pytest.mark.parametrize("spec", ATTACKS, ids=[s.name for s in ATTACKS])
def test_open_inside_never_reads_outside_content(tmp_path: Path, spec: TreeSpec) -> None:
    """Through every link of every malicious tree, open_inside never returns outside content."""
    root = build_tree(spec, tmp_path)
    for entry in spec.entries:
        if not isinstance(entry, Symlink):
            continue
        for path in (entry.path, entry.path + "/secret.yaml"):
            with contextlib.suppress(UnsafePathError, OSError), open_inside(root, path) as f:
                assert SECRET != f.read()


@pytest.mark.parametrize("spec", BENIGN, ids=[s.name for s in BENIGN])
def test_the_walk_accepts_every_benign_tree(tmp_path: Path, spec: TreeSpec) -> None:
    """No benign tree is rejected, and scan finds nothing but a FIFO that walk skips."""
    root = build_tree(spec, tmp_path)
    paths = [e.path for e in walk(root)]
    assert sorted(paths, key=os.fsencode) == paths
    assert {"special-file"} >= {f.rule for f in scan(root)}


def _rates(check: Callable[[Path], object], tmp_path: Path) -> tuple[int, int]:
    accepted = rejected = 0
    for i, spec in enumerate(ATTACKS):
        accepted += _accepts(check, build_tree(spec, tmp_path / f"a{i}"))
    for i, spec in enumerate(BENIGN):
        rejected += not _accepts(check, build_tree(spec, tmp_path / f"b{i}"))
    return accepted, rejected


def test_the_buggy_builds_fail_both_corpora(tmp_path: Path) -> None:
    """Build() passes absolute links and rejects '..' names; FixedBuild() passes most attacks."""
    assert (33, 9) == _rates(buggy.build, tmp_path / "build")
    assert (83, 1) == _rates(buggy.fixed_build, tmp_path / "fixed")
    assert (0, 0) == _rates(_walk_all, tmp_path / "walk")
