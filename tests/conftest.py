"""
Hypothesis profiles: ``ci`` (the default for ``make test``), ``dev``, ``thorough``.

And the ``kustomize`` fixture: the real kustomize that ``make kustomize`` installs.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from syncsafe.errors import KustomizeUnavailable
from syncsafe.testing import Kustomize

settings.register_profile(
    "ci",
    max_examples=100,
    deadline=None,  # a loaded CI machine must not turn slowness into failures
    derandomize=True,  # the same examples every run: a red CI is reproducible
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", max_examples=50, deadline=None)
settings.register_profile("thorough", max_examples=2_000, deadline=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


# Where `make kustomize` puts the real kustomize; $SYNCSAFE_KUSTOMIZE_LIBRARY overrides it.
_KUSTOMIZE_LIBRARY = Path(__file__).parent.parent / ".venv" / "kustomize" / "libpykustomize.so"


@pytest.fixture(scope="session")
def kustomize() -> Kustomize:
    """A real kustomize (its Go library); a test that asks for it fails, never skips, without."""
    try:
        return Kustomize.from_environment(_KUSTOMIZE_LIBRARY)
    except KustomizeUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)
