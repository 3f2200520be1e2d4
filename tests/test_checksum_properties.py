from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pathspec import GitIgnoreSpec

from syncsafe import Changes, Checksum, NonCanonicalPath, checksum, overlay_checksum
from syncsafe.buggy import checksum as buggy
from syncsafe.checksums._algorithms import get_algorithm
from syncsafe.checksums._format import path_bytes, tree_digest
from syncsafe.checksums._tree import _GitOnlySpec
from syncsafe.strategies import FileTree, KustomizeRepo, kustomize_repos, overlay_trees

pytestmark = pytest.mark.property

# Each example writes a tree to disk: fewer examples than the profile's 100.
TREES = settings(max_examples=40, suppress_health_check=[HealthCheck.too_slow], deadline=None)

Digest = Callable[[Path], str]


def _syncsafe(repo: Path) -> str:
    return checksum(repo / "o", root=repo).digest


def _buggy(repo: Path) -> str:
    return buggy.checksum(repo / "o")


@contextmanager
def _written(tree: FileTree, where: str = "repo") -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as tmp:
        yield tree.write(Path(tmp) / where)


def _location_independence(digest: Digest) -> Callable[[], None]:
    @TREES
    @given(overlay_trees())
    def check(tree: FileTree) -> None:
        with _written(tree, "a/repo") as one, _written(tree, "other/place/repo") as two:
            assert digest(one) == digest(two)

    return check


def test_location_independence() -> None:
    """The same tree written at two locations gives the same digest."""
    _location_independence(_syncsafe)()


def test_the_buggy_checksum_fails_location_independence() -> None:
    """The incident hashed absolute paths: Hypothesis finds a tree whose digest moves with it."""
    with pytest.raises(AssertionError):
        _location_independence(_buggy)()


@TREES
@given(overlay_trees(), st.data())
def test_a_one_byte_edit_names_every_path_that_reaches_the_file(
    tree: FileTree, data: st.DataObject
) -> None:
    """Editing one byte of an included file changes the digest; diff names exactly its paths."""
    reached = tree.reached("o")
    physical = data.draw(st.sampled_from(sorted(set(reached.values()))))
    with _written(tree) as repo:
        before = checksum(repo / "o", root=repo)
        content = bytearray(tree.files[physical] or b"\0")
        at = data.draw(st.integers(0, len(content) - 1))
        content[at] = (content[at] + 1) % 256
        (repo / physical).write_bytes(bytes(content))
        after = checksum(repo / "o", root=repo)
    assert before.digest != after.digest
    expected = tuple(sorted((p for p, real in reached.items() if real == physical), key=str.encode))
    assert Changes(modified=expected) == before.diff(after)


@TREES
@given(overlay_trees(), st.data())
def test_adding_or_removing_a_file_names_exactly_it(tree: FileTree, data: st.DataObject) -> None:
    """A new file in the overlay is added, a removed one removed, and nothing else changes."""
    own = sorted(p for p in tree.files if p.startswith("o/"))
    with _written(tree) as repo:
        before = checksum(repo / "o", root=repo)
        (repo / "o/added-file.yaml").write_bytes(b"new")
        added = checksum(repo / "o", root=repo)
        assert Changes(added=("o/added-file.yaml",)) == before.diff(added)
        if own:
            gone = data.draw(st.sampled_from(own))
            (repo / gone).unlink()
            removed = checksum(repo / "o", root=repo)
            assert removed.digest != added.digest
            assert Changes(removed=(gone,)) == added.diff(removed)


@TREES
@given(overlay_trees(), st.data())
def test_a_rename_is_a_removal_and_an_addition(tree: FileTree, data: st.DataObject) -> None:
    """Renaming an included file changes the digest even though every content is the same."""
    own = sorted(p for p in tree.files if p.startswith("o/"))
    if not own:
        return
    old = data.draw(st.sampled_from(own))
    new = old.rpartition("/")[0] + "/renamed-" + old.rpartition("/")[2]
    with _written(tree) as repo:
        before = checksum(repo / "o", root=repo)
        (repo / old).rename(repo / new)
        after = checksum(repo / "o", root=repo)
    assert before.digest != after.digest
    assert Changes(added=(new,), removed=(old,)) == before.diff(after)


@TREES
@given(overlay_trees(), st.data())
def test_an_edit_outside_what_is_reached_changes_nothing(
    tree: FileTree, data: st.DataObject
) -> None:
    """A base file that no link reaches is not part of the overlay's digest."""
    reached = set(tree.reached("o").values())
    outside = sorted(set(tree.files) - reached)
    if not outside:
        return
    path = data.draw(st.sampled_from(outside))
    with _written(tree) as repo:
        before = checksum(repo / "o", root=repo)
        (repo / path).write_bytes(tree.files[path] + b"!")
        assert before == checksum(repo / "o", root=repo)


