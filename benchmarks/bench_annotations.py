"""AnnotationKey.parse against a bare regular-expression check and the incident's split."""

from __future__ import annotations

import re
from collections.abc import Callable

from pytest_benchmark.fixture import BenchmarkFixture

from syncsafe import AnnotationKey
from syncsafe.buggy import annotations as buggy

KEYS = [
    "fluxcd.io/checksum",
    "argocd.argoproj.io/sync-wave",
    "kustomize.toolkit.fluxcd.io/reconcile",
    "app.kubernetes.io/name",
    "checksum",
] * 20
OBJ = {"metadata": {"annotations": dict.fromkeys(KEYS, "v")}}
_BARE = re.compile(r"(?:[a-z0-9.-]{1,253}/)?[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?")

Measure = Callable[[str, bool], BenchmarkFixture]


def _parse_all() -> int:
    return sum(1 for k in KEYS if AnnotationKey.parse(k).name)


def _bare_regex_all() -> int:
    return sum(1 for k in KEYS if _BARE.fullmatch(k))


def test_parse(measure: Measure) -> None:
    """Full validation with every rule, 100 keys."""
    assert measure("annotation-key-parse", False)(_parse_all) == len(KEYS)  # noqa: FBT003


def test_bare_regex_baseline(measure: Measure) -> None:
    """Baseline: one loose regular expression, no error reporting, 100 keys."""
    assert measure("annotation-key-parse", True)(_bare_regex_all) == len(KEYS)  # noqa: FBT003


def test_buggy_split_lookup(measure: Measure) -> None:
    """The incident's dot-split lookup (wrong, but the cost of a plain lookup)."""
    misses = measure("annotation-lookup", True)(  # noqa: FBT003
        lambda: sum(1 for k in KEYS if buggy.get_annotation(OBJ, k) is None)
    )
    assert misses == 80


def test_get_annotation(measure: Measure) -> None:
    """Exact lookup with key validation, 100 keys."""
    from syncsafe import get_annotation  # noqa: PLC0415

    found = measure("annotation-lookup", False)(  # noqa: FBT003
        lambda: sum(1 for k in KEYS if get_annotation(OBJ, k) == "v")
    )
    assert found == len(KEYS)
