from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from syncsafe._path_model import Model, ModelError
from syncsafe.buggy import paths as buggy
from syncsafe.errors import (
    AbsoluteSymlinkError,
    DanglingSymlinkError,
    PathEscapeError,
    SymlinkLoopError,
    UnsafePathError,
)
from syncsafe.paths import resolve
from syncsafe.strategies import file_trees, symlink_trees
from syncsafe.testing import TreeSpec, build_tree
from syncsafe.walker import walk

pytestmark = pytest.mark.property

# Building a tree on disk costs milliseconds: fewer examples than the profile's 100.
TREES = settings(max_examples=60)

_PARTS = st.sampled_from(["a", "b", "c", "..", ".", "", "f", "l", "m", "n.yaml", "zz"])
paths = st.lists(_PARTS, min_size=1, max_size=5).map("/".join)


@contextmanager
def built(spec: TreeSpec) -> Iterator[Path]:
    """Build *spec* in a fresh temporary directory (hypothesis reuses no fixture)."""
    with tempfile.TemporaryDirectory() as base:
        yield build_tree(spec, Path(base))


def _tag(exc: BaseException) -> str:
    tags: list[tuple[type[BaseException], str]] = [
        (PathEscapeError, "escape"),
        (AbsoluteSymlinkError, "absolute"),
        (SymlinkLoopError, "loop"),
        (DanglingSymlinkError, "dangling"),
        (FileNotFoundError, "missing"),
        (NotADirectoryError, "notdir"),
        (UnsafePathError, "absolute"),  # an absolute path argument
    ]
    return next(tag for kind, tag in tags if isinstance(exc, kind))


def _resolve(root: Path, path: str, *, strict: bool) -> object:
    try:
        return resolve(root, path, strict=strict)
    except (UnsafePathError, OSError) as exc:
        return _tag(exc)


def _expected(spec: TreeSpec, root: Path, path: str, *, strict: bool) -> object:
    try:
        names = Model(spec).resolve(path, strict=strict).names
    except ModelError as exc:
        return exc.tag
    return root.resolve().joinpath(*names)


def _walked(root: Path) -> tuple[list[tuple[str, Path]], str | None]:
    out: list[tuple[str, Path]] = []
    try:
        out.extend((entry.path, entry.real) for entry in walk(root))
    except (UnsafePathError, OSError) as exc:
        return out, _tag(exc)
    return out, None


def _model_walk(spec: TreeSpec, root: Path) -> tuple[list[tuple[str, Path]], str | None]:
    model = Model(spec)
    real = root.resolve()
    try:
        return [(p, real.joinpath(*names)) for p, names in model.walk()], None
    except ModelError as exc:
        # the entries before the problem, as the model reaches them
        partial: list[tuple[str, Path]] = []
        return partial, exc.tag


@TREES
@given(symlink_trees(), st.lists(paths, min_size=1, max_size=4), st.booleans())
def test_resolve_agrees_with_the_model(
    spec: TreeSpec,
    probes: list[str],
    strict: bool,  # noqa: FBT001 - drawn by hypothesis
) -> None:
    """On random trees of files, dirs and links, resolve gives what the POSIX model gives."""
    with built(spec) as root:
        for path in probes:
            assert _expected(spec, root, path, strict=strict) == _resolve(root, path, strict=strict)


@TREES
@given(symlink_trees())
def test_walk_agrees_with_the_model(spec: TreeSpec) -> None:
    """Walk yields the model's entries, in its order, or stops with the model's first problem."""
    with built(spec) as root:
        walked, problem = _walked(root)
        expected, expected_problem = _model_walk(spec, root)
        assert expected_problem == problem
        if problem is None:
            assert expected == walked