def _edits_under_links_are_seen(digest: Digest) -> Callable[[], None]:
    @TREES
    @given(overlay_trees(), st.data())
    def check(tree: FileTree, data: st.DataObject) -> None:
        linked = sorted({real for path, real in tree.reached("o").items() if path != real})
        if not linked:
            return
        physical = data.draw(st.sampled_from(linked))
        with _written(tree) as repo:
            before = digest(repo)
            (repo / physical).write_bytes(tree.files[physical] + b"#edited")
            assert before != digest(repo)

    return check


def test_edits_under_a_symlinked_base_are_seen() -> None:
    """Editing a file reached only through a symlink changes the digest."""
    _edits_under_links_are_seen(_syncsafe)()


def test_the_buggy_checksum_misses_edits_under_a_symlinked_base() -> None:
    """The incident's checksum never followed the base link: Hypothesis finds a missed edit."""
    with pytest.raises(AssertionError):
        _edits_under_links_are_seen(_buggy)()


@settings(max_examples=25, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(kustomize_repos())
def test_overlay_checksum_hashes_exactly_what_a_build_reads(repo: KustomizeRepo) -> None:
    """Every file a build reads is in .files; READMEs, unused files and other overlays are not."""
    with _written(repo.tree) as root:
        for overlay, reads in repo.reads.items():
            result = overlay_checksum(root / overlay, root=root)
            assert sorted(reads) == sorted(result.files)
            assert sorted(repo.remote[overlay]) == sorted(result.remote)
            assert not repo.unread & set(result.files)


@given(
    st.lists(
        st.sampled_from([".git", "git", ".github", "a", ".gitx", "x.git", ".git.d"]),
        min_size=1,
        max_size=4,
    ),
    st.booleans(),
)
def test_the_fast_git_exclusion_agrees_with_pathspec(parts: list[str], is_dir: bool) -> None:  # noqa: FBT001
    """The walker's default exclusion answers exactly as the gitignore pattern '.git' does."""
    path = "/".join(parts) + ("/" if is_dir else "")
    assert GitIgnoreSpec.from_lines([".git"]).match_file(path) == _GitOnlySpec().match_file(path)


Build = Callable[[dict[str, str]], Checksum]


def _unchecked_build(files: dict[str, str]) -> Checksum:
    """Checksum.build as it was: each path encoded, no question whether it is canonical."""
    algo = get_algorithm("xxh3-128")
    pairs = [(path_bytes(p), bytes.fromhex(d)) for p, d in files.items()]
    return Checksum(tree_digest(algo, None, pairs), algo.name, files)


def _respelled(raw: bytes, escape: list[bool]) -> str:
    """*raw* decoded, with the i-th non-ASCII character written as escaped bytes if escape[i]."""
    out: list[str] = []
    choices = iter(escape)
    for char in raw.decode("utf-8", "surrogateescape"):
        if char.isascii() or "\udc80" <= char <= "\udcff" or not next(choices, False):
            out.append(char)
        else:
            out.append(char.encode().decode("ascii", "surrogateescape"))
    return "".join(out)


def _one_spelling_per_path(build: Build) -> Callable[[], None]:
    @given(
        st.binary(min_size=1, max_size=12) | st.text(min_size=1, max_size=6).map(str.encode),
        st.lists(st.booleans(), max_size=12),
    )
    def check(raw: bytes, escape: list[bool]) -> None:
        canonical = raw.decode("utf-8", "surrogateescape")
        other = _respelled(raw, escape)
        assert raw == path_bytes(other)  # the same bytes, however spelled
        digest = "00" * 16
        accepted = build({canonical: digest})
        assert accepted.files == {canonical: digest}
        if other != canonical:
            with pytest.raises(NonCanonicalPath):
                build({other: digest})
            with pytest.raises(NonCanonicalPath):
                build({canonical: digest, other: digest})

    return check


def test_one_sequence_of_bytes_is_one_path() -> None:
    """Of all the strs that encode to a path's bytes, build accepts exactly the decoded one."""
    _one_spelling_per_path(lambda files: Checksum.build("xxh3-128", files))()


def test_a_build_without_the_check_accepts_two_spellings() -> None:
    """Without the check, Hypothesis finds a path with two spellings (and one digest)."""
    with pytest.raises(pytest.fail.Exception):
        _one_spelling_per_path(_unchecked_build)()
