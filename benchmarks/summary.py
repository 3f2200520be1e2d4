"""
Print each benchmark's ratio to the baseline of its group, from the newest saved run.

``python -m benchmarks.summary .benchmarks``: reads the newest JSON file that
``pytest --benchmark-autosave`` wrote under the folder and prints, per group,
every benchmark's minimum and mean time, its ratio to the group's baseline
(the benchmark whose ``extra_info["baseline"]`` is true) by each, and the
other measurements it recorded (events per second, peak memory). A ratio
below 1 is faster than the baseline. On a shared machine, the ratio of the
minimums is the steadier of the two.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def newest_run(folder: Path) -> Path:
    """The most recently written benchmark JSON under *folder*."""
    runs = sorted(folder.rglob("*.json"), key=lambda p: p.stat().st_mtime)
    if not runs:
        msg = f"no benchmark results under {folder}: run 'make bench' first"
        raise SystemExit(msg)
    return runs[-1]


def _extras(bench: dict[str, Any]) -> str:
    """The measurements a benchmark recorded besides its time (events/s, peak memory, ...)."""
    return "  ".join(
        f"{key}={value:,}" if isinstance(value, int) else f"{key}={value}"
        for key, value in sorted(bench["extra_info"].items())
        if key not in {"baseline", "what"}
    )


def table(data: dict[str, Any]) -> list[str]:
    """The summary lines for one pytest-benchmark JSON document."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for bench in data["benchmarks"]:
        groups.setdefault(bench["group"] or "(no group)", []).append(bench)
    header = (
        f"{'group':<30} {'benchmark':<44} {'min':>11} {'mean':>11} "
        f"{'min ratio':>9} {'mean ratio':>10}  other measurements"
    )
    lines = [header]
    for group, benches in sorted(groups.items()):
        base = next((b for b in benches if b["extra_info"].get("baseline")), None)
        for bench in sorted(benches, key=lambda b: b["stats"]["min"]):
            low, mean = bench["stats"]["min"], bench["stats"]["mean"]
            if base is None:
                by_min = by_mean = "-"
            else:
                by_min = f"{low / base['stats']['min']:.2f}x"
                by_mean = f"{mean / base['stats']['mean']:.2f}x"
            name = bench["name"] + (" (baseline)" if bench is base else "")
            lines.append(
                f"{group:<30} {name:<44} {low * 1e3:>9.3f}ms {mean * 1e3:>9.3f}ms "
                f"{by_min:>9} {by_mean:>10}  {_extras(bench)}"
            )
    return lines


def main(argv: list[str]) -> int:
    """Print the summary of the newest run under argv[0] (default .benchmarks)."""
    path = newest_run(Path(argv[0] if argv else ".benchmarks"))
    print(f"from {path}")  # noqa: T201
    print("\n".join(table(json.loads(path.read_text()))))  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
