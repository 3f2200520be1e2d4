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

# Not ``typing.TYPE_CHECKING``: importing typing would cost every
# ``syncsafe --version`` about a third of an interpreter's start-up.
TYPE_CHECKING = False

__version__ = "0.1.0.dev0"

# public name -> the module that defines it: the one list of exports.
# ``__all__`` and the ``TYPE_CHECKING`` imports below repeat it (ruff and type
# checkers read those without running code); tests/test_exports.py checks all
# three against each other and against each module's own ``__all__``.
_EXPORTS: "Final[dict[str, str]]" = {
    # syncsafe.affected
    "AffectedOverlay": "syncsafe.affected",
    "AffectedReason": "syncsafe.affected",
    "affected_overlays": "syncsafe.affected",
    "changed_paths": "syncsafe.affected",
    "kustomization_directories": "syncsafe.affected",
    "revision_tree": "syncsafe.affected",
    # syncsafe.annotations
    "TOTAL_ANNOTATION_SIZE_LIMIT": "syncsafe.annotations",
    "AnnotationKey": "syncsafe.annotations",
    "annotations_size": "syncsafe.annotations",
    "check_annotations_size": "syncsafe.annotations",
    "get_annotation": "syncsafe.annotations",
    "validate_label_value": "syncsafe.annotations",
    # syncsafe.checksums
    "CHECKSUM_ALGORITHMS": "syncsafe.checksums",
    "CHECKSUM_FORMAT_VERSION": "syncsafe.checksums",
    "GENERATE_MODES": "syncsafe.checksums",
    "LOAD_RESTRICTORS": "syncsafe.checksums",
    "Changes": "syncsafe.checksums",
    "Checksum": "syncsafe.checksums",
    "ChecksumCache": "syncsafe.checksums",
    "ChecksumCacheWarning": "syncsafe.checksums",
    "checksum": "syncsafe.checksums",
    "overlay_checksum": "syncsafe.checksums",
    # syncsafe.guard
    "AsyncSyncGuard": "syncsafe.guard",
    "Fence": "syncsafe.guard",
    "fenced_patch": "syncsafe.guard",
    "GENERATION_ANNOTATION": "syncsafe.guard",
    "current_run": "syncsafe.guard",
    "EtcdTLS": "syncsafe.guard",
    "EtcdSyncGuard": "syncsafe.guard",
    "EtcdRun": "syncsafe.guard",
    "EtcdGuardState": "syncsafe.guard",
    "EtcdAuth": "syncsafe.guard",
    "FileGuardState": "syncsafe.guard",
    "FileSyncGuard": "syncsafe.guard",
    "GuardStatistics": "syncsafe.guard",
    "Outcome": "syncsafe.guard",
    "Policy": "syncsafe.guard",
    "SyncGuard": "syncsafe.guard",
    # syncsafe.paths
    "open_inside": "syncsafe.paths",
    "resolve": "syncsafe.paths",
    # syncsafe.stale
    "CommitTimeLookup": "syncsafe.stale",
    "MetricFamily": "syncsafe.stale",
    "Revision": "syncsafe.stale",
    "Staleness": "syncsafe.stale",
    "format_duration": "syncsafe.stale",
    "git_commit_time": "syncsafe.stale",
    "parse_duration": "syncsafe.stale",
    "parse_duration_ns": "syncsafe.stale",
    "parse_revision": "syncsafe.stale",
    "render_exposition": "syncsafe.stale",
    "staleness": "syncsafe.stale",
    "staleness_metrics": "syncsafe.stale",
    "timedelta_from_ns": "syncsafe.stale",
    "write_textfile": "syncsafe.stale",
    # syncsafe.storm
    "DEFAULT_MAX_SKEW": "syncsafe.storm",
    "PRODUCTION_WORDS": "syncsafe.storm",
    "SYNC_EVENT_REASONS": "syncsafe.storm",
    "AlertState": "syncsafe.storm",
    "EventBatch": "syncsafe.storm",
    "StormAlert": "syncsafe.storm",
    "StormDetector": "syncsafe.storm",
    "StormStatistics": "syncsafe.storm",
    "SyncEvent": "syncsafe.storm",
    "SyncSeries": "syncsafe.storm",
    "events_from": "syncsafe.storm",
    "is_production_namespace": "syncsafe.storm",
    "storm_metrics": "syncsafe.storm",
    # syncsafe.walker
    "Finding": "syncsafe.walker",
    "WalkEntry": "syncsafe.walker",
    "WalkRun": "syncsafe.walker",
    "scan": "syncsafe.walker",
    "walk": "syncsafe.walker",
    # syncsafe.errors
    "AbsoluteSymlinkError": "syncsafe.errors",
    "AnnotationsTooLarge": "syncsafe.errors",
    "CommitTimeOutOfRange": "syncsafe.errors",
    "CorruptManifest": "syncsafe.errors",
    "DanglingSymlinkError": "syncsafe.errors",
    "FileChangedWhileHashing": "syncsafe.errors",
    "GuardStateCorrupt": "syncsafe.errors",
    "LeaseLost": "syncsafe.errors",
    "GuardUnavailable": "syncsafe.errors",
    "FencedOut": "syncsafe.errors",
    "IncomparableChecksums": "syncsafe.errors",
    "InvalidAnnotationKey": "syncsafe.errors",
    "InvalidDuration": "syncsafe.errors",
    "InvalidLabelValue": "syncsafe.errors",
    "InvalidMetric": "syncsafe.errors",
    "InvalidRevision": "syncsafe.errors",
    "KustomizeBuildFailed": "syncsafe.errors",
    "KustomizeUnavailable": "syncsafe.errors",
    "MalformedKustomization": "syncsafe.errors",
    "NaiveTimestamp": "syncsafe.errors",
    "NonCanonicalPath": "syncsafe.errors",
    "PathEscapeError": "syncsafe.errors",
    "ReentrantSync": "syncsafe.errors",
    "RemoteReferenceRefused": "syncsafe.errors",
    "SpecialFileError": "syncsafe.errors",
    "StaleEntryError": "syncsafe.errors",
    "SymlinkLoopError": "syncsafe.errors",
    "SyncFailed": "syncsafe.errors",
    "SyncInProgress": "syncsafe.errors",
    "SyncTimeout": "syncsafe.errors",
    "SyncsafeError": "syncsafe.errors",
    "UnknownAlgorithm": "syncsafe.errors",
    "UnknownCommit": "syncsafe.errors",
    "UnsafePathError": "syncsafe.errors",
    "WindowMovedPast": "syncsafe.errors",
}

