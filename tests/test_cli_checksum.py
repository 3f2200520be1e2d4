from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from syncsafe import Checksum, checksum
from syncsafe.cli import main
from syncsafe.strategies import FileTree

REPO = FileTree(
    {
        "overlays/dev/kustomization.yaml": b"resources:\n- ../../base\n- https://example.com/x.yaml\n",
        "base/kustomization.yaml": b"resources:\n- app.yaml\n",
        "base/app.yaml": b"kind: ConfigMap\n",
        "base/README.md": b"not read by a build\n",
    }
)


def test_checksum_prints_the_digest(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The default output is the digest alone, the same one the library gives."""
    repo = REPO.write(tmp_path / "repo")
    assert main(["checksum", str(repo)]) == 0
    out, err = capsys.readouterr()
    assert f"{checksum(repo).digest}\n" == out
    assert "" == err  # no progress bar when stderr is not a terminal


def test_checksum_options(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--root, --algorithm, --annotation-key, --exclude and --cache reach the library."""
    repo = REPO.write(tmp_path / "repo")
    args = ["checksum", str(repo / "base"), "--root", str(repo), "--algorithm", "sha256"]
    args += ["--annotation-key", "fluxcd.io/checksum", "--exclude", "*.md"]
    args += ["--cache", str(tmp_path / "cache"), "--json"]
    assert main(args) == 0
    result = Checksum.from_json(capsys.readouterr().out)
    assert ["base/app.yaml", "base/kustomization.yaml"] == list(result.files)
    assert result.digest.startswith("sha256:")
    assert result.annotation_key == "fluxcd.io/checksum"


def test_overlay_lists_remote_bases_on_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--overlay hashes what a build reads; remote bases are named on stderr."""
    repo = REPO.write(tmp_path / "repo")
    assert main(["checksum", "--overlay", str(repo / "overlays/dev"), "--root", str(repo)]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("xxh3-128:")
    assert "remote, not hashed: https://example.com/x.yaml\n" == err
    assert (
        main(
            [
                "checksum",
                "--overlay",
                "--no-remote",
                str(repo / "overlays/dev"),
                "--root",
                str(repo),
            ]
        )
        == 2
    )
    assert (
        "the remote base https://example.com/x.yaml, refused by --no-remote"
        in capsys.readouterr().err
    )


def test_manifest_and_diff(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Two manifests diff to the edited file with status 1; identical ones give 0."""
    repo = REPO.write(tmp_path / "repo")
    old, new = str(tmp_path / "old.json"), str(tmp_path / "new.json")
    assert main(["checksum", str(repo), "--manifest", old]) == 0
    (repo / "base/app.yaml").write_bytes(b"kind: Secret\n")
    assert main(["checksum", str(repo), "--manifest", new]) == 0
    capsys.readouterr()
    assert main(["diff", old, old]) == 0
    assert capsys.readouterr().out.endswith("no changes\n")
    assert main(["diff", old, new]) == 1
    out = capsys.readouterr().out
    assert "modified base/app.yaml\n" in out
    assert main(["diff", "--json", old, new]) == 1
    report = json.loads(capsys.readouterr().out)
    assert (False, ["base/app.yaml"], [], []) == (
        report["same"],
        report["modified"],
        report["added"],
        report["removed"],
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new.json", "old.json", "repo"]


def test_the_manifest_is_created_as_a_new_file_is_and_its_rename_synced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--manifest is 0666 less the umask (not a temporary file's 0600); its directory is fsynced."""
    repo = REPO.write(tmp_path / "repo")
    out = tmp_path / "out" / "m.json"
    out.parent.mkdir()
    synced: list[str] = []
    fsync = os.fsync

    def spy(fd: int) -> None:
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            synced.append(Path(f"/proc/self/fd/{fd}").readlink().name)
        fsync(fd)

    monkeypatch.setattr(os, "fsync", spy)
    old = os.umask(0o022)
    try:
        assert main(["checksum", str(repo), "--manifest", str(out)]) == 0
    finally:
        os.umask(old)
    assert 0o644 == stat.S_IMODE(out.stat().st_mode)
    assert ["out"] == synced
    assert checksum(repo).digest == Checksum.from_json(out.read_text()).digest
    assert ["m.json"] == [p.name for p in out.parent.iterdir()]


def test_diff_reports_a_changed_annotation_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The same files under another annotation key differ in the header only."""
    repo = REPO.write(tmp_path / "repo")
    old, new = tmp_path / "old.json", tmp_path / "new.json"
    old.write_text(checksum(repo).to_json())
    new.write_text(checksum(repo, annotation_key="example.com/sum").to_json())
    assert main(["diff", str(old), str(new)]) == 1
    assert "annotation key changed: none -> example.com/sum" in capsys.readouterr().out


def test_diff_of_a_corrupt_manifest_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A hand-edited manifest is refused with status 2, naming the file."""
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "syncsafe-checksum"}')
    assert main(["diff", str(bad), str(bad)]) == 2
    assert f"OLD.json {bad} is not a valid checksum manifest" in capsys.readouterr().err


def test_checksum_of_a_missing_path_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A path that does not exist is status 2 with a one-line message."""
    assert main(["checksum", str(tmp_path / "nope")]) == 2
    assert capsys.readouterr().err.startswith("syncsafe checksum: error: ")


def test_the_progress_bar_shows_on_a_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """At a terminal a long run draws a bar on stderr; stdout keeps only the digest."""
    repo = REPO.write(tmp_path / "repo")
    monkeypatch.setattr("sys.stderr.isatty", lambda: True)
    monkeypatch.setattr("syncsafe._cli.checksum._PROGRESS_DELAY", 0)
    assert main(["checksum", str(repo)]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("xxh3-128:")
    assert "files" in err


def test_check_compares_with_the_stored_manifest_and_update_rewrites_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--check: 0 when current; 1 and the diff after an edit; --update rewrites, then 0."""
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "a.yaml").write_text("a: 1\n")
    stored = tmp_path / "stored.json"
    check = ["checksum", str(tree), "--check", "--manifest", str(stored)]
    assert 1 == main([*check, "--update"])  # none yet: written, and the commit must add it
    assert "it does not exist" in capsys.readouterr().out
    assert 0 == main(check)
    assert f"--manifest {stored} is current" in capsys.readouterr().out
    (tree / "a.yaml").write_text("a: 2\n")
    assert 1 == main(check)
    out = capsys.readouterr().out
    assert "modified a.yaml\nrun with --update to rewrite it\n" in out
    assert 1 == main([*check, "--update"])
    assert f"rewritten: add {stored} to the commit" in capsys.readouterr().out
    assert 0 == main(check)
    assert checksum(tree).to_json() + "\n" == stored.read_text()


FLUX_STYLE = FileTree(
    {
        "apps/staging/kustomization.yaml": b"resources: [../base.yaml]\n",
        "apps/base.yaml": b"kind: ConfigMap\n",
        ".git/HEAD": b"ref: refs/heads/main\n",
    }
)


def test_overlay_root_defaults_to_the_git_work_tree_wherever_the_command_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """From the repository, from its parent and from inside the overlay: one digest."""
    repo = FLUX_STYLE.write(tmp_path / "repo")
    digests = []
    for where, path in ((repo, "apps/staging"), (tmp_path, "repo/apps/staging"), (repo, ".")):
        monkeypatch.chdir(where if path != "." else repo / "apps/staging")
        args = ["checksum", "--overlay", path, "--load-restrictor", "none"]
        assert main(args) == 0
        digests.append(capsys.readouterr().out)
    assert 1 == len(set(digests))


def test_overlay_outside_a_work_tree_asks_for_root(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without .git above the overlay and without --root, the error says what to give."""
    repo = REPO.write(tmp_path / "repo")
    assert main(["checksum", "--overlay", str(repo / "overlays/dev")]) == 2
    assert "is not inside a git work tree: give --root" in capsys.readouterr().err


def test_load_restrictor_root_only_refuses_and_none_reads(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--load-restrictor: the default refuses a file beside the overlay, none hashes it."""
    repo = FLUX_STYLE.write(tmp_path / "repo")
    overlay = str(repo / "apps/staging")
    assert main(["checksum", "--overlay", overlay]) == 2
    assert "is not in or below apps/staging" in capsys.readouterr().err
    manifest = tmp_path / "none.json"
    args = ["checksum", "--overlay", overlay, "--load-restrictor", "none"]
    assert main([*args, "--manifest", str(manifest)]) == 0
    assert "load-restrictor=none" == Checksum.from_json(manifest.read_text()).mode


def test_diff_of_two_load_restrictors_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Manifests of two modes cannot be diffed file by file: status 2, both modes named."""
    repo = REPO.write(tmp_path / "repo")
    overlay, root = str(repo / "overlays/dev"), str(repo)
    one, two = tmp_path / "one.json", tmp_path / "two.json"
    assert main(["checksum", "--overlay", overlay, "--root", root, "--manifest", str(one)]) == 0
    args = ["checksum", "--overlay", overlay, "--root", root, "--load-restrictor", "none"]
    assert main([*args, "--manifest", str(two)]) == 0
    capsys.readouterr()
    assert main(["diff", str(one), str(two)]) == 2
    assert "(format 1, load-restrictor=none)" in capsys.readouterr().err
