from __future__ import annotations

import io
import os
import subprocess
import sys
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

import pathspec
import pytest
import xxhash

from syncsafe import (
    Changes,
    Checksum,
    ChecksumCache,
    FileChangedWhileHashing,
    PathEscapeError,
    UnknownAlgorithm,
    UnsafePathError,
    checksum,
)
from syncsafe.buggy import checksum as buggy
from syncsafe.checksums import _cache, _tree
from syncsafe.checksums._algorithms import get_algorithm
from syncsafe.checksums._tree import hash_stream
from syncsafe.strategies import FileTree
from syncsafe.walker import WalkEntry, walk

HOUR = 3_600 * 10**9

INCIDENT = FileTree(
    {
        "overlays/prod/east/kustomization.yaml": (
            b"resources:\n- base\npatches:\n- path: replicas.yaml\n"
        ),
        "overlays/prod/east/replicas.yaml": b"kind: Deployment\nspec: {replicas: 6}\n",
        "bases/prod-east/kustomization.yaml": b"resources:\n- ingress.yaml\n",
        "bases/prod-east/ingress.yaml": b"kind: Ingress\nmetadata: {name: payments}\n",
    },
    {"overlays/prod/east/base": "../../../bases/prod-east"},
)


def test_nested_overlay_edit_is_seen_and_the_buggy_checksum_misses_it(tmp_path: Path) -> None:
    """The incident: an edit in the symlinked base changes syncsafe's digest, not the buggy one."""
    repo = INCIDENT.write(tmp_path / "repo")
    overlay = repo / "overlays/prod/east"
    before, buggy_before = checksum(overlay, root=repo), buggy.checksum(overlay)
    (repo / "bases/prod-east/ingress.yaml").write_bytes(b"kind: Ingress\nmetadata: {name: new}\n")
    after, buggy_after = checksum(overlay, root=repo), buggy.checksum(overlay)
    assert buggy_before == buggy_after
    assert before.digest != after.digest
    assert Changes(modified=("overlays/prod/east/base/ingress.yaml",)) == before.diff(after)
    assert [
        "overlays/prod/east/base/ingress.yaml",
        "overlays/prod/east/base/kustomization.yaml",
        "overlays/prod/east/kustomization.yaml",
        "overlays/prod/east/replicas.yaml",
    ] == list(after.files)


def test_the_same_tree_at_two_locations_has_one_digest(tmp_path: Path) -> None:
    """Paths are relative: moving the checkout does not change the digest (the buggy one does)."""
    one = INCIDENT.write(tmp_path / "a/repo")
    two = INCIDENT.write(tmp_path / "somewhere/else/repo")
    assert checksum(one) == checksum(two)
    assert buggy.checksum(one) != buggy.checksum(two)


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ({"a": b"bc"}, {"ab": b"c"}),
        ({"x/a": b"1", "x/b": b"2"}, {"x/a": b"2", "x/b": b"1"}),
    ],
    ids=["a=bc vs ab=c", "swapped contents"],
)
def test_trees_that_concatenate_alike_have_different_digests(
    tmp_path: Path, left: dict[str, bytes], right: dict[str, bytes]
) -> None:
    """Length prefixes and per-path digests: neither concatenation nor a swap can collide."""
    one = FileTree(left).write(tmp_path / "one")
    two = FileTree(right).write(tmp_path / "two")
    assert checksum(one).digest != checksum(two).digest


def test_files_are_hashed_by_content(tmp_path: Path) -> None:
    """Each file's digest in the manifest is the algorithm's digest of its bytes."""
    repo = FileTree({"a": b"one", "d/b": b""}).write(tmp_path)
    result = checksum(repo, algorithm="sha256")
    import hashlib  # noqa: PLC0415

    assert {
        "a": hashlib.sha256(b"one").hexdigest(),
        "d/b": hashlib.sha256(b"").hexdigest(),
    } == dict(result.files)
    assert result == Checksum.build("sha256", result.files)
    assert result.algorithm == "sha256"


def test_hidden_files_are_included_and_git_is_not(tmp_path: Path) -> None:
    """.env and .hidden/ count; a .git directory or .git file (a worktree) at any depth does not."""
    repo = FileTree(
        {
            ".env": b"A=1",
            ".hidden/x": b"",
            ".git/config": b"",
            "sub/.git": b"gitdir: ../.git/worktrees/sub",
            "sub/.gitignore": b"x",
        }
    ).write(tmp_path)
    assert [".env", ".hidden/x", "sub/.gitignore"] == list(checksum(repo).files)


