"""File helpers shared by the walker's tests."""

from __future__ import annotations

from pathlib import Path

__all__ = ["open_fds", "write_files"]


def open_fds() -> int:
    """How many file descriptors this process has open now."""
    return sum(1 for _ in Path("/proc/self/fd").iterdir())


def write_files(root: Path, files: dict[str, str]) -> None:
    """Write each relative path's text under *root*, creating directories."""
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
