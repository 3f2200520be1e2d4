from __future__ import annotations

import os
from pathlib import Path

import pytest

from syncsafe import _fs
from syncsafe.errors import (
    AbsoluteSymlinkError,
    PathEscapeError,
    SpecialFileError,
    SymlinkLoopError,
    UnsafePathError,
)
from syncsafe.paths import open_inside, resolve


@pytest.fixture(params=["portable", "openat2"])
def mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test on the portable path alone, and again with the openat2 fast path."""
    if request.param == "openat2" and not _fs.openat2_available:
        pytest.skip("openat2 is not available here")
    monkeypatch.setattr(_fs, "openat2_available", request.param == "openat2")
    return str(request.param)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A checkout at tmp/repo with links of every kind, and content beside it."""
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.yaml").write_text("SECRET")
    (tmp_path / "repo-evil").mkdir()
    (tmp_path / "repo-evil" / "secret.yaml").write_text("SECRET")
    root = tmp_path / "repo"
    (root / "base").mkdir(parents=True)
    (root / "base" / "deployment.yaml").write_text("deployment")
    (root / "overlays" / "prod").mkdir(parents=True)
    (root / "overlays" / "prod" / "base").symlink_to("../../base")
    (root / "overlays" / "prod" / "escape").symlink_to("../../../outside")
    (root / "overlays" / "prod" / "up").symlink_to("..")
    (root / "overlays" / "prod" / "chain.yaml").symlink_to("up/../../outside/secret.yaml")
    (root / "overlays" / "prod" / "sneaky.yaml").symlink_to("up/../base/deployment.yaml")
    (root / "sibling.yaml").symlink_to("../repo-evil/secret.yaml")
    (root / "back.yaml").symlink_to("../repo/base/deployment.yaml")
    (root / "abs.yaml").symlink_to(root / "base" / "deployment.yaml")
    (root / "loop-a").symlink_to("loop-b")
    (root / "loop-b").symlink_to("loop-a")
    (root / "file-link.yaml").symlink_to("base/deployment.yaml")
    (root / "gone.yaml").symlink_to("nowhere.yaml")
    os.mkfifo(root / "pipe")
    return root


def test_resolve_plain_and_through_links(tree: Path) -> None:
    """Plain paths and inbound links resolve to the physical location."""
    real = tree.resolve()
    assert real / "base" / "deployment.yaml" == resolve(tree, "base/deployment.yaml")
    assert real / "base" == resolve(tree, "overlays/prod/base")
    assert real / "base" / "deployment.yaml" == resolve(tree, "overlays/prod/base/deployment.yaml")
    assert real / "base" / "deployment.yaml" == resolve(tree, "file-link.yaml")
    assert real == resolve(tree, ".")
    assert real == resolve(tree, "")


def test_a_link_resolves_before_dotdot(tree: Path) -> None:
    """'a/link/../x' goes through the link's target before '..' applies, as the kernel does."""
    # base -> ../../base, so base/.. is the root, not overlays/prod.
    real = tree.resolve()
    assert real / "kustomization.yaml" == resolve(
        tree, "overlays/prod/base/../kustomization.yaml", strict=False
    )
    assert real / "base" / "deployment.yaml" == resolve(tree, "overlays/prod/sneaky.yaml")


def test_dotdot_that_stays_inside_is_fine(tree: Path) -> None:
    """'..' that stays below the root is resolved, not rejected."""
    assert tree.resolve() / "base" == resolve(tree, "overlays/../base")


@pytest.mark.parametrize(
    ("path", "link", "target"),
    [
        ("..", "..", None),
        ("base/../..", "base/../..", None),
        ("overlays/prod/escape", "overlays/prod/escape", "../../../outside"),
        ("overlays/prod/escape/secret.yaml", "overlays/prod/escape", "../../../outside"),
        ("overlays/prod/chain.yaml", "overlays/prod/chain.yaml", "up/../../outside/secret.yaml"),
        ("sibling.yaml", "sibling.yaml", "../repo-evil/secret.yaml"),
        ("back.yaml", "back.yaml", "../repo/base/deployment.yaml"),
    ],
)
def test_escapes_name_the_link_and_target(
    tree: Path, path: str, link: str, target: str | None
) -> None:
    """Any step above the root is an escape, even one coming back in; the error names the link."""
    with pytest.raises(PathEscapeError) as info:
        resolve(tree, path)
    assert (link, target) == (info.value.path, info.value.target)


def test_absolute_links_are_rejected_by_default(tree: Path) -> None:
    """An absolute link is an AbsoluteSymlinkError even when it points inside."""
    with pytest.raises(AbsoluteSymlinkError) as info:
        resolve(tree, "abs.yaml")
    assert "abs.yaml" == info.value.path
    assert str(tree / "base" / "deployment.yaml") == info.value.target


