"""syncsafe.affected and ``syncsafe affected``: the kustomizations a change affects."""

from __future__ import annotations

import io
import json
import os
import subprocess
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings

from _buildable import BuildableRepo, buildable_repos, write_helm
from syncsafe import (
    AffectedReason,
    affected_overlays,
    changed_paths,
    kustomization_directories,
    revision_tree,
)
from syncsafe.cli import main
from syncsafe.errors import KustomizeBuildFailed, UnknownCommit
from syncsafe.testing import Kustomize

_FILES = {
    "README.md": "# repo\n",
    "bases/app/kustomization.yaml": "resources: [deploy.yaml]\n",
    "bases/app/deploy.yaml": "kind: ConfigMap\n",
    "bases/old/kustomization.yaml": "resources: [old.yaml]\n",
    "bases/old/old.yaml": "kind: ConfigMap\n",
    "overlays/a/kustomization.yaml": "resources: [../../bases/app]\n",
    "overlays/b/kustomization.yaml": "resources: [base]\n",
    "overlays/c/kustomization.yaml": "resources: [../../bases/old]\n",
    ".gitignore": "*.log\n",
}


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), "-c", "user.email=t@example.com", "-c", "user.name=t", *args],  # noqa: S607
        capture_output=True,
        text=True,
        check=True,
    ).stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git repository: two bases, three overlays (one through a symlinked base), committed."""
    root = tmp_path / "repo"
    for relative, text in _FILES.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(text)
    (root / "overlays/b/base").symlink_to("../../bases/app")
    _git(root, "init", "-q")
    _git(root, "add", "-A")
    _git(root, "commit", "-qm", "one")
    return root


def _paths(root: Path, changed: list[str], base: Path | None = None) -> list[str]:
    return [o.path for o in affected_overlays(root, changed, base_tree=base)]


def test_a_rename_is_its_old_and_its_new_path(repo: Path) -> None:
    """A renamed file: both paths are changed (git diff --name-only names only the new one)."""
    _git(repo, "mv", "bases/old/old.yaml", "bases/old/new.yaml")
    _git(repo, "commit", "-qm", "rename")
    assert {"bases/old/old.yaml", "bases/old/new.yaml"} == changed_paths(repo, "HEAD~1")


def test_the_work_tree_and_untracked_files_count_ignored_ones_do_not(repo: Path) -> None:
    """An edit not committed, a new file, a staged file: changed; a .gitignore'd file: not."""
    (repo / "bases/app/deploy.yaml").write_text("kind: Secret\n")
    (repo / "new.yaml").write_text("x\n")
    (repo / "staged.yaml").write_text("x\n")
    _git(repo, "add", "staged.yaml")
    (repo / "debug.log").write_text("x\n")
    expected = {"bases/app/deploy.yaml", "new.yaml", "staged.yaml"}
    assert expected == changed_paths(repo)


def test_an_unknown_base_names_it(repo: Path) -> None:
    """A revision git does not know: UnknownCommit naming it and the repository."""
    with pytest.raises(UnknownCommit) as info:
        changed_paths(repo, "no-such-branch")
    assert ("no-such-branch", str(repo)) == (info.value.digest, info.value.repo)


def test_every_kustomization_directory_is_found_once(repo: Path) -> None:
    """Physical directories with a kustomization; the symlinked base is not a second one."""
    expected = ["bases/app", "bases/old", "overlays/a", "overlays/b", "overlays/c"]
    assert expected == kustomization_directories(repo)


def test_a_base_edit_affects_its_overlays_and_no_other(repo: Path) -> None:
    """The base and both overlays that read it (one through a link); not the other base's."""
    result = affected_overlays(repo, ["bases/app/deploy.yaml"])
    assert ["bases/app", "overlays/a", "overlays/b"] == [o.path for o in result]
    assert (AffectedReason("bases/app/deploy.yaml", "bases/app/deploy.yaml", "head"),) == (
        result[1].reasons
    )


def test_a_file_no_build_reads_affects_nothing(repo: Path) -> None:
    """A README is in no closure."""
    assert [] == _paths(repo, ["README.md"])


def test_an_overlay_that_stopped_reading_a_deleted_file_is_affected(repo: Path) -> None:
    """The reference and the file are gone at HEAD; the base tree's closure still names it."""
    (repo / "bases/old/old.yaml").unlink()
    (repo / "bases/old/kustomization.yaml").write_text("resources: []\n")
    changed = changed_paths(repo)
    with revision_tree(repo, "HEAD") as base:
        result = affected_overlays(repo, changed, base_tree=base)
    (overlay,) = [o for o in result if o.path == "overlays/c"]
    assert AffectedReason("bases/old/old.yaml", "bases/old/old.yaml", "base") in overlay.reasons


def test_a_retargeted_symlink_affects_what_is_read_through_it(repo: Path) -> None:
    """overlays/b/base now points at bases/old: overlays/b is affected, at head and at base."""
    link = repo / "overlays/b/base"
    link.unlink()
    link.symlink_to("../../bases/old")
    with revision_tree(repo, "HEAD") as base:
        result = affected_overlays(repo, changed_paths(repo), base_tree=base)
    (overlay,) = [o for o in result if o.path == "overlays/b"]
    assert {"head", "base"} == {r.at for r in overlay.reasons}
    assert {"overlays/b/base"} == {r.changed for r in overlay.reasons}


