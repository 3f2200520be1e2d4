"""
An in-memory model of POSIX path resolution and of syncsafe's walk: the oracle.

It knows nothing of file descriptors or the real file system: a tree is a
dictionary from a tuple of names to a node, and resolution is a recursive
function over it, written from the rules (``path_resolution(7)`` plus
syncsafe's containment rules), not from syncsafe's code. Property tests
build a [`TreeSpec`][syncsafe.testing._trees.TreeSpec] on disk and compare what
[`syncsafe.resolve`][syncsafe.paths.resolve] and [`syncsafe.walk`][syncsafe.walker.walk] do
with what this model says they should do. It sits in `syncsafe`, not in
`syncsafe.testing`, because a public module uses it: `syncsafe.strategies`
keeps only the trees it was asked for by asking the model.

Outcomes are plain tags: ``"escape"``, ``"absolute"``, ``"loop"``,
``"missing"``, ``"notdir"``, ``"dangling"``, ``"special"``.
"""

from __future__ import annotations

import os
from typing import Final, final

import attrs

from syncsafe.testing import Fifo, File, Folder, Symlink, TreeSpec

__all__ = ["Model", "ModelError", "Resolution"]

MAX_HOPS: Final = 40

Names = tuple[str, ...]


@final
class ModelError(Exception):
    """What the model says a resolution or walk runs into; ``tag`` names it."""

    def __init__(self, tag: str) -> None:
        super().__init__(tag)
        self.tag = tag


@final
@attrs.frozen
class Resolution:
    """Where a path ends: ``names`` from the root; ``kind``: dir, file, fifo or missing."""

    names: Names
    kind: str


@final
class Model:
    """A tree from a [`TreeSpec`][], held in memory (the ``outside`` part is not needed)."""

    def __init__(self, spec: TreeSpec) -> None:
        self.nodes: dict[Names, tuple[str, str]] = {(): ("dir", "")}
        for entry in spec.entries:
            names = tuple(n for n in entry.path.split("/") if n)
            for i in range(1, len(names)):
                self.nodes.setdefault(names[:i], ("dir", ""))
            if isinstance(entry, File):
                self.nodes[names] = ("file", "")
            elif isinstance(entry, Folder):
                self.nodes[names] = ("dir", "")
            elif isinstance(entry, Symlink):
                self.nodes[names] = ("link", entry.target)
            elif isinstance(entry, Fifo):
                self.nodes[names] = ("fifo", "")

    # ------------------------------------------------------------ resolution
    def resolve(self, path: str, *, strict: bool = True) -> Resolution:
        """Resolve *path* from the root, or raise `ModelError`."""
        if path.startswith("/"):
            raise ModelError("absolute")
        return self._follow((), path.split("/"), [0], strict=strict)

    def resolve_link(self, where: Names) -> Resolution:
        """Resolve the symlink at *where* (non-strict, as the walk does)."""
        return self._follow(where[:-1], [where[-1]], [0], strict=False)

    def _follow(  # noqa: C901, PLR0911, PLR0912 - one case per rule of path_resolution(7)
        self, at: Names, parts: list[str], hops: list[int], *, strict: bool
    ) -> Resolution:
        here = at
        for i, part in enumerate(parts):
            if part in {"", "."}:
                continue
            if part == "..":
                if not here:
                    raise ModelError("escape")
                here = here[:-1]
                continue
            rest = parts[i + 1 :]
            node = self.nodes.get((*here, part))
            if node is None:
                if strict:
                    raise ModelError("missing")
                return self._lexical((*here, part), rest)
            kind, target = node
            if kind == "link":
                hops[0] += 1
                if hops[0] > MAX_HOPS:
                    raise ModelError("loop")
                if target.startswith(("/", "{")):  # '{root}/...' is absolute once built
                    raise ModelError("absolute")
                landed = self._follow(here, target.split("/"), hops, strict=strict)
                if landed.kind == "missing":
                    return self._lexical(landed.names, rest)
                if landed.kind != "dir":
                    if rest:
                        if strict:
                            raise ModelError("notdir")
                        return self._lexical(landed.names, rest)
                    return landed
                here = landed.names
                continue
            if kind == "dir":
                here = (*here, part)
                continue
            if rest:  # a file used as a directory: 'file/x', 'file/', 'file/.'
                if strict:
                    raise ModelError("notdir")
                return self._lexical((*here, part), rest)
            return Resolution((*here, part), kind)
        return Resolution(here, "dir")

    @staticmethod
    def _lexical(names: Names, rest: list[str]) -> Resolution:
        out = list(names)
        for part in rest:
            if part in {"", "."}:
                continue
            if part == "..":
                if not out:
                    raise ModelError("escape")
                out.pop()
            else:
                out.append(part)
        return Resolution(tuple(out), "missing")

    # ------------------------------------------------------------------ walk
    def children(self, names: Names) -> list[str]:
        """The names directly inside directory *names*, sorted by their bytes."""
        n = len(names)
        kids = [k[-1] for k in self.nodes if len(k) == n + 1 and k[:n] == names]
        return sorted(kids, key=os.fsencode)

    def walk(self, *, specials: str = "skip", dangling: str = "error") -> list[tuple[str, Names]]:
        """
        ``(path as reached, physical names)`` per regular file, in syncsafe's walk order.

        Raises `ModelError` at the first problem, where the walk meets
        it: a directory's links and special files are judged when the walk
        enters it, in name order.
        """
        out: list[tuple[str, Names]] = []
        self._visit((), "", [()], out, specials=specials, dangling=dangling)
        return out

    def _visit(  # noqa: C901, PLR0912 - one case per kind of entry
        self,
        here: Names,
        rel: str,
        inside: list[Names],
        out: list[tuple[str, Names]],
        *,
        specials: str,
        dangling: str,
    ) -> None:
        keyed: dict[str, tuple[str, Names]] = {}
        for name in self.children(here):
            child = (*here, name)
            kind, _ = self.nodes[child]
            if kind == "file":
                keyed[name] = ("file", (*here, name))
            elif kind == "dir":
                keyed[name + "/"] = ("dir", (*here, name))
            elif kind == "fifo":
                if specials == "error":
                    raise ModelError("special")
            else:
                landed = self.resolve_link((*here, name))
                if landed.kind == "missing":
                    if dangling == "error":
                        raise ModelError("dangling")
                elif landed.kind == "dir":
                    if landed.names in inside:
                        raise ModelError("loop")
                    keyed[name + "/"] = ("dir", landed.names)
                elif landed.kind == "file":
                    keyed[name] = ("file", landed.names)
                elif specials == "error":
                    raise ModelError("special")
        for key in sorted(keyed, key=os.fsencode):
            kind, names = keyed[key]
            if kind == "file":
                out.append((rel + key, names))
            else:
                self._visit(
                    names, rel + key, [*inside, names], out, specials=specials, dangling=dangling
                )