def test_absolute_links_inside_may_be_allowed(tree: Path) -> None:
    """With allow_absolute, a target below the real root is followed; outside is an escape."""
    expected = tree.resolve() / "base" / "deployment.yaml"
    assert expected == resolve(tree, "abs.yaml", allow_absolute=True)
    (tree / "abs-out").symlink_to(tree.parent / "outside")
    with pytest.raises(PathEscapeError):
        resolve(tree, "abs-out", allow_absolute=True)
    (tree / "abs-dotdot").symlink_to(f"{tree}/../outside")
    with pytest.raises(PathEscapeError):
        resolve(tree, "abs-dotdot", allow_absolute=True)


def test_absolute_path_argument(tree: Path) -> None:
    """An absolute path argument is refused, or with allow_absolute accepted only below the root."""
    with pytest.raises(UnsafePathError, match="is absolute"):
        resolve(tree, tree / "base")
    assert tree.resolve() / "base" == resolve(tree, tree / "base", allow_absolute=True)
    assert tree.resolve() == resolve(tree, tree, allow_absolute=True)
    with pytest.raises(PathEscapeError):
        resolve(tree, tree.parent / "outside", allow_absolute=True)


def test_loops_stop_after_40_hops(tree: Path) -> None:
    """A -> b -> a raises SymlinkLoopError instead of hanging."""
    with pytest.raises(SymlinkLoopError) as info:
        resolve(tree, "loop-a")
    assert info.value.ancestor is None
    assert "more than 40" in str(info.value)


def test_a_chain_of_40_links_resolves_and_41_does_not(tmp_path: Path) -> None:
    """The hop limit is Linux's: 40 links are followed, the 41st is a loop."""
    (tmp_path / "end.yaml").write_text("end")
    (tmp_path / "l40").symlink_to("end.yaml")
    for i in range(39, 0, -1):
        (tmp_path / f"l{i}").symlink_to(f"l{i + 1}")
    assert tmp_path.resolve() / "end.yaml" == resolve(tmp_path, "l1")
    (tmp_path / "l0").symlink_to("l1")
    with pytest.raises(SymlinkLoopError):
        resolve(tmp_path, "l0")


def test_missing_components(tree: Path) -> None:
    """Strict: FileNotFoundError; non-strict: the rest is lexical, still confined."""
    with pytest.raises(FileNotFoundError):
        resolve(tree, "nope/x.yaml")
    with pytest.raises(FileNotFoundError):
        resolve(tree, "gone.yaml")
    real = tree.resolve()
    assert real / "nope" / "x.yaml" == resolve(tree, "nope/x.yaml", strict=False)
    assert real / "nowhere.yaml" == resolve(tree, "gone.yaml", strict=False)
    assert real / "base" == resolve(tree, "nope/../base", strict=False)
    with pytest.raises(PathEscapeError):
        resolve(tree, "nope/../../x", strict=False)


def test_a_file_is_not_a_directory(tree: Path) -> None:
    """'file/x' is NotADirectoryError when strict and lexical otherwise."""
    with pytest.raises(NotADirectoryError):
        resolve(tree, "base/deployment.yaml/x")
    expected = tree.resolve() / "base" / "deployment.yaml" / "x"
    assert expected == resolve(tree, "base/deployment.yaml/x", strict=False)


def test_a_symlinked_root_is_resolved_once(tree: Path) -> None:
    """The root may itself be a symlink; results are below its real path."""
    link = tree.parent / "checkout"
    link.symlink_to("repo")
    assert tree.resolve() / "base" == resolve(link, "base")
    with open_inside(link, "base/deployment.yaml") as f:
        assert b"deployment" == f.read()


@pytest.mark.usefixtures("mode")
def test_open_inside_reads_inbound_files(tree: Path) -> None:
    """open_inside reads plain files and files behind inbound links, in binary mode."""
    for path in ("base/deployment.yaml", "overlays/prod/base/deployment.yaml", "file-link.yaml"):
        with open_inside(tree, path) as f:
            assert b"deployment" == f.read()


@pytest.mark.usefixtures("mode")
@pytest.mark.parametrize(
    ("path", "error"),
    [
        ("overlays/prod/escape/secret.yaml", PathEscapeError),
        ("overlays/prod/chain.yaml", PathEscapeError),
        ("sibling.yaml", PathEscapeError),
        ("back.yaml", PathEscapeError),
        ("../outside/secret.yaml", PathEscapeError),
        ("abs.yaml", AbsoluteSymlinkError),
        ("loop-a", SymlinkLoopError),
        ("pipe", SpecialFileError),
        ("base", IsADirectoryError),
        ("overlays/prod/up", IsADirectoryError),
        ("gone.yaml", FileNotFoundError),
        ("nope.yaml", FileNotFoundError),
        ("base/deployment.yaml/x", NotADirectoryError),
    ],
)
def test_open_inside_refuses(tree: Path, path: str, error: type[Exception]) -> None:
    """Every unsafe or unreadable path raises its own error, and nothing outside is read."""
    with pytest.raises(error):
        open_inside(tree, path)


@pytest.mark.usefixtures("mode")
def test_open_inside_never_opens_a_fifo(tree: Path) -> None:
    """A FIFO is refused without blocking, directly or through a link."""
    (tree / "to-pipe").symlink_to("pipe")
    with pytest.raises(SpecialFileError, match="FIFO"):
        open_inside(tree, "to-pipe")


