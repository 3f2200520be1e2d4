"""
Test helpers for code that uses syncsafe, and the pytest plugin.

The plugin (:mod:`syncsafe.testing.plugin`) is registered through a
``pytest11`` entry point, so installing syncsafe makes its options and
fixtures available in any pytest run.

- :class:`Sequencer`: force an interleaving of threads and asyncio tasks,
  step by numbered step, to make a race happen on purpose.

The helpers load on first use, so that pytest's import of the plugin stays
cheap.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Final

__all__ = ["Sequencer"]

# public name -> the private module that defines it
_EXPORTS: Final[dict[str, str]] = {"Sequencer": "syncsafe.testing._sequencer"}

if TYPE_CHECKING:
    from syncsafe.testing._sequencer import Sequencer as Sequencer


def __getattr__(name: str) -> object:
    try:
        module = _EXPORTS[name]
    except KeyError:
        msg = f"module 'syncsafe.testing' has no attribute {name!r}"
        raise AttributeError(msg) from None
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
