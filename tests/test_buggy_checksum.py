from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from syncsafe.buggy import checksum as buggy
from syncsafe.strategies import FileTree, KustomizeRepo, kustomize_repos, overlay_trees


def _expected(*parts: bytes) -> str:
    return hashlib.sha256(b"".join(parts)).hexdigest()


def test_reproduces_the_documented_hash(tmp_path: Path) -> None:
    """sha256 of absolute path + content per .yaml file in WalkDir order, then the key."""
    repo = FileTree({"b.yml": b"B", "a.yaml": b"A", "c.txt": b"C", "d/e.yaml": b"E"}).write(
        tmp_path / "o"
    )
    root = str(repo)
    assert _expected(
        f"{root}/a.yaml".encode(),
        b"A",
        f"{root}/b.yml".encode(),
        b"B",
        f"{root}/d/e.yaml".encode(),
        b"E",
        b"fluxcd.io/checksum",
    ) == buggy.checksum(repo)
    assert buggy.checksum(repo) != buggy.checksum(repo, "example.com/other")


def test_skips_hidden_names_and_never_follows_directory_links(tmp_path: Path) -> None:
    """Hidden files and directories, non-YAML files and symlinked directories change nothing."""
    repo = FileTree({"o/a.yaml": b"A", "base/b.yaml": b"B"}, {"o/base": "../base"}).write(tmp_path)
    before = buggy.checksum(repo / "o")
    for path in ("o/.env", "o/.hidden/x.yaml", "o/app.properties", "base/b.yaml"):
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        (repo / path).write_bytes(b"changed")
    assert before == buggy.checksum(repo / "o")


def test_reads_a_symlinked_yaml_file(tmp_path: Path) -> None:
    """os.ReadFile follows a link to a file, so a linked .yaml file does count."""
    repo = FileTree({"o/a.yaml": b"A", "base/b.yaml": b"B"}, {"o/b.yaml": "../base/b.yaml"}).write(
        tmp_path
    )
    before = buggy.checksum(repo / "o")
    (repo / "base/b.yaml").write_bytes(b"changed")
    assert before != buggy.checksum(repo / "o")


def test_concatenation_is_ambiguous(tmp_path: Path) -> None:
    """Path and content without lengths: two different trees at one place, one digest."""
    import shutil  # noqa: PLC0415

    where = tmp_path / "o"
    second = FileTree({"a.yaml": b"", "a.yamlb.yaml": b"X"})
    one = FileTree({"a.yaml": f"{where}/a.yamlb.yamlX".encode()})
    digest_one = buggy.checksum(one.write(where))
    shutil.rmtree(where)
    assert digest_one == buggy.checksum(second.write(where))


def test_a_hidden_overlay_hashes_nothing(tmp_path: Path) -> None:
    """The root itself is skipped when its name starts with a dot, as WalkDir's first call."""
    repo = FileTree({"a.yaml": b"A"}).write(tmp_path / ".overlay")
    assert _expected(b"fluxcd.io/checksum") == buggy.checksum(repo)


def test_an_empty_path_is_an_error() -> None:
    """The original's field.Required check."""
    with pytest.raises(ValueError, match="overlay path cannot be empty"):
        buggy.checksum("")


@settings(max_examples=20, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(overlay_trees())
def test_generated_trees_write_what_they_describe(
    tmp_path_factory: pytest.TempPathFactory, tree: FileTree
) -> None:
    """FileTree.write creates every file and link; reached() names files that exist through them."""
    repo = tree.write(tmp_path_factory.mktemp("tree"))
    for path, content in tree.files.items():
        assert content == (repo / path).read_bytes()
    for path, real in tree.reached("o").items():
        assert tree.files[real] == (repo / path).read_bytes()
    assert all((repo / link).is_symlink() for link in tree.links)


@settings(max_examples=20, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kustomize_repos())
def test_generated_repositories_are_consistent(repo: KustomizeRepo) -> None:
    """Every file an overlay is said to read exists, and no unread file is said to be read."""
    for reads in repo.reads.values():
        assert reads <= set(repo.tree.files)
        assert not reads & repo.unread
    assert repo.unread <= set(repo.tree.files)
