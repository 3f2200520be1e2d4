from __future__ import annotations

import contextlib
import importlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pathspec
import pytest

from _files import open_fds, write_files
from syncsafe.errors import (
    AbsoluteSymlinkError,
    DanglingSymlinkError,
    PathEscapeError,
    SpecialFileError,
    StaleEntryError,
    SymlinkLoopError,
    UnsafePathError,
)
from syncsafe.walker import Finding, WalkEntry, scan, walk

walk_module = importlib.import_module("syncsafe.walker")
engine_module = importlib.import_module("syncsafe.walker._engine")


def _paths(root: Path, **options: object) -> list[str]:
    return [e.path for e in walk(root, **options)]  # type: ignore[arg-type]


def test_order_is_git_tree_order(tmp_path: Path) -> None:
    """Paths come in ascending byte order: a directory sorts as if its name ended in '/'."""
    write_files(
        tmp_path, dict.fromkeys(["a.b", "a/x", "a-b", "a0", "b", "B", "a/y/z", "a/y.z"], ".")
    )
    paths = _paths(tmp_path)
    assert ["B", "a-b", "a.b", "a/x", "a/y.z", "a/y/z", "a0", "b"] == paths
    assert sorted(paths, key=os.fsencode) == paths


def test_entries_carry_real_size_mode_stat(tmp_path: Path) -> None:
    """Each entry has the physical path, size, mode and stat of its file."""
    write_files(tmp_path, {"d/f.yaml": "hello"})
    (entry,) = list(walk(tmp_path))
    assert "d/f.yaml" == entry.path
    assert tmp_path.resolve() / "d" / "f.yaml" == entry.real
    assert 5 == entry.size
    assert stat.S_ISREG(entry.mode)
    st = (tmp_path / "d" / "f.yaml").stat()
    assert (st.st_dev, st.st_ino, st.st_mtime_ns) == (
        entry.stat.st_dev,
        entry.stat.st_ino,
        entry.stat.st_mtime_ns,
    )
    assert "d/f.yaml" in repr(entry)


def test_symlinked_directories_are_walked_under_the_links_name(tmp_path: Path) -> None:
    """Through a symlinked base the files appear under the link's path, with their real location."""
    write_files(tmp_path, {"base/deployment.yaml": "d", "overlays/prod/kustomization.yaml": "k"})
    (tmp_path / "overlays" / "prod" / "base").symlink_to("../../base")
    (tmp_path / "alias.yaml").symlink_to("base/deployment.yaml")
    entries = {e.path: e for e in walk(tmp_path)}
    assert [
        "alias.yaml",
        "base/deployment.yaml",
        "overlays/prod/base/deployment.yaml",
        "overlays/prod/kustomization.yaml",
    ] == list(entries)
    real = tmp_path.resolve() / "base" / "deployment.yaml"
    assert real == entries["overlays/prod/base/deployment.yaml"].real
    assert real == entries["alias.yaml"].real
    assert 1 == entries["alias.yaml"].size


def test_every_entry_opens_to_its_own_content(tmp_path: Path) -> None:
    """open() reads the file the entry names, plain or through a link."""
    write_files(tmp_path, {"a/x": "ax", "b/y": "by"})
    (tmp_path / "c").symlink_to("a")
    (tmp_path / "z").symlink_to("b/y")
    seen = {}
    for entry in walk(tmp_path):
        with entry.open() as f:
            seen[entry.path] = f.read()
    assert {"a/x": b"ax", "b/y": b"by", "c/x": b"ax", "z": b"by"} == seen


@pytest.mark.parametrize(
    ("link", "target", "error"),
    [
        ("overlays/escape", "../../outside", PathEscapeError),
        ("overlays/escape.yaml", "../../outside/secret.yaml", PathEscapeError),
        ("back.yaml", "../repo/f.yaml", PathEscapeError),
        ("abs.yaml", "/etc/passwd", AbsoluteSymlinkError),
        ("overlays/up", "..", SymlinkLoopError),
        ("self", ".", SymlinkLoopError),
        ("gone.yaml", "nothing.yaml", DanglingSymlinkError),
    ],
)
def test_unsafe_links_raise(tmp_path: Path, link: str, target: str, error: type[Exception]) -> None:
    """Escapes, absolute links, loops and dangling links raise, naming the link and target."""
    root = tmp_path / "repo"
    write_files(root, {"f.yaml": "f", "overlays/k.yaml": "k"})
    write_files(tmp_path, {"outside/secret.yaml": "SECRET"})
    (root / link).symlink_to(target)
    with pytest.raises(error) as info:
        list(walk(root))
    assert link == info.value.path  # type: ignore[attr-defined]
    assert target == info.value.target  # type: ignore[attr-defined]


def test_a_pair_of_directory_links_is_a_loop(tmp_path: Path) -> None:
    """ring/one -> ../ring2 and ring2/two -> ../ring: the walk stops with SymlinkLoopError."""
    (tmp_path / "ring").mkdir()
    (tmp_path / "ring2").mkdir()
    (tmp_path / "ring" / "one").symlink_to("../ring2")
    (tmp_path / "ring2" / "two").symlink_to("../ring")
    with pytest.raises(SymlinkLoopError) as info:
        list(walk(tmp_path))
    assert "ring" == info.value.ancestor


def test_dangling_links_may_be_skipped(tmp_path: Path) -> None:
    """dangling='skip' leaves a dangling link out; the default is to raise."""
    write_files(tmp_path, {"f": "f"})
    (tmp_path / "gone").symlink_to("nothing")
    with pytest.raises(DanglingSymlinkError):
        list(walk(tmp_path))
    assert ["f"] == _paths(tmp_path, dangling="skip")


def test_special_files_are_skipped_or_raised_never_opened(tmp_path: Path) -> None:
    """A FIFO (or a link to one) is skipped by default and raises with specials='error'."""
    write_files(tmp_path, {"f": "f"})
    os.mkfifo(tmp_path / "pipe")
    (tmp_path / "to-pipe").symlink_to("pipe")
    assert ["f"] == _paths(tmp_path)
    with pytest.raises(SpecialFileError, match="pipe: is a FIFO"):
        list(walk(tmp_path, specials="error"))
    (tmp_path / "pipe").unlink()
    os.mkfifo(tmp_path / "pipe2")
    (tmp_path / "to-pipe").unlink()
    (tmp_path / "to-pipe").symlink_to("pipe2")
    with pytest.raises(SpecialFileError, match="pipe2: is a FIFO"):
        list(walk(tmp_path, specials="error"))


def test_bad_options_are_rejected_at_once(tmp_path: Path) -> None:
    """Unknown policies and a single-string exclude are errors when walk() is called."""
    with pytest.raises(ValueError, match="specials must be 'skip' or 'error'"):
        walk(tmp_path, specials="ignore")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="dangling must be"):
        walk(tmp_path, dangling="follow")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="single string"):
        walk(tmp_path, exclude=".git/")


