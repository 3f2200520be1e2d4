"""
Test helpers for code that uses syncsafe, and the pytest plugin.

The plugin ([`syncsafe.testing.plugin`][syncsafe.testing.plugin]) is registered through a
``pytest11`` entry point, so installing syncsafe makes its options and
fixtures available in any pytest run.

The tree corpora ([`attack_corpus`][syncsafe.testing._trees.attack_corpus],
[`benign_corpus`][syncsafe.testing._trees.benign_corpus]) describe malicious and benign file trees
declaratively ([`TreeSpec`][syncsafe.testing._trees.TreeSpec]);
[`build_tree`][syncsafe.testing._trees.build_tree] creates one on disk, for testing any code that
reads a checkout. [`Kustomize`][syncsafe.testing._build.Kustomize] is a real ``kustomize build``,
in-process, for checking what a build of a generated repository reads.

!!! note "Added in version 0.1.0"
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Final

# public name -> the module that defines it; loaded on first use (PEP 562),
# because pytest imports this package (for the plugin) in every run.
_EXPORTS: Final[dict[str, str]] = {
    # syncsafe.testing._build
    "KUSTOMIZE_LIBRARY_VARIABLE": "syncsafe.testing._build",
    "Kustomize": "syncsafe.testing._build",
    "KustomizeSample": "syncsafe.testing._kustomize",
    "kustomize_sample": "syncsafe.testing._kustomize",
    # syncsafe.testing._checks
    "ConformanceError": "syncsafe.testing._checks",
    "check_checksum": "syncsafe.testing._checks",
    "check_path_confinement": "syncsafe.testing._checks",
    "check_single_flight": "syncsafe.testing._checks",
    # syncsafe.testing._etcd
    "EtcdCluster": "syncsafe.testing._etcd",
    "etcd_binary": "syncsafe.testing._etcd",
    # syncsafe.testing._clock
    "ManualClock": "syncsafe.testing._clock",
    # syncsafe.testing._sequencer
    "Sequencer": "syncsafe.testing._sequencer",
    # syncsafe.testing._trees
    "ROOT_NAME": "syncsafe.testing._trees",
    "SECRET": "syncsafe.testing._trees",
    "Fifo": "syncsafe.testing._trees",
    "File": "syncsafe.testing._trees",
    "Folder": "syncsafe.testing._trees",
    "Symlink": "syncsafe.testing._trees",
    "TreeSpec": "syncsafe.testing._trees",
    "attack_corpus": "syncsafe.testing._trees",
    "benign_corpus": "syncsafe.testing._trees",
    "build_tree": "syncsafe.testing._trees",
}

__all__ = [
    "KUSTOMIZE_LIBRARY_VARIABLE",
    "ROOT_NAME",
    "SECRET",
    "ConformanceError",
    "EtcdCluster",
    "Fifo",
    "File",
    "Folder",
    "Kustomize",
    "KustomizeSample",
    "ManualClock",
    "Sequencer",
    "Symlink",
    "TreeSpec",
    "attack_corpus",
    "benign_corpus",
    "build_tree",
    "check_checksum",
    "check_path_confinement",
    "check_single_flight",
    "etcd_binary",
    "kustomize_sample",
]

if TYPE_CHECKING:
    from syncsafe.testing._build import KUSTOMIZE_LIBRARY_VARIABLE as KUSTOMIZE_LIBRARY_VARIABLE
    from syncsafe.testing._build import Kustomize as Kustomize
    from syncsafe.testing._checks import ConformanceError as ConformanceError
    from syncsafe.testing._checks import check_checksum as check_checksum
    from syncsafe.testing._checks import check_path_confinement as check_path_confinement
    from syncsafe.testing._checks import check_single_flight as check_single_flight
    from syncsafe.testing._clock import ManualClock as ManualClock
    from syncsafe.testing._etcd import EtcdCluster as EtcdCluster
    from syncsafe.testing._etcd import etcd_binary as etcd_binary
    from syncsafe.testing._kustomize import KustomizeSample as KustomizeSample
    from syncsafe.testing._kustomize import kustomize_sample as kustomize_sample
    from syncsafe.testing._sequencer import Sequencer as Sequencer
    from syncsafe.testing._trees import ROOT_NAME as ROOT_NAME
    from syncsafe.testing._trees import SECRET as SECRET
    from syncsafe.testing._trees import Fifo as Fifo
    from syncsafe.testing._trees import File as File
    from syncsafe.testing._trees import Folder as Folder
    from syncsafe.testing._trees import Symlink as Symlink
    from syncsafe.testing._trees import TreeSpec as TreeSpec
    from syncsafe.testing._trees import attack_corpus as attack_corpus
    from syncsafe.testing._trees import benign_corpus as benign_corpus
    from syncsafe.testing._trees import build_tree as build_tree


def __getattr__(name: str) -> object:
    try:
        module = _EXPORTS[name]
    except KeyError:
        msg = f"module 'syncsafe.testing' has no attribute {name!r}"
        raise AttributeError(msg) from None
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
