"""Type aliases shared by the checksum modules."""

from __future__ import annotations

import os
from typing import TypeAlias

__all__ = ["StrPath"]

StrPath: TypeAlias = "str | os.PathLike[str]"
