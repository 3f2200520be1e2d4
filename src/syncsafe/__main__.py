"""``python -m syncsafe``: the same as the ``syncsafe`` command."""

from __future__ import annotations

import sys

from syncsafe.cli import main

if __name__ == "__main__":
    sys.exit(main())
