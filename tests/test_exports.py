from __future__ import annotations

import ast
import importlib
import subprocess
import sys
import types
from pathlib import Path

import pytest

import syncsafe

PUBLIC_MODULES = [
    "syncsafe.affected",
    "syncsafe.annotations",
    "syncsafe.checksums",
    "syncsafe.errors",
    "syncsafe.guard",
    "syncsafe.paths",
    "syncsafe.stale",
    "syncsafe.storm",
    "syncsafe.walker",
]

# In a module's __all__ but deliberately not re-exported from syncsafe.
NOT_REEXPORTED = {"syncsafe.annotations": {"KeyKind"}}


def _type_checking_imports() -> dict[str, str]:
    """The names syncsafe/__init__.py imports under TYPE_CHECKING, each to its module."""
    tree = ast.parse(Path(syncsafe.__file__).read_text(encoding="utf-8"))
    (block,) = [
        node
        for node in tree.body
        if isinstance(node, ast.If)
        and isinstance(node.test, ast.Name)
        and node.test.id == "TYPE_CHECKING"
    ]
    imports: dict[str, str] = {}
    for node in block.body:
        if isinstance(node, ast.ImportFrom) and node.module != "typing":
            for alias in node.names:
                assert alias.asname == alias.name, f"{alias.name} is not re-exported as itself"
                assert alias.name not in imports, f"{alias.name} is imported twice"
                imports[alias.name] = f"{node.module}"
    return imports


def test_all_is_unique_and_complete() -> None:
    """__all__ lists each public name once (ruff keeps it sorted) and exactly the lazy exports."""
    assert len(syncsafe.__all__) == len(set(syncsafe.__all__))
    assert sorted([*syncsafe._EXPORTS, "__version__"]) == sorted(syncsafe.__all__)


def test_type_checking_imports_are_the_exports() -> None:
    """What type checkers see is exactly _EXPORTS: each name, from the same module."""
    assert syncsafe._EXPORTS == _type_checking_imports()


def test_public_modules_are_the_exporting_modules() -> None:
    """PUBLIC_MODULES names each module that _EXPORTS draws from, once."""
    assert sorted(set(syncsafe._EXPORTS.values())) == PUBLIC_MODULES


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_exports_are_each_modules_all(module_name: str) -> None:
    """_EXPORTS takes from a module exactly the names of its __all__ (submodules aside)."""
    module = importlib.import_module(module_name)
    own = {
        name for name in module.__all__ if not isinstance(getattr(module, name), types.ModuleType)
    } - NOT_REEXPORTED.get(module_name, set())
    exported = {name for name, source in syncsafe._EXPORTS.items() if source == module_name}
    assert sorted(own) == sorted(exported)


def test_unknown_name_fails_type_checking(tmp_path: Path) -> None:
    """Under mypy --strict, 'from syncsafe import Bogus' fails and a real export passes."""
    (tmp_path / "bogus.py").write_text("from syncsafe import Bogus\n\nprint(Bogus)\n")
    (tmp_path / "real.py").write_text("from syncsafe import Checksum\n\nprint(Checksum)\n")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--no-incremental",
            "--config-file=/dev/null",
            "bogus.py",
            "real.py",
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    errors = [line for line in result.stdout.splitlines() if ": error:" in line]
    assert (
        1,
        ['bogus.py:1: error: Module "syncsafe" has no attribute "Bogus"'],
    ) == (
        result.returncode,
        [line.split("  [")[0] for line in errors],
    )


@pytest.mark.parametrize("name", syncsafe.__all__)
def test_every_public_name_resolves(name: str) -> None:
    """Every name in __all__ can be imported from syncsafe."""
    assert getattr(syncsafe, name) is not None


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_module_names_are_exported_exactly_once(module_name: str) -> None:
    """Each public module's __all__ is re-exported from syncsafe, the same object."""
    module = importlib.import_module(module_name)
    for name in module.__all__:
        if isinstance(getattr(module, name), types.ModuleType) or name == "KeyKind":
            continue
        assert name in syncsafe.__all__, f"{module_name}.{name} is not exported"
        assert getattr(syncsafe, name) is getattr(module, name)


def test_unknown_attribute() -> None:
    """A missing name is an AttributeError, as for any module."""
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = syncsafe.nope  # type: ignore[attr-defined]


def test_submodules_are_attributes() -> None:
    """syncsafe.annotations is the module, not the __future__ feature of that name."""
    assert isinstance(syncsafe.annotations, types.ModuleType)
    assert syncsafe.annotations.__name__ == "syncsafe.annotations"
    assert "AnnotationKey" in dir(syncsafe)


def test_every_dotted_name_is_a_module() -> None:
    """Each `import syncsafe.X` gives the module X, whatever was imported first."""
    names = sorted(syncsafe._SUBMODULES)
    code = (
        "import importlib, types, syncsafe; from syncsafe import checksum, walk; "
        f"names = {names!r}; "
        "mods = [importlib.import_module('syncsafe.' + n) for n in names]; "
        "print(all(isinstance(getattr(syncsafe, n), types.ModuleType) for n in names), "
        "all(getattr(syncsafe, n) is m for n, m in zip(names, mods)), "
        "syncsafe.checksum is checksum, syncsafe.walk is walk, callable(walk))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert "True True True True True" == out.strip()


def test_no_module_shares_a_public_function_name() -> None:
    """No public name of syncsafe is also the name of one of its submodules."""
    assert not set(syncsafe._EXPORTS) & syncsafe._SUBMODULES
    for function in ("checksum", "walk"):
        with pytest.raises(ModuleNotFoundError):
            importlib.import_module(f"syncsafe.{function}")


def test_import_is_cheap() -> None:
    """Importing syncsafe or its pytest plugin loads no primitive and no Hypothesis."""
    code = (
        "import sys, syncsafe, syncsafe.testing.plugin; "
        "print(sorted(m for m in sys.modules if m.startswith(('syncsafe', 'hypothesis'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "['syncsafe', 'syncsafe.testing', 'syncsafe.testing.plugin']"
