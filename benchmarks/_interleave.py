"""
Time several callables in alternating batches, so that drift hits them alike.

pytest-benchmark times one benchmark's rounds, then the next one's. On a
shared machine whose speed drifts over seconds (a virtual machine with busy
neighbours), that alone can move a ratio by a third. Here each round runs
one batch of every candidate in turn, and a candidate's time is its fastest
batch: the ratios of those minimums are what the group's baseline
comparison means, measured under the same conditions.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    from pytest_benchmark.fixture import BenchmarkFixture

__all__ = ["compare", "interleaved", "record"]


def interleaved(
    candidates: Mapping[str, Callable[[], object]], *, rounds: int, calls: int
) -> dict[str, float]:
    """Seconds per call of each candidate: the fastest of *rounds* batches of *calls* calls."""
    best = dict.fromkeys(candidates, float("inf"))
    clock = time.perf_counter
    for _ in range(rounds):
        for name, fn in candidates.items():
            start = clock()
            for _ in range(calls):
                fn()
            best[name] = min(best[name], (clock() - start) / calls)
    return best


def record(extra_info: dict[str, object], times: Mapping[str, float], baseline: str) -> None:
    """Put each time (µs per call) and its ratio to *baseline*'s into *extra_info*."""
    for name, seconds in times.items():
        extra_info[f"{name}_us"] = round(seconds * 1e6, 2)
        if name != baseline:
            extra_info[f"{name}_ratio"] = round(seconds / times[baseline], 3)


def compare(
    bench: BenchmarkFixture,
    candidates: Mapping[str, Callable[[], object]],
    *,
    baseline: str,
    rounds: int,
    calls: int,
) -> dict[str, float]:
    """Run :func:`interleaved` once as *bench*'s measurement, and :func:`record` what it found."""
    once = cast("Callable[..., dict[str, float]]", bench.pedantic)  # untyped in pytest-benchmark
    times = once(interleaved, args=(candidates,), kwargs={"rounds": rounds, "calls": calls})
    record(bench.extra_info, times, baseline)
    return times