__all__ = [
    "CHECKSUM_ALGORITHMS",
    "CHECKSUM_FORMAT_VERSION",
    "DEFAULT_MAX_SKEW",
    "GENERATE_MODES",
    "GENERATION_ANNOTATION",
    "LOAD_RESTRICTORS",
    "PRODUCTION_WORDS",
    "SYNC_EVENT_REASONS",
    "TOTAL_ANNOTATION_SIZE_LIMIT",
    "AbsoluteSymlinkError",
    "AffectedOverlay",
    "AffectedReason",
    "AlertState",
    "AnnotationKey",
    "AnnotationsTooLarge",
    "AsyncSyncGuard",
    "Changes",
    "Checksum",
    "ChecksumCache",
    "ChecksumCacheWarning",
    "CommitTimeLookup",
    "CommitTimeOutOfRange",
    "CorruptManifest",
    "DanglingSymlinkError",
    "EtcdAuth",
    "EtcdGuardState",
    "EtcdRun",
    "EtcdSyncGuard",
    "EtcdTLS",
    "EventBatch",
    "Fence",
    "FencedOut",
    "FileChangedWhileHashing",
    "FileGuardState",
    "FileSyncGuard",
    "Finding",
    "GuardStateCorrupt",
    "GuardStatistics",
    "GuardUnavailable",
    "IncomparableChecksums",
    "InvalidAnnotationKey",
    "InvalidDuration",
    "InvalidLabelValue",
    "InvalidMetric",
    "InvalidRevision",
    "KustomizeBuildFailed",
    "KustomizeUnavailable",
    "LeaseLost",
    "MalformedKustomization",
    "MetricFamily",
    "NaiveTimestamp",
    "NonCanonicalPath",
    "Outcome",
    "PathEscapeError",
    "Policy",
    "ReentrantSync",
    "RemoteReferenceRefused",
    "Revision",
    "SpecialFileError",
    "StaleEntryError",
    "Staleness",
    "StormAlert",
    "StormDetector",
    "StormStatistics",
    "SymlinkLoopError",
    "SyncEvent",
    "SyncFailed",
    "SyncGuard",
    "SyncInProgress",
    "SyncSeries",
    "SyncTimeout",
    "SyncsafeError",
    "UnknownAlgorithm",
    "UnknownCommit",
    "UnsafePathError",
    "WalkEntry",
    "WalkRun",
    "WindowMovedPast",
    "__version__",
    "affected_overlays",
    "annotations_size",
    "changed_paths",
    "check_annotations_size",
    "checksum",
    "current_run",
    "events_from",
    "fenced_patch",
    "format_duration",
    "get_annotation",
    "git_commit_time",
    "is_production_namespace",
    "kustomization_directories",
    "open_inside",
    "overlay_checksum",
    "parse_duration",
    "parse_duration_ns",
    "parse_revision",
    "render_exposition",
    "resolve",
    "revision_tree",
    "scan",
    "staleness",
    "staleness_metrics",
    "storm_metrics",
    "timedelta_from_ns",
    "validate_label_value",
    "walk",
    "write_textfile",
]

