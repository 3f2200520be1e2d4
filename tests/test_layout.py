"""No module reaches into another package's private module: shared helpers sit where both can."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import syncsafe

SRC = Path(syncsafe.__file__).parent

# Known, each another part of the code's to move (a module both sides import
# openly); listed so that no new one joins them unnoticed.
KNOWN = {
    ("syncsafe._demo.partition", "syncsafe.guard._etcd_client"),
    ("syncsafe.buggy.election", "syncsafe.guard._etcd_client"),
}


def _reaches(module: str, package: str, tree: ast.AST) -> set[tuple[str, str]]:
    """The private modules of other packages that *module* (in *package*) imports."""
    found: set[tuple[str, str]] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] != "syncsafe":
                continue
            private = next((i for i, part in enumerate(parts) if part.startswith("_")), None)
            if private is None:
                continue
            owner = ".".join(parts[:private])
            if package != owner and not package.startswith(owner + "."):
                found.add((module, ".".join(parts[: private + 1])))
    return found


def private_reaches() -> set[tuple[str, str]]:
    """Every (module, private module of another package) import in the source tree."""
    found: set[tuple[str, str]] = set()
    for path in sorted(SRC.rglob("*.py")):
        parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
        package = ".".join(parts[:-1])
        if parts[-1] == "__init__":
            parts.pop()
        found |= _reaches(".".join(parts), package, ast.parse(path.read_text("utf-8")))
    return found


@pytest.mark.parametrize(
    ("module", "package", "source", "expected"),
    [
        ("syncsafe.strategies", "syncsafe", "from syncsafe.testing._trees import File", True),
        ("syncsafe.strategies", "syncsafe", "import syncsafe.guard._record", True),
        ("syncsafe.walker.x", "syncsafe.walker", "from syncsafe.guard import _record", True),
        ("syncsafe.strategies", "syncsafe", "from syncsafe.testing import File", False),
        (
            "syncsafe.guard._file",
            "syncsafe.guard",
            "from syncsafe._atomic import fsync_directory",
            False,
        ),
        ("syncsafe.guard._file", "syncsafe.guard", "from syncsafe.guard import _record", False),
        (
            "syncsafe.guard",
            "syncsafe.guard",
            "from syncsafe.guard._file import FileSyncGuard",
            False,
        ),
    ],
)
def test_the_checker_tells_a_reach_into_another_packages_private_module(
    module: str, package: str, source: str, *, expected: bool
) -> None:
    """Another package's private module is a reach; its own, or a parent package's, is not."""
    assert expected == bool(_reaches(module, package, ast.parse(source)))


def test_no_module_imports_another_packages_private_module() -> None:
    """A private module is imported from its own package (or below it), never from beside it."""
    assert set() == private_reaches() - KNOWN
