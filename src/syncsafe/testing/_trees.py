"""
Declarative file trees, and the attack and benign corpora built from them.

A [`TreeSpec`][syncsafe.testing._trees.TreeSpec] lists files, directories, symlinks and FIFOs by
POSIX path relative to the root; [`build_tree`][syncsafe.testing._trees.build_tree] creates it under
a fresh base directory, as ``base/repo``, with the spec's ``outside`` entries beside it
(``base/outside/secret.yaml``, ``base/repo-evil/...``), so that an escape has
something real to reach. A symlink target may name the absolute locations of
the build with ``{root}`` and ``{base}``.

[`attack_corpus`][syncsafe.testing._trees.attack_corpus] gives at least 100 malicious trees: escapes
through relative links, absolute links, chains where each link alone looks inbound,
links through symlinked directories, sibling-prefix directories, loops.
[`benign_corpus`][syncsafe.testing._trees.benign_corpus] gives trees that a correct check must
accept: links that stay inside, ``..`` that stays inside, symlinked bases, odd names.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Final, final

import attrs

__all__ = [
    "ROOT_NAME",
    "SECRET",
    "Entry",
    "Fifo",
    "File",
    "Folder",
    "Symlink",
    "TreeSpec",
    "attack_corpus",
    "benign_corpus",
    "build_tree",
]

ROOT_NAME: Final = "repo"
SECRET: Final = b"apiVersion: v1\nkind: Secret\nmetadata:\n  name: outside-the-root\n"
_KUSTOMIZATION: Final = b"resources:\n- base/deployment.yaml\n"
_DEPLOYMENT: Final = b"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: payment-svc\n"


@final
@attrs.frozen
class File:
    """A regular file at ``path`` with ``content``."""

    path: str
    content: bytes = b""


@final
@attrs.frozen
class Folder:
    """A directory at ``path`` (parents of other entries are created anyway)."""

    path: str


@final
@attrs.frozen
class Symlink:
    """A symlink at ``path`` whose text is ``target`` (``{root}``, ``{base}`` filled in)."""

    path: str
    target: str


@final
@attrs.frozen
class Fifo:
    """A named pipe at ``path``."""

    path: str


Entry = File | Folder | Symlink | Fifo


@final
@attrs.frozen
class TreeSpec:
    """
    A tree to build: ``entries`` inside the root, ``outside`` beside it.

    ``kind`` names the family (``relative-escape``, ``loop``, ``symlinked-base``,
    ...); ``root_link``, when set, is the name of a symlink beside the root
    through which the root is handed to the code under test.
    """

    name: str
    kind: str
    entries: tuple[Entry, ...]
    outside: tuple[Entry, ...] = ()
    root_link: str | None = None


def _create(base: Path, entry: Entry, fill: dict[str, str]) -> None:
    path = base / entry.path
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(entry, File):
        path.write_bytes(entry.content)
    elif isinstance(entry, Folder):
        path.mkdir(parents=True, exist_ok=True)
    elif isinstance(entry, Symlink):
        target = entry.target
        for key, value in fill.items():
            target = target.replace(key, value)
        path.symlink_to(target)
    else:
        os.mkfifo(path)


def build_tree(spec: TreeSpec, base: Path) -> Path:
    """Create *spec* under *base* (which must not hold a ``repo``); return the root to check."""
    root = base / ROOT_NAME
    root.mkdir(parents=True)
    fill = {"{root}": str(root), "{base}": str(base)}
    for entry in spec.outside:
        _create(base, entry, fill)
    for entry in spec.entries:
        _create(root, entry, fill)
    if spec.root_link is None:
        return root
    link = base / spec.root_link
    link.symlink_to(ROOT_NAME)
    return link


# ------------------------------------------------------------------ corpora

_OUTSIDE: Final = (Folder("outside"), File("outside/secret.yaml", SECRET))
_SIBLINGS: Final = (
    File("repo-evil/secret.yaml", SECRET),
    File("repo.bak/secret.yaml", SECRET),
    File("repository/secret.yaml", SECRET),
)
_BASE: Final = (
    File("kustomization.yaml", _KUSTOMIZATION),
    File("base/deployment.yaml", _DEPLOYMENT),
    File("shared/common.yaml", _DEPLOYMENT),
)
_LOCATIONS: Final = ("", "overlays/", "overlays/prod/", "overlays/prod/patches/")


def _spec(name: str, kind: str, *links: Entry, outside: tuple[Entry, ...] = _OUTSIDE) -> TreeSpec:
    return TreeSpec(name, kind, (*_BASE, *links), outside=(*outside, *_SIBLINGS))


def _attacks() -> Iterator[TreeSpec]:
    for depth, loc in enumerate(_LOCATIONS):
        up = "../" * (depth + 1)
        d = f"depth{depth}"
        # A relative link that leaves the root: to a file, a directory, beyond,
        # and out-and-back-in (right only where the checkout is named 'repo').
        yield _spec(
            f"relative-file-{d}",
            "relative-escape",
            Symlink(loc + "secret.yaml", up + "outside/secret.yaml"),
        )
        yield _spec(f"relative-dir-{d}", "relative-escape", Symlink(loc + "vendor", up + "outside"))
        yield _spec(
            f"relative-overshoot-{d}",
            "relative-escape",
            Symlink(loc + "x.yaml", up + "../etc/passwd"),
        )
        yield _spec(
            f"relative-out-and-back-{d}",
            "relative-escape",
            Symlink(loc + "back.yaml", up + f"{ROOT_NAME}/kustomization.yaml"),
        )
        yield _spec(
            f"relative-hidden-{d}",
            "relative-escape",
            Symlink(loc + ".env", up + "outside/secret.yaml"),
        )
        yield _spec(
            f"relative-missing-{d}",
            "relative-escape",
            Symlink(loc + "gone.yaml", up + "nothing-here"),
        )
        # Absolute links: outside, and even inside (right at one location only).
        yield _spec(
            f"absolute-file-{d}",
            "absolute",
            Symlink(loc + "secret.yaml", "{base}/outside/secret.yaml"),
        )
        yield _spec(f"absolute-dir-{d}", "absolute", Symlink(loc + "vendor", "{base}/outside"))
        yield _spec(
            f"absolute-inside-{d}",
            "absolute",
            Symlink(loc + "self.yaml", "{root}/kustomization.yaml"),
        )
        yield _spec(
            f"absolute-dotdot-{d}",
            "absolute",
            Symlink(loc + "etc.yaml", "{root}/../outside/secret.yaml"),
        )
        yield _spec(f"absolute-host-{d}", "absolute", Symlink(loc + "passwd", "/etc/passwd"))
        # Sibling directories whose names start with the root's name.
        for sibling in ("repo-evil", "repo.bak", "repository"):
            yield _spec(
                f"sibling-{sibling}-{d}",
                "sibling-prefix",
                Symlink(loc + "secret.yaml", up + f"{sibling}/secret.yaml"),
            )
        yield _spec(f"sibling-dir-{d}", "sibling-prefix", Symlink(loc + "vendor", up + "repo-evil"))
        yield _spec(
            f"sibling-absolute-{d}",
            "sibling-prefix",
            Symlink(loc + "secret.yaml", "{root}-evil/secret.yaml"),
        )
        # A link to an ancestor, used as a stepping stone: 'up' alone stays
        # inside, and 'evil' read lexically does too, but 'up/..' is the
        # parent of the root.
        to_root = "/".join([".."] * depth) or "."
        yield _spec(
            f"chain-ancestor-{d}",
            "chain",
            Symlink(loc + "up", to_root),
            Symlink(loc + "evil.yaml", "up/../outside/secret.yaml"),
        )
        # Loops: a directory link to itself or an ancestor, a -> b -> a, x -> x,
        # and two directories whose links lead into each other.
        yield _spec(f"loop-self-{d}", "loop", Symlink(loc + "self", "."))
        yield _spec(f"loop-ancestor-{d}", "loop", Symlink(loc + "up", ".." if depth else "."))
        yield _spec(f"loop-pair-{d}", "loop", Symlink(loc + "a", "b"), Symlink(loc + "b", "a"))
        yield _spec(f"loop-itself-{d}", "loop", Symlink(loc + "x.yaml", "x.yaml"))
        yield _spec(
            f"loop-ring-{d}",
            "loop",
            Symlink(loc + "ring/one", "../ring2"),
            Symlink(loc + "ring2/two", "../ring"),
        )
        if depth == 0:
            continue
        # Through a symlinked directory: 'lib' points to a shallower sibling,
        # so 'lib/../..' climbs further than the text suggests.
        lib = "../" * depth + "shared"
        yield _spec(
            f"through-symlinked-dir-file-{d}",
            "through-symlinked-dir",
            Symlink(loc + "lib", lib),
            Symlink(loc + "evil.yaml", "lib/../../outside/secret.yaml"),
        )
        yield _spec(
            f"through-symlinked-dir-dir-{d}",
            "through-symlinked-dir",
            Symlink(loc + "lib", lib),
            Symlink(loc + "vendor", "lib/../../outside"),
        )
        # Chains of hops, each link's own text pointing inside.
        for hops in (1, 2, 3):
            chain: list[Entry] = [Symlink(loc + "lib", lib)]
            chain += [Symlink(f"{loc}hop{i}.yaml", f"hop{i + 1}.yaml") for i in range(1, hops)]
            chain.append(Symlink(f"{loc}hop{hops}.yaml", "lib/../../outside/secret.yaml"))
            yield _spec(f"chain-{hops}-hops-{d}", "chain", *chain)


def attack_corpus() -> tuple[TreeSpec, ...]:
    """At least 100 malicious trees; a correct walk rejects every one."""
    return tuple(_attacks())


def benign_corpus() -> tuple[TreeSpec, ...]:
    """Trees a correct walk accepts: inbound links and ``..``, symlinked bases, odd names."""
    plain = (*_BASE, File("overlays/prod/kustomization.yaml", b"resources:\n- ../../base\n"))
    specs = [
        ("plain", "plain", ()),
        ("symlinked-base", "symlinked-base", (Symlink("overlays/prod/base", "../../base"),)),
        (
            "symlinked-base-trailing-slash",
            "symlinked-base",
            (Symlink("overlays/prod/base", "../../base/"),),
        ),
        (
            "two-links-one-dir",
            "symlinked-base",
            (Symlink("overlays/a", "../base"), Symlink("overlays/b", "../base")),
        ),
        (
            "link-to-deep-dir",
            "symlinked-base",
            (File("vendor/lib/v1/x.yaml", b"x"), Symlink("lib", "vendor/lib/v1")),
        ),
        ("link-to-link-to-dir", "symlinked-base", (Symlink("b1", "base"), Symlink("b2", "b1"))),
        ("file-link-same-dir", "file-link", (Symlink("base/alias.yaml", "deployment.yaml"),)),
        (
            "file-link-dotdot-inside",
            "dotdot-inside",
            (Symlink("overlays/prod/patch.yaml", "../../base/deployment.yaml"),),
        ),
        (
            "dotdot-in-the-middle",
            "dotdot-inside",
            (Symlink("x.yaml", "base/../shared/common.yaml"),),
        ),
        ("dot-prefix", "file-link", (Symlink("y.yaml", "./base/./deployment.yaml"),)),
        (
            "link-chain-inside",
            "file-link",
            (
                Symlink("c1.yaml", "c2.yaml"),
                Symlink("c2.yaml", "base/../c3.yaml"),
                Symlink("c3.yaml", "kustomization.yaml"),
            ),
        ),
        (
            "dotdot-through-link-inside",
            "dotdot-inside",
            (
                File("vendor/lib/v1/x.yaml", b"x"),
                Symlink("lib", "vendor/lib/v1"),
                Symlink("y.yaml", "lib/../v1/x.yaml"),
            ),
        ),
        ("dots-in-names", "odd-names", (File("a..b.yaml", b"x"), Symlink("ref.yaml", "a..b.yaml"))),
        ("three-dots-name", "odd-names", (File("...", b"x"), Symlink("dots.yaml", "..."))),
        (
            "spaces-and-dashes",
            "odd-names",
            (
                File("with space.yaml", b"x"),
                File("-dash.yaml", b"x"),
                Symlink("sp.yaml", "with space.yaml"),
            ),
        ),
        (
            "unicode-names",
            "odd-names",
            (
                File("caf\u00e9.yaml", b"x"),
                File("\u65e5\u672c.yaml", b"x"),
                File("e\u0301.yaml", b"x"),
            ),
        ),
        (
            "non-utf8-name",
            "odd-names",
            (File("bad-\udcff.yaml", b"x"), Symlink("ok-\udcfe.yaml", "bad-\udcff.yaml")),
        ),
        ("newline-in-name", "odd-names", (File("line\nbreak.yaml", b"x"),)),
        ("hidden-files", "odd-names", (File(".env", b"A=1"), File(".config/x.yaml", b"x"))),
        (
            "sort-order",
            "odd-names",
            (
                File("a.yaml", b"x"),
                File("a/b.yaml", b"x"),
                File("a-b.yaml", b"x"),
                File("a0", b"x"),
            ),
        ),
        ("deep", "deep", (File("/".join(f"d{i}" for i in range(12)) + "/leaf.yaml", b"x"),)),
        ("empty-dirs", "plain", (Folder("empty"), Folder("overlays/empty"))),
        ("fifo-skipped", "special", (Fifo("pipe"),)),
        ("symlinked-root", "symlinked-root", ()),
    ]
    out = []
    for name, kind, extra in specs:
        root_link = "repo-link" if kind == "symlinked-root" else None
        out.append(
            TreeSpec(
                name, kind, (*plain, *extra), outside=(*_OUTSIDE, *_SIBLINGS), root_link=root_link
            )
        )
    return tuple(out)
