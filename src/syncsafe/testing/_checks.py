"""
Conformance checks: run syncsafe's own properties against *your* implementation.

Each check drives the properties that syncsafe's test suite proves of its own
primitive — over the same corpora and the same Hypothesis strategies — and
fails with a :class:`ConformanceError` (an ``AssertionError``, so pytest
reports it as a test failure) that names the counterexample. syncsafe's own
tests run every check against the matching ``syncsafe.buggy`` variant, which
fails it, and against syncsafe's primitive, which passes.

Hypothesis and the corpora load when a check runs, not when this module is
imported.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Hashable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, final

if TYPE_CHECKING:
    from hypothesis import settings as Settings  # noqa: N812

    from syncsafe.testing._trees import TreeSpec

__all__ = ["ConformanceError", "check_checksum", "check_path_confinement"]


@final
class ConformanceError(AssertionError):
    """An implementation broke a property that a syncsafe conformance check drives."""


ReadTree = Callable[[Path], Iterable[bytes]]
"""Read a tree as the build would: return the content of every file it would use."""

ChecksumFn = Callable[[Path, Path], Hashable]
"""Checksum the tree at ``path``, following symlinks that stay inside ``root``."""


@contextmanager
def _built(spec: TreeSpec) -> Iterator[Path]:
    from syncsafe.testing._trees import build_tree  # noqa: PLC0415

    with tempfile.TemporaryDirectory(prefix="syncsafe-check-") as base:
        yield build_tree(spec, Path(base))


def _settings(given: Settings | None) -> Settings:
    from hypothesis import HealthCheck, settings  # noqa: PLC0415

    if given is not None:
        return given
    # No example database: a check runs in other teams' projects and must not
    # leave a .hypothesis folder behind.
    return settings(
        max_examples=50,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


def _describe(spec: TreeSpec) -> str:
    from syncsafe.testing._trees import Symlink  # noqa: PLC0415

    links = ", ".join(f"{e.path} -> {e.target}" for e in spec.entries if isinstance(e, Symlink))
    return f"{spec.name} ({spec.kind}; links: {links or 'none'})"


# ------------------------------------------------------------ confinement


def _reads_outside(read_tree: ReadTree, spec: TreeSpec) -> str | None:
    """Why reading *spec* through *read_tree* broke confinement, or None."""
    from syncsafe.testing._trees import SECRET  # noqa: PLC0415

    with _built(spec) as root:
        try:
            contents = list(read_tree(root))
        except Exception:  # noqa: BLE001 - refusing the tree is the safe answer
            return None
    if SECRET in contents:
        return f"{_describe(spec)}: read the content of a file outside the root"
    return None


def _misses_inside(read_tree: ReadTree, spec: TreeSpec) -> str | None:
    """Why reading the benign *spec* failed (refused, or files missed), or None."""
    from syncsafe.testing._trees import File  # noqa: PLC0415

    with _built(spec) as root:
        try:
            contents = set(read_tree(root))
        except Exception as exc:  # noqa: BLE001 - reported, not raised
            return f"{_describe(spec)}: refused a benign tree: {type(exc).__name__}: {exc}"
    missed = sorted(
        e.path for e in spec.entries if isinstance(e, File) and e.content not in contents
    )
    if missed:
        return f"{_describe(spec)}: did not read {', '.join(missed)}"
    return None


def check_path_confinement(
    read_tree: ReadTree,
    *,
    corpus: Iterable[TreeSpec] | None = None,
    benign: Iterable[TreeSpec] | None = None,
    settings: Settings | None = None,
) -> None:
    """
    Check that *read_tree* never reads outside the root, and reads every file inside.

    *read_tree(root)* reads the tree at *root* the way your build or hook
    does and returns the content of every file it would use (``bytes``). To
    refuse a tree it raises any exception. The check:

    1. builds every malicious tree of the attack corpus
       (:func:`~syncsafe.testing.attack_corpus`, or *corpus*) — escapes
       through relative and absolute links, chains of links that each look
       inbound, links through symlinked directories, sibling directories that
       share the root's name as a prefix, loops — and fails if *read_tree*
       returns the content of the file planted outside the root;
    2. builds every benign tree (:func:`~syncsafe.testing.benign_corpus`, or
       *benign*) and fails if *read_tree* refuses it or misses a file in it;
    3. draws random trees with an escaping link
       (:func:`syncsafe.strategies.symlink_trees` with ``escaping=True``) and
       fails if any outside content is read (Hypothesis, *settings*).

    Raises :class:`ConformanceError` naming every tree that failed.

    .. versionadded:: 0.1.0
    """
    from hypothesis import given  # noqa: PLC0415

    from syncsafe.strategies import symlink_trees  # noqa: PLC0415
    from syncsafe.testing._trees import attack_corpus, benign_corpus  # noqa: PLC0415

    attacks = attack_corpus() if corpus is None else tuple(corpus)
    goods = benign_corpus() if benign is None else tuple(benign)
    problems = [p for spec in attacks if (p := _reads_outside(read_tree, spec))]
    problems += [p for spec in goods if (p := _misses_inside(read_tree, spec))]
    if problems:
        total = len(attacks) + len(goods)
        raise ConformanceError(
            f"path confinement: {len(problems)} of {total} trees failed:\n  "
            + "\n  ".join(problems)
        )

    @_settings(settings)
    @given(symlink_trees(escaping=True))
    def never_reads_outside(spec: TreeSpec) -> None:
        problem = _reads_outside(read_tree, spec)
        if problem:
            raise ConformanceError(f"path confinement: {problem}")

    never_reads_outside()


# --------------------------------------------------------------- checksum


def _write(root: Path, relative: str, content: bytes) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)


def _nested_overlay(base: Path) -> tuple[Path, Path]:
    """The incident's layout: an overlay whose ``base`` is a symlink to a shared base."""
    root = base / "repo"
    _write(root, "bases/prod-east/kustomization.yaml", b"resources:\n- ingress.yaml\n")
    _write(root, "bases/prod-east/ingress.yaml", b"kind: Ingress\nmetadata:\n  name: payments\n")
    _write(root, "overlays/prod/east/kustomization.yaml", b"resources:\n- base\n")
    (root / "overlays/prod/east/base").symlink_to("../../../bases/prod-east")
    return root / "overlays/prod/east", root


