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
    # errors
    "AnnotationsTooLarge": "syncsafe.errors",
    "GuardStateCorrupt": "syncsafe.errors",
    "InvalidAnnotationKey": "syncsafe.errors",
    "InvalidLabelValue": "syncsafe.errors",
    "ReentrantSync": "syncsafe.errors",
    "SyncFailed": "syncsafe.errors",
    "SyncInProgress": "syncsafe.errors",
    "SyncTimeout": "syncsafe.errors",
    "SyncsafeError": "syncsafe.errors",
    # guard
    "AsyncSyncGuard": "syncsafe.guard",
    "Fence": "syncsafe.guard",
    "FileGuardState": "syncsafe.guard",
    "FileSyncGuard": "syncsafe.guard",
    "GuardStatistics": "syncsafe.guard",
    "Outcome": "syncsafe.guard",
    "Policy": "syncsafe.guard",
    "SyncGuard": "syncsafe.guard",
}

__all__ = [
    "TOTAL_ANNOTATION_SIZE_LIMIT",
    "AnnotationKey",
    "AnnotationsTooLarge",
    "AsyncSyncGuard",
    "Fence",
    "FileGuardState",
    "FileSyncGuard",
    "GuardStateCorrupt",
    "GuardStatistics",
    "InvalidAnnotationKey",
    "InvalidLabelValue",
    "Outcome",
    "Policy",
    "ReentrantSync",
    "SyncFailed",
    "SyncGuard",
    "SyncInProgress",
    "SyncTimeout",
    "SyncsafeError",
    "__version__",
    "annotations_size",
    "check_annotations_size",
    "get_annotation",
    "validate_label_value",
]

if TYPE_CHECKING:  # what the lazy __getattr__ below gives, for type checkers and IDEs
    from syncsafe.annotations import TOTAL_ANNOTATION_SIZE_LIMIT as TOTAL_ANNOTATION_SIZE_LIMIT
    from syncsafe.annotations import AnnotationKey as AnnotationKey
    from syncsafe.annotations import annotations_size as annotations_size
    from syncsafe.annotations import check_annotations_size as check_annotations_size
    from syncsafe.annotations import get_annotation as get_annotation
    from syncsafe.annotations import validate_label_value as validate_label_value
    from syncsafe.errors import AnnotationsTooLarge as AnnotationsTooLarge
    from syncsafe.errors import GuardStateCorrupt as GuardStateCorrupt
    from syncsafe.errors import InvalidAnnotationKey as InvalidAnnotationKey
    from syncsafe.errors import InvalidLabelValue as InvalidLabelValue
    from syncsafe.errors import ReentrantSync as ReentrantSync
    from syncsafe.errors import SyncFailed as SyncFailed
    from syncsafe.errors import SyncInProgress as SyncInProgress
    from syncsafe.errors import SyncsafeError as SyncsafeError
    from syncsafe.errors import SyncTimeout as SyncTimeout
    from syncsafe.guard import AsyncSyncGuard as AsyncSyncGuard
    from syncsafe.guard import Fence as Fence
    from syncsafe.guard import FileGuardState as FileGuardState
    from syncsafe.guard import FileSyncGuard as FileSyncGuard
    from syncsafe.guard import GuardStatistics as GuardStatistics
    from syncsafe.guard import Outcome as Outcome
    from syncsafe.guard import Policy as Policy
    from syncsafe.guard import SyncGuard as SyncGuard

# public submodules, importable as attributes: ``syncsafe.annotations``
_SUBMODULES: Final = frozenset(
    {"annotations", "buggy", "cli", "errors", "guard", "strategies", "testing"}
)


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