def test_exclude_prunes_directories_before_opening_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Gitignore patterns exclude files and prune directories, which are never opened."""
    write_files(tmp_path, {".git/HEAD": "h", ".git/objects/x": "o", "a/.git/y": "y", "k.yaml": "k"})
    write_files(tmp_path, {"build/out": "b", "keep.tmp": "t", "x.tmp": "t", "sub/build": "file"})
    opened: list[str] = []
    real_open = os.open

    def spy(path: str, flags: int, mode: int = 0o777, *, dir_fd: int | None = None) -> int:
        opened.append(path)
        return real_open(path, flags, mode, dir_fd=dir_fd)

    monkeypatch.setattr(walk_module.os, "open", spy)
    paths = _paths(tmp_path, exclude=[".git/", "*.tmp", "!keep.tmp", "build/"])
    assert ["k.yaml", "keep.tmp", "sub/build"] == paths
    assert ".git" not in opened
    spec = pathspec.GitIgnoreSpec.from_lines(["sub/"])
    assert "sub/build" not in _paths(tmp_path, exclude=spec)


def test_exclude_applies_to_links_as_reached(tmp_path: Path) -> None:
    """A link is excluded by its own path; a linked directory by its path with a slash."""
    write_files(tmp_path, {"base/d.yaml": "d"})
    (tmp_path / "vendor").symlink_to("base")
    (tmp_path / "evil").symlink_to("../outside")
    assert ["base/d.yaml"] == _paths(tmp_path, exclude=["vendor/", "evil"])


def test_non_utf8_names_sort_by_their_bytes(tmp_path: Path) -> None:
    """Undecodable names come through surrogateescape and sort by bytes, not code points."""
    names = [b"\xff", b"\xc3\xa9", b"z", b"\xef\xbf\xbd", b"\xf0\x9f\x98\x80"]
    for raw in names:
        (tmp_path / os.fsdecode(raw)).write_bytes(raw)
    contents = {}
    for entry in walk(tmp_path):
        with entry.open() as f:
            contents[os.fsencode(entry.path)] = f.read()
    assert sorted(names) == list(contents)
    assert all(name == content for name, content in contents.items())


def test_open_after_the_walk_moved_on_is_a_clear_error(tmp_path: Path) -> None:
    """An entry opened after its directory was left raises StaleEntryError, not a wrong read."""
    write_files(tmp_path, {"a/x": "x", "b/y": "y"})
    (tmp_path / "l").symlink_to("b/y")
    entries = list(walk(tmp_path))
    for entry in entries:
        with pytest.raises(StaleEntryError, match=entry.path):
            entry.open()
    assert 1 == entries[0].size  # the stat still works: by the physical path


def test_open_checks_the_file_is_the_one_listed(tmp_path: Path) -> None:
    """A file swapped after it was listed is refused: by identity, by type, or as a symlink."""
    write_files(tmp_path, {"a": "a", "b": "b", "c": "c"})
    it = walk(tmp_path, exclude=["*.new"])
    entry = next(it)
    _ = entry.stat
    (tmp_path / "a.new").write_text("new")  # a new inode while 'a' still holds its own
    (tmp_path / "a.new").rename(tmp_path / "a")
    with pytest.raises(UnsafePathError, match="replaced"):
        entry.open()
    entry = next(it)
    _ = entry.stat
    (tmp_path / "b").unlink()
    (tmp_path / "b").symlink_to("c")
    with pytest.raises(UnsafePathError, match="changed since it was listed"):
        entry.open()
    entry = next(it)
    (tmp_path / "c").unlink()
    os.mkfifo(tmp_path / "c")
    with pytest.raises(UnsafePathError, match="not a regular file"):
        entry.open()
    it.close()


def test_open_refuses_a_file_that_became_a_fifo_or_vanished(tmp_path: Path) -> None:
    """With the stat taken, a FIFO in the file's place is SpecialFileError; a gone file, ENOENT."""
    write_files(tmp_path, {"a": "a", "b": "b"})
    it = walk(tmp_path)
    entry = next(it)
    _ = entry.stat
    (tmp_path / "a").unlink()
    os.mkfifo(tmp_path / "a")
    with pytest.raises(SpecialFileError):
        entry.open()
    entry = next(it)
    _ = entry.stat
    (tmp_path / "b").unlink()
    with pytest.raises(FileNotFoundError):
        entry.open()
    it.close()


def test_an_entry_not_from_a_walk() -> None:
    """A hand-made WalkEntry has no directory to read from and says so."""
    entry = WalkEntry("x")
    with pytest.raises(ValueError, match=r"not produced by syncsafe\.walk"):
        entry.open()


def test_closing_the_walk_early_releases_every_descriptor(tmp_path: Path) -> None:
    """Stopping a walk early (close) leaves no directory descriptor open."""
    write_files(tmp_path, {f"d{i}/e{j}/f": "f" for i in range(3) for j in range(3)})
    before = open_fds()
    it = walk(tmp_path)
    next(it)
    assert open_fds() > before
    it.close()
    assert before == open_fds()


def _deep(root: Path, depth: int) -> None:
    """Make root/d/d/.../d (depth levels) by descriptors: the path is longer than PATH_MAX."""

    def write(dir_fd: int, name: str, text: str) -> None:
        fd = os.open(name, os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=dir_fd)
        try:
            os.write(fd, text.encode())
        finally:
            os.close(fd)

    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for level in range(depth):
            if level % 500 == 0:
                write(fd, f"f{level}", str(level))
            os.mkdir("d", dir_fd=fd)
            child = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = child
        write(fd, "leaf", "leaf")
    finally:
        os.close(fd)


