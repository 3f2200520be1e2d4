"""
The pre-commit hooks of ``.pre-commit-hooks.yaml``, run by the real ``pre-commit``.

Each run builds a virtualenv and installs this checkout into it, so these
tests carry the ``hooks`` marker: ``make test`` leaves them out and
``make test-slow`` (which ``.ci/run`` runs after ``make test``) runs them.
The GitOps repository is a temporary git repository holding the sample
repository of ``syncsafe.testing``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from syncsafe.testing import kustomize_sample

pytestmark = [pytest.mark.hooks, pytest.mark.timeout(900)]

ROOT = Path(__file__).resolve().parents[1]
PRE_COMMIT = Path(sys.executable).with_name("pre-commit")
GIT = shutil.which("git") or "git"  # the tests fail, naming it, where git is missing


def _git(repo: Path, *args: str) -> str:
    author = ["-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false"]
    return subprocess.run(
        [GIT, "-C", str(repo), *author, *args], check=True, capture_output=True, text=True
    ).stdout.strip()


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """pre-commit's environment: its store in a temporary directory, no git hooks of the host."""
    assert PRE_COMMIT.is_file(), "pre-commit is not installed: run make test-slow"
    store = tmp_path_factory.mktemp("pre-commit-home")
    return {**os.environ, "PRE_COMMIT_HOME": str(store), "PRE_COMMIT_COLOR": "never"}


@pytest.fixture(scope="module")
def hook_repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """This checkout as pre-commit would fetch it, uncommitted changes included: (path, rev)."""
    shadow = tmp_path_factory.mktemp("hook-repo") / "syncsafe"
    subprocess.run([GIT, "clone", "--quiet", str(ROOT), str(shadow)], check=True)
    changed = _git(ROOT, "ls-files", "--modified", "--others", "--exclude-standard", "-z")
    for name in filter(None, changed.split("\0")):
        source = ROOT / name
        if source.is_file():
            (shadow / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, shadow / name)
    deleted = _git(ROOT, "ls-files", "--deleted", "-z")
    for name in filter(None, deleted.split("\0")):
        (shadow / name).unlink(missing_ok=True)
    _git(shadow, "add", "--all")
    _git(shadow, "commit", "--quiet", "--allow-empty", "--message", "the working tree")
    return shadow, _git(shadow, "rev-parse", "HEAD")


@pytest.fixture
def gitops(tmp_path: Path) -> Path:
    """A git repository holding the sample repository, committed."""
    repo = kustomize_sample(tmp_path).root
    _git(repo, "init", "--quiet", "--initial-branch=main")
    _git(repo, "add", "--all")
    _git(repo, "commit", "--quiet", "--message", "sample")
    return repo


def _pre_commit(repo: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(PRE_COMMIT), *args], cwd=repo, env=env, capture_output=True, text=True, check=False
    )


def test_scan_hook_passes_a_safe_repository_and_fails_an_escape(
    gitops: Path, env: dict[str, str]
) -> None:
    """pre-commit try-repo: syncsafe-scan passes the sample, then fails on an escaping link."""
    clean = _pre_commit(gitops, env, "try-repo", str(ROOT), "syncsafe-scan", "--all-files")
    assert 0 == clean.returncode, clean.stdout + clean.stderr
    assert "no unsafe entries under ." in clean.stdout or "Passed" in clean.stdout
    (gitops / "overlays/prod/east/secrets").symlink_to("../../../../etc")
    _git(gitops, "add", "--all")
    dirty = _pre_commit(gitops, env, "try-repo", str(ROOT), "syncsafe-scan", "--all-files")
    assert 1 == dirty.returncode, dirty.stdout + dirty.stderr
    assert "escape: overlays/prod/east/secrets -> ../../../../etc: resolves outside PATH" in (
        dirty.stdout
    )


def _config(repo: Path, hook_repo: tuple[Path, str], *extra: str) -> None:
    path, rev = hook_repo
    args = ["overlays/prod/east", "--overlay", "--root", ".", "--manifest", "east.json", *extra]
    hook = {"id": "syncsafe-checksum", "args": args}
    config = {"repos": [{"repo": str(path), "rev": rev, "hooks": [hook]}]}
    (repo / ".pre-commit-config.yaml").write_text(json.dumps(config))  # JSON is YAML


def test_checksum_hook_fails_with_the_diff_and_rewrites_with_update(
    gitops: Path, env: dict[str, str], hook_repo: tuple[Path, str]
) -> None:
    """syncsafe-checksum: current passes; an edit fails naming the file; --update rewrites."""
    subprocess.run(
        [
            Path(sys.executable).with_name("syncsafe"),
            *("checksum", "overlays/prod/east", "--overlay", "--root", "."),
            *("--manifest", "east.json"),
        ],
        cwd=gitops,
        check=True,
        capture_output=True,
    )
    _config(gitops, hook_repo)
    _git(gitops, "add", "--all")
    current = _pre_commit(gitops, env, "run", "--all-files")
    assert 0 == current.returncode, current.stdout + current.stderr

    ingress = gitops / "bases/prod-east/ingress.yaml"
    ingress.write_text(ingress.read_text() + "metadata: {name: edited}\n")
    stale = _pre_commit(gitops, env, "run", "--all-files")
    assert 1 == stale.returncode, stale.stdout + stale.stderr
    assert "--manifest east.json is not current:" in stale.stdout
    assert "modified bases/prod-east/ingress.yaml" in stale.stdout
    before = (gitops / "east.json").read_text()

    _config(gitops, hook_repo, "--update")
    rewritten = _pre_commit(gitops, env, "run", "--all-files")
    assert 1 == rewritten.returncode, rewritten.stdout + rewritten.stderr
    assert "rewritten: add east.json to the commit" in rewritten.stdout
    assert before != (gitops / "east.json").read_text()
    again = _pre_commit(gitops, env, "run", "--all-files")
    assert 0 == again.returncode, again.stdout + again.stderr
