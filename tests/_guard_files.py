"""Test-only access to a FileSyncGuard's state files: writing a record as another process would."""

from __future__ import annotations

import os
from pathlib import Path

from syncsafe import FileGuardState, FileSyncGuard
from syncsafe.guard._file_state import ZERO, open_state, read_all


def write_state(guard: FileSyncGuard, path: Path, state: FileGuardState) -> None:
    """Write *state* as the newest record of the state file at *path*, as *guard* would."""
    states = guard._states
    path_ = os.fspath(path)
    fd = open_state(path_)
    try:
        raw = b"" if fd is None else read_all(fd)
        current = ZERO if fd is None else states.parse(raw, state.key, path_)
        fields = (state.started, state.finished, state.error, current.boot, current.reserved)
        fd, _, _ = states.store(fd, raw, path_, state.key, current, fields=fields)
    finally:
        if fd is not None:
            os.close(fd)
