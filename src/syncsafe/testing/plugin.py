"""
syncsafe's pytest plugin.

pytest imports this module in every project that installs syncsafe, so it
imports nothing heavy at module level: Hypothesis and syncsafe's primitives
load inside the fixtures that need them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from hypothesis import settings

__all__ = ["pytest_addoption", "syncsafe_hypothesis_settings"]

_DEFAULT_EXAMPLES = 100
_THOROUGH_EXAMPLES = 2_000


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add syncsafe's options, in their own group, each prefixed ``--syncsafe-``."""
    group = parser.getgroup("syncsafe", "syncsafe conformance checks")
    group.addoption(
        "--syncsafe-thorough",
        action="store_true",
        default=False,
        help=(
            f"run syncsafe's property checks with {_THOROUGH_EXAMPLES} examples "
            f"each instead of {_DEFAULT_EXAMPLES}"
        ),
    )


@pytest.fixture
def syncsafe_hypothesis_settings(request: pytest.FixtureRequest) -> settings:
    """Hypothesis settings for syncsafe's checks: thorough under ``--syncsafe-thorough``."""
    from hypothesis import HealthCheck, settings  # noqa: PLC0415 - keep the plugin cheap

    thorough = bool(request.config.getoption("--syncsafe-thorough"))
    return settings(
        max_examples=_THOROUGH_EXAMPLES if thorough else _DEFAULT_EXAMPLES,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )
