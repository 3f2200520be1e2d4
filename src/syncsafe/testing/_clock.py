"""A controllable clock, for the storm detector and anything else that asks for ``now``."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Final, final

__all__ = ["ManualClock"]

_DEFAULT_START: Final = datetime(2024, 10, 12, 9, 0, tzinfo=timezone.utc)


@final
class ManualClock:
    """
    A clock that moves only when told: ``clock()`` is the time, ``advance`` moves it.

    Always timezone-aware (UTC by default), so it can never feed a naive
    ``now`` to a detector that compares it with aware event timestamps — the
    incident's storm detector's mistake. It never goes backwards: a negative
    step or an earlier ``set`` raises ``ValueError``, as a monotonic clock would
    refuse to. Pass ``clock`` wherever a ``Callable[[], datetime]`` is taken, or
    call ``clock.now()``.

    Unlike ``unittest.mock.patch("datetime.datetime")``, nothing global is
    patched: only code that is handed the clock sees it.

    !!! note "Added in version 0.1.0"
    """

    __slots__ = ("_now",)

    def __init__(self, start: datetime = _DEFAULT_START) -> None:
        if start.tzinfo is None or start.utcoffset() is None:
            msg = f"start {start.isoformat()} is naive: a clock must be timezone-aware"
            raise ValueError(msg)
        self._now = start

    def now(self) -> datetime:
        """The current time."""
        return self._now

    __call__ = now

    def advance(self, step: timedelta | float) -> datetime:
        """Move forward by *step* (a ``timedelta`` or seconds) and return the new time."""
        delta = step if isinstance(step, timedelta) else timedelta(seconds=step)
        if delta < timedelta(0):
            msg = f"cannot advance by {delta}: the clock never goes backwards"
            raise ValueError(msg)
        self._now += delta
        return self._now

    def set(self, when: datetime) -> datetime:
        """Jump forward to *when* (aware, not earlier than now) and return it."""
        if when.tzinfo is None or when.utcoffset() is None:
            msg = f"{when.isoformat()} is naive: a clock must be timezone-aware"
            raise ValueError(msg)
        if when < self._now:
            msg = f"cannot set the clock back from {self._now.isoformat()} to {when.isoformat()}"
            raise ValueError(msg)
        self._now = when
        return when

    def __repr__(self) -> str:
        return f"ManualClock({self._now.isoformat()})"
