"""
The command line's start-up, as users run it: the installed ``syncsafe`` script, whole processes.

Each target is timed beside its floor in one interleaved run (see
``benchmarks/_interleave.py``), so that the machine's drift hits both alike:

- ``syncsafe --version`` beside ``python -c pass``: at most 3.5x;
- ``syncsafe key fluxcd.io/checksum`` beside ``python -c pass``: at most 6x;
- ``syncsafe checksum .`` on 2,000 files of 16 KiB (200 without
  SYNCSAFE_BENCH_FULL=1) beside ``find . -type f | sort | xargs sha256sum``:
  no slower.

The ratios are recorded in each benchmark's ``extra_info``, not asserted.
The processes run with bytecode caching on, in a private cache directory,
as an installed package runs (an environment that sets
PYTHONDONTWRITEBYTECODE would otherwise compile every module every time).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from benchmarks._interleave import compare

Measure = Callable[[str, bool], BenchmarkFixture]

FULL = os.environ.get("SYNCSAFE_BENCH_FULL") == "1"
ROUNDS = 20 if FULL else 1
FILES = 2_000 if FULL else 200
FILE_SIZE = 16 * 1024
SCRIPT = Path(sys.executable).with_name("syncsafe")


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment of every timed process: bytecode cached, in a directory of its own."""
    assert SCRIPT.is_file(), f"the console script {SCRIPT} is not installed: run make lint"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(tmp_path_factory.mktemp("pycache"))
    return env


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """FILES files of 16 KiB in directories of 100, read once so that they are in the page cache."""
    root = tmp_path_factory.mktemp("cli-tree")
    pool = os.urandom(FILE_SIZE * 8)
    for i in range(FILES):
        directory = root / f"d{i // 100:03d}"
        directory.mkdir(exist_ok=True)
        start = (i * 4099) % (len(pool) - FILE_SIZE)
        (directory / f"f{i:05d}.yaml").write_bytes(pool[start : start + FILE_SIZE])
    for path in root.rglob("*.yaml"):
        path.read_bytes()
    return root


def _process(argv: list[str], env: dict[str, str], cwd: Path | None = None) -> Callable[[], None]:
    def run() -> None:
        subprocess.run(argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL, check=True)

    run()  # once untimed: fills the bytecode cache, and fails loudly if the command does
    return run


def test_startup(measure: Measure, env: dict[str, str]) -> None:
    """The version and key commands, beside python -c pass, interleaved."""
    candidates = {
        "python_pass": _process([sys.executable, "-c", "pass"], env),
        "version": _process([str(SCRIPT), "--version"], env),
        "key": _process([str(SCRIPT), "key", "fluxcd.io/checksum"], env),
    }
    bench = measure("cli-startup", True)  # noqa: FBT003
    times = compare(bench, candidates, baseline="python_pass", rounds=ROUNDS, calls=5)
    assert set(candidates) == set(times)


def test_checksum_against_sha256sum(measure: Measure, env: dict[str, str], tree: Path) -> None:
    """A tree checksum beside find | sort | xargs sha256sum, interleaved, on one tree."""
    pipeline = "find . -type f | sort | xargs sha256sum"
    candidates = {
        "sha256sum_pipeline": _process(["sh", "-c", pipeline], env, tree),
        "checksum": _process([str(SCRIPT), "checksum", "."], env, tree),
    }
    bench = measure(f"cli-checksum-{FILES}-files", True)  # noqa: FBT003
    times = compare(bench, candidates, baseline="sha256sum_pipeline", rounds=ROUNDS, calls=3)
    assert set(candidates) == set(times)
