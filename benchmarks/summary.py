"""
Print each benchmark's ratio to the baseline of its group, from the newest saved run.

``python -m benchmarks.summary .benchmarks``: reads the newest JSON file that
``pytest --benchmark-autosave`` wrote under the folder and prints, per group,
every benchmark's mean time and its ratio to the group's baseline (the
benchmark whose ``extra_info["baseline"]`` is true). A ratio below 1 is faster
than the baseline.
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


def table(data: dict[str, Any]) -> list[str]:
    """The summary lines for one pytest-benchmark JSON document."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for bench in data["benchmarks"]:
        groups.setdefault(bench["group"] or "(no group)", []).append(bench)
    lines = [f"{'group':<28} {'benchmark':<40} {'mean':>12} {'vs baseline':>12}"]
    for group, benches in sorted(groups.items()):
        base = next((b for b in benches if b["extra_info"].get("baseline")), None)
        for bench in sorted(benches, key=lambda b: b["stats"]["mean"]):
            mean = bench["stats"]["mean"]
            ratio = "-" if base is None else f"{mean / base['stats']['mean']:.2f}x"
            marker = " (baseline)" if bench is base else ""
            lines.append(
                f"{group:<28} {bench['name'] + marker:<40} {mean * 1e6:>10.1f}us {ratio:>12}"
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