def test_sourceignore_and_exclude_patterns(tmp_path: Path) -> None:
    """The root .sourceignore, nested ones (scoped to their directory) and exclude are honoured."""
    repo = FileTree(
        {
            ".sourceignore": b"# docs\n*.md\n!keep.md\n/build/\n",
            "README.md": b"",
            "keep.md": b"",
            "build/out.yaml": b"",
            "app/build/in.yaml": b"",
            "app/.sourceignore": b"secret.txt\n",
            "app/secret.txt": b"",
            "app/deep/secret.txt": b"",
            "other/secret.txt": b"",
            "app/x.tmp": b"",
        }
    ).write(tmp_path)
    result = checksum(repo, exclude=["*.tmp"])
    assert [
        ".sourceignore",
        "app/.sourceignore",
        "app/build/in.yaml",
        "keep.md",
        "other/secret.txt",
    ] == list(result.files)
    spec = pathspec.GitIgnoreSpec.from_lines(["other/"])
    assert "other/secret.txt" not in checksum(repo, exclude=spec).files


def test_sourceignore_between_root_and_path_applies(tmp_path: Path) -> None:
    """A .sourceignore in a directory above the checked path still excludes below it."""
    repo = FileTree(
        {
            "overlays/.sourceignore": b"*.bak\n",
            "overlays/dev/a.yaml": b"",
            "overlays/dev/a.bak": b"",
        }
    ).write(tmp_path)
    assert ["overlays/dev/a.yaml"] == list(checksum(repo / "overlays/dev", root=repo).files)


def test_a_subtree_with_pattern_characters_in_its_name(tmp_path: Path) -> None:
    """The subtree restriction escapes *, ?, [, backslash and a trailing space literally."""
    names = ["we[i]rd*dir?", "back\\slash", "trail "]
    repo = FileTree(
        {f"{n}/x": n.encode() for n in names} | {"weird-dir/x": b"", "wexrd/x": b""}
    ).write(tmp_path)
    for name in names:
        assert [f"{name}/x"] == list(checksum(repo / name, root=repo).files)


def test_exclude_must_not_be_one_string(tmp_path: Path) -> None:
    """A bare string would be read as one pattern per character: refused."""
    with pytest.raises(TypeError, match="not one string"):
        checksum(tmp_path, exclude="*.md")


def test_executable_bits_and_empty_directories_do_not_change_the_digest(tmp_path: Path) -> None:
    """Kustomize renders neither, so neither enters the digest (documented in the format page)."""
    repo = FileTree({"run.sh": b"#!/bin/sh\n", "k.yaml": b""}).write(tmp_path)
    before = checksum(repo)
    (repo / "run.sh").chmod(0o755)
    (repo / "empty/nested").mkdir(parents=True)
    assert before == checksum(repo)


def test_a_link_out_of_the_root_is_an_error(tmp_path: Path) -> None:
    """With the overlay as its own root, a base link that leaves it raises, naming the link."""
    repo = INCIDENT.write(tmp_path / "repo")
    with pytest.raises(PathEscapeError) as info:
        checksum(repo / "overlays/prod/east")
    assert "base -> ../../../bases/prod-east resolves outside the root" == str(info.value)


def test_a_path_outside_the_root_is_an_error(tmp_path: Path) -> None:
    """The checked path must be inside the root."""
    (tmp_path / "repo").mkdir()
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "repo/link").symlink_to("../elsewhere")
    with pytest.raises(PathEscapeError) as info:
        checksum(tmp_path / "elsewhere", root=tmp_path / "repo")
    assert f"{tmp_path}/elsewhere resolves outside the root" == str(info.value)
    with pytest.raises(PathEscapeError) as info:
        checksum(tmp_path / "repo/link", root=tmp_path / "repo")
    assert "link -> ../elsewhere resolves outside the root" == str(info.value)


def test_the_path_may_be_given_physically_under_a_symlinked_root(tmp_path: Path) -> None:
    """A root that is itself a symlink (a checkout dir) accepts the path by its real location."""
    real = INCIDENT.write(tmp_path / "real")
    (tmp_path / "link").symlink_to(real)
    via_link = checksum(tmp_path / "link/overlays/prod/east", root=tmp_path / "link")
    physical = checksum(real / "overlays/prod/east", root=tmp_path / "link")
    assert via_link == physical


def test_a_path_below_the_real_root_keeps_its_names_however_the_root_is_spelled(
    tmp_path: Path,
) -> None:
    """Below the root's real path, a path's link keeps its name, with the root real or linked."""
    real = FileTree({"overlays/prod/a.yaml": b"a: 1\n"}).write(tmp_path / "real")
    (real / "overlays/current").symlink_to("prod")
    (tmp_path / "link").symlink_to(real)
    expected = ["overlays/current/a.yaml"]
    assert expected == list(checksum(real / "overlays/current", root=real).files)
    assert expected == list(checksum(real / "overlays/current", root=tmp_path / "link").files)


