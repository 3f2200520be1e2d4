from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from syncsafe.testing import ManualClock


def test_clock_starts_aware_and_moves_when_told() -> None:
    """The default start is the incident's morning, in UTC; advance takes seconds or timedelta."""
    clock = ManualClock()
    assert datetime(2024, 10, 12, 9, 0, tzinfo=timezone.utc) == clock()
    assert clock.advance(30) == clock.now() == datetime(2024, 10, 12, 9, 0, 30, tzinfo=timezone.utc)
    assert clock.advance(timedelta(minutes=1)).minute == 1
    assert repr(clock) == "ManualClock(2024-10-12T09:01:30+00:00)"


def test_clock_refuses_naive_times_and_going_back() -> None:
    """A naive start or set, a negative step or an earlier time are errors."""
    with pytest.raises(ValueError, match="naive"):
        ManualClock(datetime(2024, 1, 1))  # noqa: DTZ001 - the point of the test
    clock = ManualClock()
    with pytest.raises(ValueError, match="never goes backwards"):
        clock.advance(-0.5)
    with pytest.raises(ValueError, match="cannot set the clock back"):
        clock.set(datetime(2020, 1, 1, tzinfo=timezone.utc))
    with pytest.raises(ValueError, match="naive"):
        clock.set(datetime(2030, 1, 1))  # noqa: DTZ001
    later = datetime(2030, 1, 1, tzinfo=timezone.utc)
    assert clock.set(later) == later == clock()