if TYPE_CHECKING:  # what the lazy __getattr__ below gives, for type checkers and IDEs
    from typing import Final

    from syncsafe.affected import AffectedOverlay as AffectedOverlay
    from syncsafe.affected import AffectedReason as AffectedReason
    from syncsafe.affected import affected_overlays as affected_overlays
    from syncsafe.affected import changed_paths as changed_paths
    from syncsafe.affected import kustomization_directories as kustomization_directories
    from syncsafe.affected import revision_tree as revision_tree
    from syncsafe.annotations import TOTAL_ANNOTATION_SIZE_LIMIT as TOTAL_ANNOTATION_SIZE_LIMIT
    from syncsafe.annotations import AnnotationKey as AnnotationKey
    from syncsafe.annotations import annotations_size as annotations_size
    from syncsafe.annotations import check_annotations_size as check_annotations_size
    from syncsafe.annotations import get_annotation as get_annotation
    from syncsafe.annotations import validate_label_value as validate_label_value
    from syncsafe.checksums import CHECKSUM_ALGORITHMS as CHECKSUM_ALGORITHMS
    from syncsafe.checksums import CHECKSUM_FORMAT_VERSION as CHECKSUM_FORMAT_VERSION
    from syncsafe.checksums import GENERATE_MODES as GENERATE_MODES
    from syncsafe.checksums import LOAD_RESTRICTORS as LOAD_RESTRICTORS
    from syncsafe.checksums import Changes as Changes
    from syncsafe.checksums import Checksum as Checksum
    from syncsafe.checksums import ChecksumCache as ChecksumCache
    from syncsafe.checksums import ChecksumCacheWarning as ChecksumCacheWarning
    from syncsafe.checksums import checksum as checksum
    from syncsafe.checksums import overlay_checksum as overlay_checksum
    from syncsafe.errors import AbsoluteSymlinkError as AbsoluteSymlinkError
    from syncsafe.errors import AnnotationsTooLarge as AnnotationsTooLarge
    from syncsafe.errors import CommitTimeOutOfRange as CommitTimeOutOfRange
    from syncsafe.errors import CorruptManifest as CorruptManifest
    from syncsafe.errors import DanglingSymlinkError as DanglingSymlinkError
    from syncsafe.errors import FencedOut as FencedOut
    from syncsafe.errors import FileChangedWhileHashing as FileChangedWhileHashing
    from syncsafe.errors import GuardStateCorrupt as GuardStateCorrupt
    from syncsafe.errors import GuardUnavailable as GuardUnavailable
    from syncsafe.errors import IncomparableChecksums as IncomparableChecksums
    from syncsafe.errors import InvalidAnnotationKey as InvalidAnnotationKey
    from syncsafe.errors import InvalidDuration as InvalidDuration
    from syncsafe.errors import InvalidLabelValue as InvalidLabelValue
    from syncsafe.errors import InvalidMetric as InvalidMetric
    from syncsafe.errors import InvalidRevision as InvalidRevision
    from syncsafe.errors import KustomizeBuildFailed as KustomizeBuildFailed
    from syncsafe.errors import KustomizeUnavailable as KustomizeUnavailable
    from syncsafe.errors import LeaseLost as LeaseLost
    from syncsafe.errors import MalformedKustomization as MalformedKustomization
    from syncsafe.errors import NaiveTimestamp as NaiveTimestamp
    from syncsafe.errors import NonCanonicalPath as NonCanonicalPath
    from syncsafe.errors import PathEscapeError as PathEscapeError
    from syncsafe.errors import ReentrantSync as ReentrantSync
    from syncsafe.errors import RemoteReferenceRefused as RemoteReferenceRefused
    from syncsafe.errors import SpecialFileError as SpecialFileError
    from syncsafe.errors import StaleEntryError as StaleEntryError
    from syncsafe.errors import SymlinkLoopError as SymlinkLoopError
    from syncsafe.errors import SyncFailed as SyncFailed
    from syncsafe.errors import SyncInProgress as SyncInProgress
    from syncsafe.errors import SyncsafeError as SyncsafeError
    from syncsafe.errors import SyncTimeout as SyncTimeout
    from syncsafe.errors import UnknownAlgorithm as UnknownAlgorithm
    from syncsafe.errors import UnknownCommit as UnknownCommit
    from syncsafe.errors import UnsafePathError as UnsafePathError
    from syncsafe.errors import WindowMovedPast as WindowMovedPast
    from syncsafe.guard import GENERATION_ANNOTATION as GENERATION_ANNOTATION
    from syncsafe.guard import AsyncSyncGuard as AsyncSyncGuard
    from syncsafe.guard import EtcdAuth as EtcdAuth
    from syncsafe.guard import EtcdGuardState as EtcdGuardState
    from syncsafe.guard import EtcdRun as EtcdRun
    from syncsafe.guard import EtcdSyncGuard as EtcdSyncGuard
    from syncsafe.guard import EtcdTLS as EtcdTLS
    from syncsafe.guard import Fence as Fence
    from syncsafe.guard import FileGuardState as FileGuardState
    from syncsafe.guard import FileSyncGuard as FileSyncGuard
    from syncsafe.guard import GuardStatistics as GuardStatistics
    from syncsafe.guard import Outcome as Outcome
    from syncsafe.guard import Policy as Policy
    from syncsafe.guard import SyncGuard as SyncGuard
    from syncsafe.guard import current_run as current_run
    from syncsafe.guard import fenced_patch as fenced_patch
    from syncsafe.paths import open_inside as open_inside
    from syncsafe.paths import resolve as resolve
    from syncsafe.stale import CommitTimeLookup as CommitTimeLookup
    from syncsafe.stale import MetricFamily as MetricFamily
    from syncsafe.stale import Revision as Revision
    from syncsafe.stale import Staleness as Staleness
    from syncsafe.stale import format_duration as format_duration
    from syncsafe.stale import git_commit_time as git_commit_time
    from syncsafe.stale import parse_duration as parse_duration
    from syncsafe.stale import parse_duration_ns as parse_duration_ns
    from syncsafe.stale import parse_revision as parse_revision
    from syncsafe.stale import render_exposition as render_exposition
    from syncsafe.stale import staleness as staleness
    from syncsafe.stale import staleness_metrics as staleness_metrics
    from syncsafe.stale import timedelta_from_ns as timedelta_from_ns
    from syncsafe.stale import write_textfile as write_textfile
    from syncsafe.storm import DEFAULT_MAX_SKEW as DEFAULT_MAX_SKEW
    from syncsafe.storm import PRODUCTION_WORDS as PRODUCTION_WORDS
    from syncsafe.storm import SYNC_EVENT_REASONS as SYNC_EVENT_REASONS
    from syncsafe.storm import AlertState as AlertState
    from syncsafe.storm import EventBatch as EventBatch
    from syncsafe.storm import StormAlert as StormAlert
    from syncsafe.storm import StormDetector as StormDetector
    from syncsafe.storm import StormStatistics as StormStatistics
    from syncsafe.storm import SyncEvent as SyncEvent
    from syncsafe.storm import SyncSeries as SyncSeries
    from syncsafe.storm import events_from as events_from
    from syncsafe.storm import is_production_namespace as is_production_namespace
    from syncsafe.storm import storm_metrics as storm_metrics
    from syncsafe.walker import Finding as Finding
    from syncsafe.walker import WalkEntry as WalkEntry
    from syncsafe.walker import WalkRun as WalkRun
    from syncsafe.walker import scan as scan
    from syncsafe.walker import walk as walk

# public submodules, importable as attributes: ``syncsafe.annotations``
_SUBMODULES: "Final" = frozenset(
    {
        "affected",
        "annotations",
        "buggy",
        "checksums",
        "cli",
        "errors",
        "guard",
        "paths",
        "stale",
        "storm",
        "strategies",
        "testing",
        "walker",
    }
)

if not TYPE_CHECKING:  # type checkers see the imports above: to them an unknown name is an error

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
    return sorted({*globals(), *_EXPORTS} - {"TYPE_CHECKING"})