def test_a_closure_that_cannot_be_computed_is_affected_with_the_error(repo: Path) -> None:
    """A reference to a missing file: listed, with the error, never left out."""
    (repo / "overlays/a/kustomization.yaml").write_text("resources: [gone.yaml]\n")
    (overlay,) = [o for o in affected_overlays(repo, []) if o.path == "overlays/a"]
    assert () == overlay.reasons
    assert 1 == len(overlay.errors)
    assert overlay.errors[0].startswith("head: ")
    assert "gone.yaml" in overlay.errors[0]


def test_revision_tree_leaves_the_work_tree_and_the_repository_alone(repo: Path) -> None:
    """No file changed, no worktree registered; the temporary tree is gone afterwards."""
    (repo / "bases/app/deploy.yaml").write_text("edited\n")
    status = _git(repo, "status", "--porcelain")
    with revision_tree(repo, "HEAD") as base:
        assert "kind: ConfigMap\n" == (base / "bases/app/deploy.yaml").read_text()
        assert (base / "overlays/b/base").is_symlink()
    assert not base.exists()
    assert status == _git(repo, "status", "--porcelain")
    assert 1 == len(_git(repo, "worktree", "list").splitlines())


def _cli(
    argv: list[str], capsys: pytest.CaptureFixture[str], where: Path | None = None
) -> tuple[int, str, str]:
    old = Path.cwd()
    try:
        if where is not None:
            os.chdir(where)
        status = main(argv)
    finally:
        os.chdir(old)
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_cli_exit_1_and_a_line_per_affected_overlay(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Status 1 when some are affected; each line names the overlay and the file it reads."""
    _git(repo, "mv", "bases/old/old.yaml", "bases/old/new.yaml")
    (repo / "bases/old/kustomization.yaml").write_text("resources: [new.yaml]\n")
    status, out, _ = _cli(["affected"], capsys, repo)
    assert 1 == status
    lines = out.splitlines()
    assert ["bases/old", "overlays/c"] == [line.split(":")[0] for line in lines]
    assert "reads bases/old/old.yaml (base)" in lines[1]
    assert "reads bases/old/new.yaml (head)" in lines[1]


def test_cli_exit_0_when_nothing_is_affected(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A README edit: status 0, nothing printed."""
    (repo / "README.md").write_text("changed\n")
    assert (0, "", "") == _cli(["affected", "--root", str(repo)], capsys)


def test_cli_json_schema(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--json: root, base, changed and per overlay path, exists, reasons and errors."""
    (repo / "bases/app/deploy.yaml").write_text("edited\n")
    _git(repo, "commit", "-qam", "edit")
    status, out, _ = _cli(["affected", "--base", "HEAD~1", "--json", "--root", str(repo)], capsys)
    document = json.loads(out)
    assert 1 == status
    assert ["affected", "base", "changed", "root"] == sorted(document)
    assert ("HEAD~1", ["bases/app/deploy.yaml"]) == (document["base"], document["changed"])
    first = document["affected"][0]
    reason = {"changed": "bases/app/deploy.yaml", "reads": "bases/app/deploy.yaml", "at": "head"}
    assert {"path": "bases/app", "exists": True, "errors": []} == {
        k: v for k, v in first.items() if k != "reasons"
    }
    assert reason in first["reasons"]


def test_cli_paths_given_and_on_stdin(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """PATHs are relative to the current directory; '-' reads paths relative to ROOT."""
    status, out, _ = _cli(["affected", "deploy.yaml"], capsys, repo / "bases/app")
    assert (1, ["bases/app", "overlays/a", "overlays/b"]) == (
        status,
        [line.split(":")[0] for line in out.splitlines()],
    )
    monkeypatch.setattr("sys.stdin", io.StringIO("bases/old/old.yaml\n\n"))
    status, out, _ = _cli(["affected", "-", "--root", str(repo)], capsys)
    assert ["bases/old", "overlays/c"] == [line.split(":")[0] for line in out.splitlines()]


def test_cli_outside_git_needs_paths(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A ROOT that is no git work tree: without PATHs, status 2 and one line saying what to give."""
    status, _, err = _cli(["affected", "--root", str(tmp_path)], capsys)
    assert 2 == status
    assert err.startswith("syncsafe affected: error: ")
    assert "give the changed PATHs" in err
    assert 1 == len(err.splitlines())


# ------------------------------------------------- never misses, against a real build


def _build(kustomize: Kustomize, repo: BuildableRepo, root: Path, overlay: str) -> str:
    try:
        return kustomize.build(
            root / overlay, load_restrictor=repo.load_restrictor, helm_command=root.parent / "helm"
        )
    except KustomizeBuildFailed as exc:
        return exc.message


def _check_never_misses(repo: BuildableRepo, kustomize: Kustomize) -> None:
    with tempfile.TemporaryDirectory() as top:
        root = Path(top, "repo")
        repo.write(root)
        write_helm(root.parent)
        before = {o: _build(kustomize, repo, root, o) for o in repo.overlays}
        for relative in sorted(repo.files):
            path = root / relative
            original = path.read_text()
            path.write_text(original.replace("v0", "v1"))
            changed = {o for o in repo.overlays if _build(kustomize, repo, root, o) != before[o]}
            path.write_text(original)
            if changed:
                assert changed <= set(_paths(root, [relative])), relative


@settings(max_examples=10)
@given(buildable_repos(plugin_configs=False))
def test_an_overlay_whose_build_an_edit_changes_is_affected(
    kustomize: Kustomize, repo: BuildableRepo
) -> None:
    """For each file: every overlay whose real build its edit changes is in the answer."""
    _check_never_misses(repo, kustomize)
