"""Where a checksum starts: a directory (or file) inside the root, named relative to it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from syncsafe.errors import PathEscapeError
from syncsafe.paths import resolve

if TYPE_CHECKING:
    from syncsafe._fs import StrPath

__all__ = ["relative_inside"]


def relative_inside(root: StrPath, path: StrPath) -> str:
    """
    *path* relative to *root*, POSIX, ``""`` for the root itself.

    *path* is taken lexically relative to *root* when it is written below it
    (``repo/overlays/prod`` under ``repo``), so that the files in the result
    keep the names they are reached by; otherwise it may be given by its
    physical location (``/real/checkout/overlays/prod`` under a symlinked
    ``repo``). Either way it is then resolved component by component, so a
    symlink on the way that leaves the root is an error, as is a missing path.
    """
    root_s, path_s = os.fspath(root), os.fspath(path)
    # abspath is lexical on purpose: the path keeps the names it was written with.
    rel = os.path.relpath(os.path.abspath(path_s), os.path.abspath(root_s))  # noqa: PTH100
    if rel == os.pardir or rel.startswith(os.pardir + os.sep):
        real_root, real_path = os.path.realpath(root_s), os.path.realpath(path_s)
        rel = os.path.relpath(real_path, real_root)
        if rel == os.pardir or rel.startswith(os.pardir + os.sep):
            lexical = os.path.abspath(path_s)  # noqa: PTH100 - lexical, as above
            raise PathEscapeError(path_s, None if real_path == lexical else real_path)
    posix = Path(rel).as_posix()
    resolve(root_s, posix)  # every component checked: a link that leaves the root raises
    return "" if posix == "." else posix
