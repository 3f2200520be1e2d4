"""Shared benchmark helpers: every benchmark names its group and whether it is the baseline."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from pytest_benchmark.fixture import BenchmarkFixture

Bench = Callable[..., Any]


@pytest.fixture
def measure(benchmark: BenchmarkFixture) -> Callable[[str, bool], BenchmarkFixture]:
    """Label *benchmark* with its comparison group and baseline role, then hand it back."""

    def label(group: str, baseline: bool) -> BenchmarkFixture:  # noqa: FBT001
        benchmark.group = group
        benchmark.extra_info["baseline"] = baseline
        return benchmark

    return label
