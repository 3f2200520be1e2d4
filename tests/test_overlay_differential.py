"""
The overlay checksum against a real kustomize: every file whose edit changes a build is hashed.

For a generated repository, each file in turn is edited (its token ``v0``
made ``v1``) and then deleted; every overlay is built again with the real
kustomize (:class:`syncsafe.testing.Kustomize`). Where a build's output (or
its error) changes, the file must be in that overlay's
``overlay_checksum(...).files`` and the digest must change. No tracing is
needed: a file whose edit changes the output was read.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import Phase, given, settings

from _buildable import TOKEN, BuildableRepo, buildable_repos, write_helm
from syncsafe import overlay_checksum
from syncsafe.buggy import checksum as buggy
from syncsafe.errors import KustomizeBuildFailed, SyncsafeError
from syncsafe.testing import Kustomize

# Each example builds every overlay up to twice (an edit, a deletion) per file that
# the overlay's .files does not hold: tens of builds of 1-15 ms each.
_EXAMPLES = settings(max_examples=20)
# A checksum known to be wrong: the first failing example is the proof; no shrinking.
_UNTIL_CAUGHT = settings(max_examples=20, database=None, phases=[Phase.generate])

Outcome = tuple[str, str]
"""``("built", yaml)`` or ``("failed", kustomize's message)``."""

Reader = Callable[[BuildableRepo, Path, str], tuple[str, frozenset[str] | None]]
"""What a checksum says of *overlay* under *root*: its digest, and its files if it lists them."""


def _build(kustomize: Kustomize, root: Path, repo: BuildableRepo, overlay: str) -> Outcome:
    try:
        built = kustomize.build(
            root / overlay, load_restrictor=repo.load_restrictor, helm_command=root.parent / "helm"
        )
    except KustomizeBuildFailed as exc:
        # kustomize names the temporary directory it inflates charts in: not an input.
        return "failed", re.sub(r"kustomize-helm-\d+", "kustomize-helm-N", exc.message)
    return "built", built


def _syncsafe(repo: BuildableRepo, root: Path, overlay: str) -> tuple[str, frozenset[str] | None]:
    try:
        result = overlay_checksum(root / overlay, root=root, load_restrictor=repo.load_restrictor)
    except (SyncsafeError, OSError) as exc:  # a deleted file: the checksum notices it
        return f"error: {type(exc).__name__}: {exc}", None
    return result.digest, frozenset(result.files)


def _buggy(_: BuildableRepo, root: Path, overlay: str) -> tuple[str, frozenset[str] | None]:
    return buggy.checksum(root / overlay), None


def _regular_files(root: Path) -> set[str]:
    found = set()
    for directory, _, names in os.walk(root):
        for name in names:
            path = Path(directory, name)
            if not path.is_symlink():
                found.add(path.relative_to(root).as_posix())
    return found


def _edits(path: Path) -> list[tuple[str, Callable[[], None]]]:
    """The edits of one file: its token changed (or a comment added), then the file deleted."""
    original = path.read_text()

    def change() -> None:  # a file without the token (a plugin config) still changes
        path.write_text(original.replace(TOKEN, "v1") if TOKEN in original else original + "#\n")

    return [("edited", change), ("deleted", path.unlink)]


def check_differential(repo: BuildableRepo, kustomize: Kustomize, read: Reader) -> None:
    """Edit and delete each file in turn; every build that changes must change the checksum."""
    with tempfile.TemporaryDirectory() as top:
        root = Path(top, "repo")
        repo.write(root)
        write_helm(root.parent)
        builds = {o: _build(kustomize, root, repo, o) for o in repo.overlays}
        assert dict.fromkeys(repo.overlays, "built") == {o: b[0] for o, b in builds.items()}, builds
        before = {o: read(repo, root, o) for o in repo.overlays}
        for overlay, (_, files) in before.items():
            if files is not None:  # the other direction: nothing hashed but real, read files
                assert files <= _regular_files(root), overlay
                assert set() == files & repo.unread, overlay
        for relative in sorted(_regular_files(root)):
            path = root / relative
            original = path.read_text()
            seen: set[str] = set()  # overlays an edit changed: a deletion adds nothing to them
            for what, edit in _edits(path):
                edit()
                for overlay in [o for o in repo.overlays if o not in seen]:
                    digest, files = before[overlay]
                    # A hashed file needs no build: the property holds for it whatever the
                    # build does, and its digest must change. Only the others are built.
                    hashed = files is not None and relative in files
                    if not hashed and _build(kustomize, root, repo, overlay) == builds[overlay]:
                        continue
                    seen.add(overlay)
                    assert hashed or files is None, f"{overlay}: {relative} {what}, not hashed"
                    assert digest != read(repo, root, overlay)[0], f"{overlay}: {relative} {what}"
                path.write_text(original)


@_EXAMPLES
@given(buildable_repos(plugin_configs=False))
def test_every_file_a_build_reads_is_hashed(kustomize: Kustomize, repo: BuildableRepo) -> None:
    """Bases, components, patches, generators, replacements, links: a seen edit is hashed."""
    check_differential(repo, kustomize, _syncsafe)


@settings(max_examples=15)  # larger repositories: about 1.5 times the files per overlay
@given(buildable_repos(plugin_configs=True, max_overlays=2))
def test_every_file_a_plugin_config_names_is_hashed(
    kustomize: Kustomize, repo: BuildableRepo
) -> None:
    """The same, with builtin plugin configs (files and inline) as generators and transformers."""
    check_differential(repo, kustomize, _syncsafe)


def test_the_property_catches_the_incident_checksum(kustomize: Kustomize) -> None:
    """The incident's calculateChecksum misses edits a build sees: the property finds one."""

    @_UNTIL_CAUGHT
    @given(buildable_repos(plugin_configs=False))
    def run(repo: BuildableRepo) -> None:
        check_differential(repo, kustomize, _buggy)

    with pytest.raises(AssertionError, match=r"not hashed|edited|deleted"):
        run()


def test_the_property_catches_a_closure_that_skips_bases(kustomize: Kustomize) -> None:
    """A closure narrowed to the overlay's own directory misses base edits; the property sees it."""

    def narrowed(
        repo: BuildableRepo, root: Path, overlay: str
    ) -> tuple[str, frozenset[str] | None]:
        digest, files = _syncsafe(repo, root, overlay)
        return digest, None if files is None else frozenset(
            f for f in files if f.startswith(overlay)
        )

    @_UNTIL_CAUGHT
    @given(buildable_repos(plugin_configs=False))
    def run(repo: BuildableRepo) -> None:
        check_differential(repo, kustomize, narrowed)

    with pytest.raises(AssertionError, match="not hashed"):
        run()
