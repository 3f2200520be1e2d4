"""Symlink traversal: the deployment-storm kustomize build checks, buggy vs fixed."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from syncsafe._demo._table import Row, Variant
from syncsafe.buggy import paths as buggy
from syncsafe.errors import UnsafePathError
from syncsafe.testing import attack_corpus, benign_corpus, build_tree
from syncsafe.walker import walk

INCIDENT = "symlink traversal"

Check = Callable[[Path], object]


def _walk_all(root: Path) -> None:
    for _ in walk(root):
        pass


def _accepts(check: Check, root: Path) -> bool:
    try:
        check(root)
    except (buggy.BuildFailed, UnsafePathError, OSError):
        return False
    return True


_CHECKS: tuple[tuple[Variant, str, Check], ...] = (
    ("buggy", "Build(): '..' in link text", buggy.build),
    ("attempted fix", "FixedBuild(): HasPrefix, one hop", buggy.fixed_build),
    ("fixed", "syncsafe.walker", _walk_all),
)


def run() -> list[Row]:
    """Run the attack and benign corpora through Build(), FixedBuild() and syncsafe.walk."""
    attacks, benign = attack_corpus(), benign_corpus()
    accepted = [0] * len(_CHECKS)
    rejected = [0] * len(_CHECKS)
    with tempfile.TemporaryDirectory(prefix="syncsafe-demo-") as tmp:
        for i, spec in enumerate(attacks):
            root = build_tree(spec, Path(tmp, f"attack-{i}"))
            for n, (_, _, check) in enumerate(_CHECKS):
                accepted[n] += _accepts(check, root)
        for i, spec in enumerate(benign):
            root = build_tree(spec, Path(tmp, f"benign-{i}"))
            for n, (_, _, check) in enumerate(_CHECKS):
                rejected[n] += not _accepts(check, root)
    rows = []
    for n, (variant, name, _) in enumerate(_CHECKS):
        outcome = (
            f"accepted {accepted[n]}/{len(attacks)} malicious trees "
            f"({accepted[n] / len(attacks):.0%}); rejected {rejected[n]}/{len(benign)} "
            f"benign ({rejected[n] / len(benign):.0%} false positives)"
        )
        if variant == "attempted fix":
            outcome = (
                f"still {outcome}: a string-prefix test on one lexical hop misses chained "
                "links, '..' through a link and sibling directories such as /repo-evil"
            )
        correct = accepted[n] == 0 and rejected[n] == 0
        rows.append(Row(INCIDENT, variant, name, outcome, correct))
    return rows