@TREES
@given(file_trees())
def test_walk_of_plain_files_yields_every_file_sorted_by_bytes(spec: TreeSpec) -> None:
    """Without links, walk yields exactly the files, in byte order, odd names included."""
    with built(spec) as root:
        paths = [e.path for e in walk(root)]
    expected = sorted(
        (e.path for e in spec.entries if e.__class__.__name__ == "File"), key=os.fsencode
    )
    assert expected == paths


@TREES
@given(symlink_trees(escaping=True))
def test_a_tree_with_an_escaping_link_is_always_rejected(spec: TreeSpec) -> None:
    """A tree holding a link that leaves the root never walks to completion."""
    with built(spec) as root, pytest.raises(UnsafePathError):
        for _ in walk(root):
            pass


@TREES
@given(symlink_trees(escaping=False))
def test_a_tree_without_escapes_never_raises_an_escape(spec: TreeSpec) -> None:
    """When no link leaves the root, whatever the walk says, it is not an escape."""
    with built(spec) as root:
        _, problem = _walked(root)
    assert problem != "escape"


def _model_accepts(spec: TreeSpec) -> bool:
    try:
        Model(spec).walk()
    except ModelError:
        return False
    return True


def _buggy_property(build: Callable[[Path], bytes]) -> Callable[[], None]:
    @settings(max_examples=200)
    @given(symlink_trees())
    def accepts_exactly_the_safe_trees(spec: TreeSpec) -> None:
        with built(spec) as root:
            try:
                build(root)
                accepted = True
            except buggy.BuildFailed:
                accepted = False
        assert _model_accepts(spec) == accepted

    return accepts_exactly_the_safe_trees


def test_the_walk_accepts_exactly_the_safe_trees() -> None:
    """The acceptance property the buggy builds fail holds for walk."""

    def accepted(root: Path) -> bytes:
        try:
            for _ in walk(root):
                pass
        except (UnsafePathError, OSError) as exc:
            raise buggy.BuildFailed(str(exc)) from exc
        return b""

    _buggy_property(accepted)()


def test_hypothesis_finds_a_tree_the_incident_build_gets_wrong() -> None:
    """Build() (rejects only '..' in a link's text) is falsified: absolute links, loops, 'a..b'."""
    with pytest.raises(AssertionError):
        _buggy_property(buggy.build)()


def test_hypothesis_finds_a_tree_the_incident_fixed_build_gets_wrong() -> None:
    """FixedBuild() (one lexical hop, string prefix) is falsified too."""
    with pytest.raises(AssertionError):
        _buggy_property(buggy.fixed_build)()


def _resolve_absolute(root: Path, path: str) -> object:
    try:
        return resolve(root, path, allow_absolute=True)
    except (UnsafePathError, OSError) as exc:
        return _tag(exc)


@TREES
@given(
    symlink_trees(),
    st.lists(paths, min_size=1, max_size=4),
    st.sampled_from(["real", "alias"]),
    st.sampled_from(["none", "within the root's stretch", "after it"]),
)
def test_an_absolute_argument_and_an_absolute_link_are_judged_alike(
    spec: TreeSpec, probes: list[str], spelling: str, detour: str
) -> None:
    """An absolute path is in or out by one rule, as the argument or as a link's target."""
    with built(spec) as tree:
        alias = tree.parent / "alias"
        alias.symlink_to(tree)
        root = tree if spelling == "real" else alias
        for i, probe in enumerate(probes):
            # A '..' in the stretch compared with the root, or one that leaves
            # it after: both out, though both come back to the same place.
            base = {
                "none": f"{root}",
                "within the root's stretch": f"{root.parent}/x/../{root.name}",
                "after it": f"{root}/../{root.name}",
            }[detour]
            target = f"{base}/{probe}"
            link = tree / f"zz-absolute-{i}"  # a name no probe can reach
            link.symlink_to(target)
            via_argument = _resolve_absolute(root, target)
            via_link = _resolve_absolute(root, link.name)
            assert via_argument == via_link
            if detour != "none":
                assert "escape" == via_link