def test_open_inside_absolute_path_argument(tree: Path) -> None:
    """An absolute path below the root may be opened with allow_absolute."""
    with open_inside(tree, tree / "base" / "deployment.yaml", allow_absolute=True) as f:
        assert b"deployment" == f.read()


def test_openat2_refuses_what_the_portable_path_refuses(tree: Path) -> None:
    """The kernel's RESOLVE_BENEATH rejects escapes, even out-and-back, and absolute links."""
    if not _fs.openat2_available:
        pytest.skip("openat2 is not available here")
    flags = os.O_RDONLY | os.O_CLOEXEC
    with _fs.Root(tree) as root:
        for path in ("overlays/prod/chain.yaml", "back.yaml", "abs.yaml", "../repo/base"):
            assert _fs.openat2_beneath(root.node.fd, path, flags) is None
        fd = _fs.openat2_beneath(root.node.fd, "overlays/prod/base/deployment.yaml", flags)
        assert fd is not None
        try:
            assert b"deployment" == os.read(fd, 100)
        finally:
            os.close(fd)


def test_the_fast_path_falls_back_for_links_and_gaps(
    tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When openat2 fails, or the last component is not a plain file, the portable path decides."""
    if not _fs.openat2_available:
        pytest.skip("openat2 is not available here")
    monkeypatch.setattr(_fs, "openat2_beneath", lambda *_: None)
    with open_inside(tree, "base/deployment.yaml") as f:
        assert b"deployment" == f.read()


def test_only_regular_files_pass_the_final_fstat(tmp_path: Path) -> None:
    """After opening, fstat must say regular file: a directory or FIFO is closed and refused."""
    _checked = _fs.checked_file  # the check open_inside's fast path applies too

    os.mkfifo(tmp_path / "pipe")
    dir_fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    with pytest.raises(IsADirectoryError):
        _checked(dir_fd, "d")
    fifo_fd = os.open(tmp_path / "pipe", os.O_RDONLY | os.O_NONBLOCK)
    with pytest.raises(SpecialFileError, match="FIFO"):
        _checked(fifo_fd, "pipe")
    for fd in (dir_fd, fifo_fd):  # both were closed by _checked
        with pytest.raises(OSError, match="Bad file descriptor"):
            os.fstat(fd)


def test_a_file_swapped_for_a_link_between_lstat_and_open(
    tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If the final open meets a symlink (ELOOP) the portable path refuses; other errors pass."""
    monkeypatch.setattr(_fs, "openat2_available", False)
    real_open = os.open

    def fail_with(code: int) -> None:
        def fake(path: str, flags: int, mode: int = 0o777, *, dir_fd: int | None = None) -> int:
            if path == "deployment.yaml":
                raise OSError(code, os.strerror(code))
            return real_open(path, flags, mode, dir_fd=dir_fd)

        monkeypatch.setattr("syncsafe.paths.os.open", fake)

    fail_with(40)  # ELOOP
    with pytest.raises(UnsafePathError, match="changed while being opened"):
        open_inside(tree, "base/deployment.yaml")
    fail_with(13)  # EACCES
    with pytest.raises(PermissionError):
        open_inside(tree, "base/deployment.yaml")


def test_the_fast_path_hands_a_failed_open_to_the_portable_path(
    tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A final open that fails on the openat2 path is retried, and decided, portably."""
    if not _fs.openat2_available:
        pytest.skip("openat2 is not available here")
    real_open = os.open
    calls: list[str] = []

    def flaky(path: str, flags: int, mode: int = 0o777, *, dir_fd: int | None = None) -> int:
        calls.append(path)
        if path == "deployment.yaml" and calls.count(path) == 1:
            raise OSError(40, "Too many levels of symbolic links")
        return real_open(path, flags, mode, dir_fd=dir_fd)

    monkeypatch.setattr("syncsafe.paths.os.open", flaky)
    with open_inside(tree, "base/deployment.yaml") as f:
        assert b"deployment" == f.read()
    assert ["deployment.yaml", "base", "deployment.yaml", "deployment.yaml"] == calls[1:]


def test_name_inside_takes_a_deleted_file_by_its_directory(tmp_path: Path) -> None:
    """A changed path that no longer exists is named by its directory's real place."""
    repo = tmp_path / "repo"
    (repo / "real").mkdir(parents=True)
    (repo / "link").symlink_to("real")
    assert "real/gone.yaml" == _fs.name_inside(str(repo), str(repo / "link" / "gone.yaml"))
    assert "." == _fs.name_inside(str(repo), str(repo))


def test_name_inside_refuses_a_path_whose_directory_is_outside(tmp_path: Path) -> None:
    """A path whose directory resolves outside the repository is a PathEscapeError naming it."""
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "out").symlink_to(tmp_path)
    given = str(repo / "out" / "x.yaml")
    with pytest.raises(PathEscapeError) as caught:
        _fs.name_inside(str(repo), given)
    assert (given, str(tmp_path / "x.yaml")) == (caught.value.path, caught.value.target)
