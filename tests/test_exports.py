from __future__ import annotations

import importlib
import subprocess
import sys
import types

import pytest

import syncsafe

PUBLIC_MODULES = [
    "syncsafe.annotations",
    "syncsafe.errors",
    "syncsafe.guard",
    "syncsafe.paths",
    "syncsafe.stale",
    "syncsafe.storm",
    "syncsafe.checksum",
    "syncsafe.errors",
    "syncsafe.paths",
    "syncsafe.walk",
]


def test_all_is_unique_and_complete() -> None:
    """__all__ lists each public name once (ruff keeps it sorted) and exactly the lazy exports."""
    assert len(syncsafe.__all__) == len(set(syncsafe.__all__))
    assert sorted([*syncsafe._EXPORTS, "__version__"]) == sorted(syncsafe.__all__)


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
        _ = syncsafe.nope


def test_submodules_are_attributes() -> None:
    """syncsafe.annotations is the module, not the __future__ feature of that name."""
    assert isinstance(syncsafe.annotations, types.ModuleType)
    assert syncsafe.annotations.__name__ == "syncsafe.annotations"
    assert "AnnotationKey" in dir(syncsafe)


def test_walk_is_the_function_whatever_was_imported_first() -> None:
    """Importing the module syncsafe.walk never turns syncsafe.walk into that module."""
    code = (
        "import syncsafe.walk, syncsafe; from syncsafe.walk import WalkEntry; "
        "from syncsafe import walk; print(walk.__module__, walk.__name__, syncsafe.walk is walk)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert "syncsafe.walk walk True" == out.strip()


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