def _example_failures(checksum: ChecksumFn) -> list[str]:
    """The fixed scenarios: framing, hidden files, the symlinked nested base."""
    problems: list[str] = []
    with tempfile.TemporaryDirectory() as base:
        root = Path(base)
        _write(root, "a", b"bc")
        first = checksum(root, root)
        (root / "a").unlink()
        _write(root, "ab", b"c")
        if checksum(root, root) == first:
            problems.append("files a='bc' and ab='c' give the same digest (no framing)")
    with tempfile.TemporaryDirectory() as base:
        root = Path(base)
        _write(root, "config.env", b"LEVEL=info\n")
        _write(root, ".env", b"LEVEL=info\n")
        before = checksum(root, root)
        _write(root, ".env", b"LEVEL=warn\n")
        if checksum(root, root) == before:
            problems.append("an edit to the hidden file .env did not change the digest")
    with tempfile.TemporaryDirectory() as base:
        overlay, root = _nested_overlay(Path(base))
        before = checksum(overlay, root)
        _write(root, "bases/prod-east/ingress.yaml", b"kind: Ingress\nmetadata:\n  name: v2\n")
        if checksum(overlay, root) == before:
            problems.append(
                "an edit under the symlinked nested base overlays/prod/east/base -> "
                "../../../bases/prod-east did not change the overlay's digest"
            )
    return problems


def check_checksum(checksum: ChecksumFn, *, settings: Settings | None = None) -> None:
    """
    Check that *checksum* is canonical and cannot miss a change.

    *checksum(path, root)* returns the digest of the tree at *path*, reading
    through symlinks that stay inside *root* (for
    :func:`syncsafe.checksum`: ``lambda path, root: checksum(path,
    root=root).digest``). The check fails if:

    - files ``a``=``bc`` and ``ab``=``c`` give the same digest (fields not framed);
    - an edit to a hidden file (``.env``, which ``configMapGenerator`` reads)
      is missed;
    - an edit under a symlinked nested base is missed (the stale-overlay incident);
    - on random trees (:func:`syncsafe.strategies.file_trees`, odd names
      included): the same tree at two locations gives two digests; or a
      one-byte edit, an added file, a removed file or a renamed file leaves the
      digest unchanged.

    Raises :class:`ConformanceError` naming the counterexample.

    .. versionadded:: 0.1.0
    """
    from hypothesis import assume, given  # noqa: PLC0415
    from hypothesis import strategies as st  # noqa: PLC0415

    from syncsafe.strategies import file_trees  # noqa: PLC0415
    from syncsafe.testing._trees import File  # noqa: PLC0415

    problems = _example_failures(checksum)
    if problems:
        raise ConformanceError("checksum:\n  " + "\n  ".join(problems))

    @_settings(settings)
    @given(file_trees(), st.data())
    def every_change_is_seen(spec: TreeSpec, data: st.DataObject) -> None:
        files = [e for e in spec.entries if isinstance(e, File)]
        assume(files)
        target = data.draw(st.sampled_from(files), label="file changed")
        change = data.draw(st.sampled_from(["edit", "add", "remove", "rename"]), label="change")
        with _built(spec) as one, _built(spec) as two:
            digest = checksum(one, one)
            if checksum(two, two) != digest:
                msg = f"checksum: the same tree at {one} and {two} gives two digests"
                raise ConformanceError(msg)
            path = one / target.path
            if change == "edit":
                content = path.read_bytes() or b"\0"
                path.write_bytes(bytes([content[0] ^ 0x01]) + content[1:])
            elif change == "add":
                _write(one, target.path + ".new", b"added")
            elif change == "remove":
                path.unlink()
            else:
                path.rename(path.with_name(path.name + ".renamed"))
            if checksum(one, one) == digest:
                msg = f"checksum: {change} of {target.path!r} did not change the digest"
                raise ConformanceError(msg)

    every_change_is_seen()
