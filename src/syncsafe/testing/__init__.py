"""
Test helpers for code that uses syncsafe, and the pytest plugin.

The plugin (:mod:`syncsafe.testing.plugin`) is registered through a
``pytest11`` entry point, so installing syncsafe makes its options and
fixtures available in any pytest run.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

__all__: list[str] = []
