"""
syncsafe: correct sync and checksum primitives for GitOps controllers.

Everything public is importable from here. The submodules load on first
use (PEP 562), so ``import syncsafe`` — and the pytest plugin, which pytest
imports in every project that installs syncsafe — stays cheap.
"""

# No ``from __future__ import annotations`` here: it would bind the name
# ``annotations`` in this package to a ``__future__`` feature object, shadowing
# the ``annotations`` submodule for ``from ... import annotations``.

import importlib
import sys
import types
from typing import TYPE_CHECKING, Final

__version__ = "0.1.0.dev0"

# public name -> the module that defines it
_EXPORTS: Final[dict[str, str]] = {
    # annotations
    "TOTAL_ANNOTATION_SIZE_LIMIT": "syncsafe.annotations",
    "AnnotationKey": "syncsafe.annotations",
    "annotations_size": "syncsafe.annotations",
    "check_annotations_size": "syncsafe.annotations",
    "get_annotation": "syncsafe.annotations",
    "validate_label_value": "syncsafe.annotations",
    # checksum
    "CHECKSUM_ALGORITHMS": "syncsafe.checksum",
    "CHECKSUM_FORMAT_VERSION": "syncsafe.checksum",
    "Changes": "syncsafe.checksum",
    "Checksum": "syncsafe.checksum",
    "ChecksumCache": "syncsafe.checksum",
    "ChecksumCacheWarning": "syncsafe.checksum",
    "checksum": "syncsafe.checksum",
    "overlay_checksum": "syncsafe.checksum",
    # errors
    "AbsoluteSymlinkError": "syncsafe.errors",
    "AnnotationsTooLarge": "syncsafe.errors",
    "CorruptManifest": "syncsafe.errors",
    "DanglingSymlinkError": "syncsafe.errors",
    "FileChangedWhileHashing": "syncsafe.errors",
    "IncomparableChecksums": "syncsafe.errors",
    "InvalidAnnotationKey": "syncsafe.errors",
    "InvalidLabelValue": "syncsafe.errors",
    "MalformedKustomization": "syncsafe.errors",
    "PathEscapeError": "syncsafe.errors",
    "RemoteReferenceRefused": "syncsafe.errors",
    "SpecialFileError": "syncsafe.errors",
    "StaleEntryError": "syncsafe.errors",
    "SymlinkLoopError": "syncsafe.errors",
    "SyncsafeError": "syncsafe.errors",
    "UnknownAlgorithm": "syncsafe.errors",
    "UnsafePathError": "syncsafe.errors",
    # paths
    "open_inside": "syncsafe.paths",
    "resolve": "syncsafe.paths",
    # walk
    "Finding": "syncsafe.walk",
    "WalkEntry": "syncsafe.walk",
    "scan": "syncsafe.walk",
    "walk": "syncsafe.walk",
}

__all__ = [
    "CHECKSUM_ALGORITHMS",
    "CHECKSUM_FORMAT_VERSION",
    "TOTAL_ANNOTATION_SIZE_LIMIT",
    "AbsoluteSymlinkError",
    "AnnotationKey",
    "AnnotationsTooLarge",
    "Changes",
    "Checksum",
    "ChecksumCache",
    "ChecksumCacheWarning",
    "CorruptManifest",
    "DanglingSymlinkError",
    "FileChangedWhileHashing",
    "Finding",
    "IncomparableChecksums",
    "InvalidAnnotationKey",
    "InvalidLabelValue",
    "MalformedKustomization",
    "PathEscapeError",
    "RemoteReferenceRefused",
    "SpecialFileError",
    "StaleEntryError",
    "SymlinkLoopError",
    "SyncsafeError",
    "UnknownAlgorithm",
    "UnsafePathError",
    "WalkEntry",
    "__version__",
    "annotations_size",
    "check_annotations_size",
    "checksum",
    "get_annotation",
    "open_inside",
    "overlay_checksum",
    "resolve",
    "scan",
    "validate_label_value",
    "walk",
]

