"""
Where a checksum starts: a directory (or file) inside the root, named relative to it.

It owns no path rule: where *path* lies inside the root, and whether it lies
inside at all, is `syncsafe._fs.relative_location`'s to decide (the
containment of every component with it); this module only gives the
checksum's form of the answer, ``""`` for the root itself.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from syncsafe._fs import Root, relative_location

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
    with Root(root) as opened:
        rel = relative_location(opened, os.fspath(path))
    return "" if rel == "." else rel