def _remove_deep(root: Path) -> None:
    """Remove the chain bottom-up by descriptors, one at a time: no long path, no recursion."""
    top = root.stat().st_ino
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    while True:  # down to the deepest directory
        try:
            child = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        except FileNotFoundError:
            break
        os.close(fd)
        fd = child
    while True:  # then up, emptying each level and removing the one below
        for name in os.listdir(fd):  # noqa: PTH208 - a descriptor, not a path
            os.unlink(name, dir_fd=fd)
        if os.fstat(fd).st_ino == top:
            os.close(fd)
            return
        parent = os.open("..", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        os.close(fd)
        os.rmdir("d", dir_fd=parent)
        fd = parent


@pytest.fixture(scope="module")
def deep_tree(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A chain of 2,100 directories: its deepest path is longer than PATH_MAX (4096)."""
    root = tmp_path_factory.mktemp("deep")
    _deep(root, 2_100)
    yield root
    _remove_deep(root)


@pytest.mark.timeout(60)
def test_a_tree_deeper_than_path_max_walks_with_bounded_descriptors(deep_tree: Path) -> None:
    """2,100 levels: every file is reached and read, with at most ~130 descriptors open."""
    before = open_fds()
    seen: dict[str, bytes] = {}
    most = 0
    for entry in walk(deep_tree):
        most = max(most, open_fds() - before)
        with entry.open() as f:
            seen[entry.path.rsplit("/", 1)[-1]] = f.read()
    leaf = next(p for p in seen if p == "leaf")
    assert b"leaf" == seen[leaf]
    assert {"f0": b"0", "f500": b"500", "f1000": b"1000", "f1500": b"1500", "f2000": b"2000"} == {
        k: v for k, v in seen.items() if k != "leaf"
    }
    assert most <= engine_module._WINDOW + 4
    assert before == open_fds()


@pytest.mark.timeout(60)
def test_a_deep_tree_reopens_checked_directories(deep_tree: Path) -> None:
    """Going back up past the descriptor window reopens each directory and finds every file."""
    paths = [e.path for e in walk(deep_tree)]
    assert 6 == len(paths)
    assert sorted(paths, key=os.fsencode) == paths
    assert max(len(p) for p in paths) > 4096


def test_a_directory_replaced_during_a_deep_walk_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When a directory reopened on the way back up is not the one left, the walk stops."""
    monkeypatch.setattr(engine_module, "_WINDOW", 2)
    write_files(tmp_path, {"a/b/c/d/e/f": "f", "a/z": "z"})
    it = walk(tmp_path)
    assert "a/b/c/d/e/f" == next(it).path
    (tmp_path / "a").rename(tmp_path / "old")
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "z").write_text("other")
    with pytest.raises(UnsafePathError, match="changed while in use"):
        next(it)


def test_scan_reports_every_unsafe_entry(tmp_path: Path) -> None:
    """Scan lists escapes, absolute links, loops, dangling links and specials without raising."""
    root = tmp_path / "repo"
    write_files(root, {"base/d.yaml": "d"})
    write_files(tmp_path, {"outside/secret.yaml": "SECRET"})
    (root / "esc").symlink_to("../outside")
    (root / "abs").symlink_to("/etc")
    (root / "up").symlink_to(".")
    (root / "gone").symlink_to("nothing")
    (root / "base" / "vendor").symlink_to("../../outside")
    (root / "alias").symlink_to("base")
    os.mkfifo(root / "pipe")
    findings = scan(root)
    assert [
        ("abs", "absolute-symlink", "/etc"),
        ("alias/vendor", "escape", "../../outside"),
        ("base/vendor", "escape", "../../outside"),
        ("esc", "escape", "../outside"),
        ("gone", "dangling-symlink", "nothing"),
        ("pipe", "special-file", None),
        ("up", "symlink-loop", "."),
    ] == [(f.path, f.rule, f.target) for f in findings]
    assert all(f.message for f in findings)
    assert [] == scan(root, exclude=["abs", "esc", "gone", "pipe", "up", "vendor"])


def test_scan_of_a_clean_tree_is_empty(tmp_path: Path) -> None:
    """A tree with only inbound links has no findings."""
    write_files(tmp_path, {"base/d.yaml": "d"})
    (tmp_path / "b").symlink_to("base")
    assert [] == scan(tmp_path)


def test_scan_reports_unreadable_directories(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A directory that cannot be listed is a finding, not a crash."""
    write_files(tmp_path, {"locked/x": "x", "ok": "ok"})
    real_scandir = os.scandir

    def scandir(fd: int) -> contextlib.AbstractContextManager[Iterator[os.DirEntry[str]]]:
        if Path(f"/proc/self/fd/{fd}").readlink().name == "locked":
            raise PermissionError(13, "Permission denied")
        return real_scandir(fd)

    monkeypatch.setattr(walk_module.os, "scandir", scandir)
    (finding,) = scan(tmp_path)
    assert Finding("locked", "unreadable-directory", None, finding.message) == finding
    with pytest.raises(PermissionError):
        list(walk(tmp_path))


def test_scan_of_a_missing_root_raises(tmp_path: Path) -> None:
    """Only the root itself failing to open is an error."""
    with pytest.raises(FileNotFoundError):
        scan(tmp_path / "nope")