def test_annotation_key_is_part_of_the_digest(tmp_path: Path) -> None:
    """Checking the same tree for another annotation key gives another digest."""
    repo = FileTree({"a": b""}).write(tmp_path)
    keyed = checksum(repo, annotation_key="fluxcd.io/checksum")
    assert keyed.digest != checksum(repo).digest
    assert keyed.annotation_key == "fluxcd.io/checksum"
    with pytest.raises(UnknownAlgorithm):
        checksum(repo, algorithm="crc32")


def test_progress_is_called_per_file(tmp_path: Path) -> None:
    """The progress callback sees every hashed path with its size."""
    repo = FileTree({"a": b"12", "b/c": b"345"}).write(tmp_path)
    seen: list[tuple[str, int]] = []
    checksum(repo, progress=lambda path, size: seen.append((path, size)))
    assert [("a", 2), ("b/c", 3)] == seen


def test_large_files_are_streamed_in_constant_memory(tmp_path: Path) -> None:
    """A file larger than the read buffer is hashed in chunks: memory stays near one chunk."""
    block = os.urandom(1 << 16)
    with (tmp_path / "big").open("wb") as out:
        for _ in range(160):  # 10 MiB
            out.write(block)
    tracemalloc.start()
    try:
        result = checksum(tmp_path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert xxhash.xxh3_128_hexdigest(block * 160) == result.files["big"]
    assert peak < 3 << 20


def test_a_file_that_shrinks_or_grows_while_read_is_an_error() -> None:
    """A read that ends before, or runs past, the stat's size raises: no torn digest."""
    algorithm = get_algorithm("xxh3-128")
    buffer = memoryview(bytearray(8))
    with pytest.raises(FileChangedWhileHashing, match="stat said 5 bytes, reading gave 3"):
        hash_stream(io.BytesIO(b"abc"), 5, "small", algorithm, buffer)
    with pytest.raises(FileChangedWhileHashing, match="stat said 10 bytes, reading gave 20"):
        hash_stream(io.BytesIO(b"x" * 20), 10, "large", algorithm, buffer)
    assert xxhash.xxh3_128_digest(b"x" * 20) == hash_stream(
        io.BytesIO(b"x" * 20), 20, "large", algorithm, buffer
    )


@pytest.mark.parametrize(("delta", "small"), [(-1, True), (1, True), (-1, False), (1, False)])
def test_a_file_whose_size_changed_since_its_stat_is_an_error(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    delta: int,
    small: bool,  # noqa: FBT001
) -> None:
    """A file that grew or shrank after the walk saw it is never hashed as if it had not."""
    content = b"x" * (100 if small else (1 << 20) + 100)
    repo = FileTree({"f": content}).write(tmp_path)

    class Moved:
        """A walk entry whose stat is one byte off, as if the file changed after it."""

        def __init__(self, entry: WalkEntry) -> None:
            self.entry = entry
            self.path = entry.path
            fields = list(entry.stat)
            fields[6] += delta  # st_size
            self.stat = os.stat_result(fields)

        def open(self) -> BinaryIO:
            return self.entry.open()

    monkeypatch.setattr(_tree, "walk", lambda *a, **k: (Moved(e) for e in walk(*a, **k)))
    with pytest.raises(FileChangedWhileHashing) as info:
        checksum(repo)
    assert (len(content) + delta, len(content)) == (info.value.expected, info.value.actual)


def test_digest_is_the_same_across_processes_and_hash_seeds(tmp_path: Path) -> None:
    """No set or dict order leaks into the digest: two seeds, two processes, one digest."""
    repo = FileTree({f"d{i % 7}/f{i}.yaml": str(i).encode() for i in range(60)}, {"l": "d1"}).write(
        tmp_path
    )
    code = "import sys, syncsafe; print(syncsafe.checksum(sys.argv[1]).digest)"
    digests = set()
    for seed in ("0", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        result = subprocess.run(
            [sys.executable, "-c", code, str(repo)],
            capture_output=True,
            text=True,
            check=True,
            env=env,
        )
        digests.add(result.stdout.strip())
    assert {checksum(repo).digest} == digests


def _age(repo: Path) -> None:
    """Set every file's mtime an hour back (its ctime stays now)."""
    old = repo.stat().st_mtime_ns - HOUR
    for path in repo.rglob("*"):
        os.utime(path, ns=(old, old), follow_symlinks=False)


def test_a_warm_cache_reuses_digests_and_still_sees_edits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Unchanged files come from the cache; an edited file is hashed again."""
    repo = FileTree({f"f{i}": b"x" * i for i in range(5)}).write(tmp_path / "repo")
    _age(repo)
    later = _cache._now_ns() + HOUR  # the files are old news by the time the checksum runs
    monkeypatch.setattr(_cache, "_now_ns", lambda: later)
    cold = checksum(repo, cache=ChecksumCache(tmp_path / "cache"))
    warm_cache = ChecksumCache(tmp_path / "cache")
    assert cold == checksum(repo, cache=warm_cache)
    assert (5, 0) == (warm_cache.hits, warm_cache.misses)
    (repo / "f3").write_bytes(b"yyy")
    edited_cache = ChecksumCache(tmp_path / "cache")
    edited = checksum(repo, cache=edited_cache)
    assert Changes(modified=("f3",)) == cold.diff(edited)
    assert (4, 1) == (edited_cache.hits, edited_cache.misses)


def test_a_same_size_edit_in_the_same_mtime_tick_is_detected(tmp_path: Path) -> None:
    """The racy-git rule: a file as young as the run is never trusted from the cache."""
    repo = FileTree({"config.yaml": b"replicas: 3"}).write(tmp_path / "repo")
    tick = (repo / "config.yaml").stat().st_mtime_ns
    first = checksum(repo, cache=ChecksumCache(tmp_path / "cache"))
    (repo / "config.yaml").write_bytes(b"replicas: 6")  # same size
    os.utime(repo / "config.yaml", ns=(tick, tick))  # same mtime, as within one tick
    second = checksum(repo, cache=ChecksumCache(tmp_path / "cache"))
    assert Changes(modified=("config.yaml",)) == first.diff(second)


def _warm_cache(repo: Path, file: Path, monkeypatch: pytest.MonkeyPatch) -> Checksum:
    """Age *repo*'s files, move the clock an hour on, and fill a cache at *file*."""
    _age(repo)
    later = _cache._now_ns() + HOUR
    monkeypatch.setattr(_cache, "_now_ns", lambda: later)
    return checksum(repo, cache=ChecksumCache(file))


def _before(name: str, act: Callable[[], object], monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the checksum's walk call *act* after listing, just before it hands out *name*."""

    def walk_then_act(*args: Any, **kwargs: Any) -> Iterator[WalkEntry]:  # noqa: ANN401
        for entry in walk(*args, **kwargs):
            if entry.path == name:
                act()
            yield entry

    monkeypatch.setattr(_tree, "walk", walk_then_act)


@pytest.mark.parametrize("kind", ["symlink", "fifo"])
def test_a_cached_name_that_became_a_link_or_a_fifo_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    """A warm cache looks names up by lstat: a link or FIFO in a file's place misses, refused."""
    repo = FileTree({"a": b"a" * 10, "b": b"b" * 10}).write(tmp_path / "repo")
    _warm_cache(repo, tmp_path / "cache", monkeypatch)

    def swap() -> None:
        (repo / "b").unlink()
        if kind == "symlink":
            (repo / "b").symlink_to("a")
        else:
            os.mkfifo(repo / "b")

    _before("b", swap, monkeypatch)
    cache = ChecksumCache(tmp_path / "cache")
    with pytest.raises(UnsafePathError, match="changed since it was listed"):  # opened: a miss
        checksum(repo, cache=cache)


def test_a_cached_name_given_another_file_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file renamed over a listed name is a miss (the rename moved its ctime), then refused."""
    repo = FileTree({"a": b"a" * 10, "b": b"b" * 10}).write(tmp_path / "repo")
    (tmp_path / "spare").hardlink_to(repo / "a")  # the same inode as a: a cached key
    _warm_cache(repo, tmp_path / "cache", monkeypatch)
    _before("b", lambda: (tmp_path / "spare").replace(repo / "b"), monkeypatch)
    cache = ChecksumCache(tmp_path / "cache")
    with pytest.raises(UnsafePathError, match="replaced since it was listed"):  # opened: a miss
        checksum(repo, cache=cache)


def test_a_cache_serves_entries_that_are_not_the_walkers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An entry offering only path, stat and open() is looked up by its stat, and hits."""
    repo = FileTree({f"f{i}": bytes([i]) * i for i in range(4)}).write(tmp_path / "repo")
    cold = _warm_cache(repo, tmp_path / "cache", monkeypatch)

    class Plain:
        def __init__(self, entry: WalkEntry) -> None:
            self.path = entry.path
            self.stat = entry.stat
            self.open = entry.open

    monkeypatch.setattr(_tree, "walk", lambda *a, **k: (Plain(e) for e in walk(*a, **k)))
    cache = ChecksumCache(tmp_path / "cache")
    assert cold == checksum(repo, cache=cache)
    assert (4, 0) == (cache.hits, cache.misses)