if TYPE_CHECKING:  # what the lazy __getattr__ below gives, for type checkers and IDEs
    from syncsafe.annotations import TOTAL_ANNOTATION_SIZE_LIMIT as TOTAL_ANNOTATION_SIZE_LIMIT
    from syncsafe.annotations import AnnotationKey as AnnotationKey
    from syncsafe.annotations import annotations_size as annotations_size
    from syncsafe.annotations import check_annotations_size as check_annotations_size
    from syncsafe.annotations import get_annotation as get_annotation
    from syncsafe.annotations import validate_label_value as validate_label_value
    from syncsafe.checksum import CHECKSUM_ALGORITHMS as CHECKSUM_ALGORITHMS
    from syncsafe.checksum import CHECKSUM_FORMAT_VERSION as CHECKSUM_FORMAT_VERSION
    from syncsafe.checksum import Changes as Changes
    from syncsafe.checksum import Checksum as Checksum
    from syncsafe.checksum import ChecksumCache as ChecksumCache
    from syncsafe.checksum import ChecksumCacheWarning as ChecksumCacheWarning
    from syncsafe.checksum import checksum as checksum
    from syncsafe.checksum import overlay_checksum as overlay_checksum
    from syncsafe.errors import AbsoluteSymlinkError as AbsoluteSymlinkError
    from syncsafe.errors import AnnotationsTooLarge as AnnotationsTooLarge
    from syncsafe.errors import CorruptManifest as CorruptManifest
    from syncsafe.errors import DanglingSymlinkError as DanglingSymlinkError
    from syncsafe.errors import FileChangedWhileHashing as FileChangedWhileHashing
    from syncsafe.errors import IncomparableChecksums as IncomparableChecksums
    from syncsafe.errors import InvalidAnnotationKey as InvalidAnnotationKey
    from syncsafe.errors import InvalidLabelValue as InvalidLabelValue
    from syncsafe.errors import MalformedKustomization as MalformedKustomization
    from syncsafe.errors import PathEscapeError as PathEscapeError
    from syncsafe.errors import RemoteReferenceRefused as RemoteReferenceRefused
    from syncsafe.errors import SpecialFileError as SpecialFileError
    from syncsafe.errors import StaleEntryError as StaleEntryError
    from syncsafe.errors import SymlinkLoopError as SymlinkLoopError
    from syncsafe.errors import SyncsafeError as SyncsafeError
    from syncsafe.errors import UnknownAlgorithm as UnknownAlgorithm
    from syncsafe.errors import UnsafePathError as UnsafePathError
    from syncsafe.paths import open_inside as open_inside
    from syncsafe.paths import resolve as resolve
    from syncsafe.walk import Finding as Finding
    from syncsafe.walk import WalkEntry as WalkEntry
    from syncsafe.walk import scan as scan
    from syncsafe.walk import walk as walk

# public submodules, importable as attributes: ``syncsafe.annotations``
_SUBMODULES: Final = frozenset(
    {"annotations", "buggy", "cli", "errors", "paths", "strategies", "testing"}
)

# Public functions that share their name with the submodule defining them:
# ``syncsafe.walk`` is the function, from the module ``syncsafe.walk``;
# ``syncsafe.checksum`` the function, from the package ``syncsafe.checksum``.
_SHADOWED: Final = frozenset({"checksum", "walk"})


class _Package(types.ModuleType):
    """
    This package's module type: ``syncsafe.walk`` and ``syncsafe.checksum`` stay functions.

    The import system binds a submodule as an attribute of its package once
    loaded; without this, ``from syncsafe import walk`` would give the
    function or the module depending on what was imported first.
    """

    def __setattr__(self, name: str, value: object) -> None:
        if name in _SHADOWED and isinstance(value, types.ModuleType):
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


def __getattr__(name: str) -> object:
    if name in _SUBMODULES:
        return importlib.import_module(f"syncsafe.{name}")
    try:
        module = _EXPORTS[name]
    except KeyError:
        msg = f"module 'syncsafe' has no attribute {name!r}"
        raise AttributeError(msg) from None
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
