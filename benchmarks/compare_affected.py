"""
``syncsafe affected`` against its peer and against a real kustomize, over a repository's history.

For every first-parent commit of a git repository, the change is the commit
against its parent. Three answers are compared:

- the truth: the kustomization directories whose real build
  (:class:`syncsafe.testing.Kustomize`) differs between parent and commit
  (the output, or the error, or a directory that appeared or went away);
- syncsafe: :func:`syncsafe.affected_overlays` with the parent's tree as
  the base, and the changed paths of :func:`syncsafe.changed_paths`;
- the peer: PyPI's ``get-changed-kustomize-overlays`` 0.1.3, run as its
  README says (``--changed-files $(git diff --name-only ...)
  --base-overlays <every kustomization.yaml>``). It resolves every changed
  file with ``strict=True`` and so fails on a deleted one: deleted files are
  left out of its input, as a CI job would have to.

Usage (the repository is any git directory; a bare mirror is fine)::

    .venv/bin/pip install get-changed-kustomize-overlays==0.1.3
    .venv/bin/python -m benchmarks.compare_affected GIT_DIR [--load-restrictor none]

It prints one line per commit where an answer differs, and the totals.
"""

from __future__ import annotations

import argparse
import itertools
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from syncsafe import affected_overlays, changed_paths, kustomization_directories, revision_tree
from syncsafe.errors import KustomizeBuildFailed
from syncsafe.testing import Kustomize

_LIBRARY = Path(__file__).parent.parent / ".venv" / "kustomize" / "libpykustomize.so"


def _git(work: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(work), *args],  # noqa: S607 - git from PATH
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def _builds(kustomize: Kustomize, work: Path, restrictor: str) -> dict[str, str]:
    found = {}
    for directory in kustomization_directories(work):
        try:
            found[directory] = kustomize.build(
                work / directory,
                load_restrictor="none" if restrictor == "none" else "root-only",
            )
        except KustomizeBuildFailed as exc:  # noqa: PERF203 - a failed build is an answer
            found[directory] = "failed: " + exc.message
    return found


def _peer(work: Path, parent: str, commit: str) -> set[str] | str:
    changed = _git(work, "diff", "--name-only", parent, commit).split()
    existing = [str(work / p) for p in changed if (work / p).exists()]
    overlays = [
        str(work / d / "kustomization.yaml")
        for d in kustomization_directories(work)
        if (work / d / "kustomization.yaml").is_file()
    ]
    if not existing or not overlays:
        return set()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "get_changed_kustomize_overlays",
            "--changed-files",
            *existing,
            "--base-overlays",
            *overlays,
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=work,
    )
    if result.returncode != 0:
        return "crashed: " + (result.stderr.strip().splitlines() or ["?"])[-1]
    real = Path(os.path.realpath(work))
    return {Path(p).parent.relative_to(real).as_posix() for p in result.stdout.split()}


def main() -> int:
    """Compare the three answers over GIT_DIR's history; print the differences and totals."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("git_dir")
    parser.add_argument("--load-restrictor", choices=("root-only", "none"), default="root-only")
    args = parser.parse_args()
    kustomize = Kustomize.from_environment(_LIBRARY)
    totals = dict.fromkeys(
        (
            "commits",
            "truth",
            "syncsafe",
            "peer",
            "syncsafe misses",
            "peer misses",
            "syncsafe extra",
            "peer extra",
            "peer crashed",
        ),
        0,
    )
    with tempfile.TemporaryDirectory() as top:
        work = Path(top, "work")
        subprocess.run(
            ["git", "clone", "-q", "--no-checkout", args.git_dir, str(work)],  # noqa: S607
            check=True,
        )
        commits = _git(work, "rev-list", "--first-parent", "--reverse", "HEAD").split()
        for parent, commit in itertools.pairwise(commits):
            _git(work, "checkout", "-q", "--detach", "--force", parent)
            before = _builds(kustomize, work, args.load_restrictor)
            _git(work, "checkout", "-q", "--detach", "--force", commit)
            after = _builds(kustomize, work, args.load_restrictor)
            truth = {d for d in before.keys() | after.keys() if before.get(d) != after.get(d)}
            changed = changed_paths(work, parent)
            with revision_tree(work, parent) as base:
                ours = {o.path for o in affected_overlays(work, changed, base_tree=base)}
            peer = _peer(work, parent, commit)
            totals["commits"] += 1
            totals["truth"] += len(truth)
            totals["syncsafe"] += len(ours)
            totals["syncsafe misses"] += len(truth - ours)
            totals["syncsafe extra"] += len(ours - truth)
            if isinstance(peer, str):
                totals["peer crashed"] += 1
                peer_set: set[str] = set()
            else:
                peer_set = peer
            totals["peer"] += len(peer_set)
            totals["peer misses"] += len(truth - peer_set)
            totals["peer extra"] += len(peer_set - truth)
            if truth != ours or truth != peer_set:
                sys.stdout.write(
                    f"{commit[:7]}: truth {sorted(truth)} syncsafe {sorted(ours)} "
                    f"peer {peer if isinstance(peer, str) else sorted(peer_set)}\n"
                )
    for name, value in totals.items():
        sys.stdout.write(f"{name}: {value}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
