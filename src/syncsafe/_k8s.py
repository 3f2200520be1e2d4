"""Small helpers for Kubernetes object data: RFC 3339 times, aware datetimes."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Final

from syncsafe.errors import NaiveTimestamp

__all__ = ["parse_time", "require_aware"]

# RFC 3339 as the API server writes metav1.Time and metav1.MicroTime: seconds
# required, any number of fraction digits, an offset required ('Z' or ±hh:mm).
_RFC3339: Final = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?"
    r"(?:([Zz])|([+-])(\d{2}):(\d{2}))?"
)


def require_aware(what: str, value: datetime) -> datetime:
    """*value* if it carries a time zone; otherwise raise [`NaiveTimestamp`][] naming *what*."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise NaiveTimestamp(what, value.isoformat())
    return value


def parse_time(text: str) -> datetime:
    """
    An RFC 3339 time (``2024-10-12T09:17:03Z``, ``...03.123456789+02:00``) as an aware datetime.

    Fractions beyond microseconds are truncated.

    :raises NaiveTimestamp: when the text has no offset (a wall-clock time in no known zone).
    :raises ValueError: when it is not RFC 3339 at all.
    """
    m = _RFC3339.fullmatch(text)
    if m is None:
        msg = f"{text!r} is not an RFC 3339 time"
        raise ValueError(msg)
    year, month, day, hour, minute, second = (int(g) for g in m.group(1, 2, 3, 4, 5, 6))
    micros = int((m.group(7) or "").ljust(6, "0")[:6])
    if m.group(8):
        tz = timezone.utc
    elif m.group(9):
        offset = timedelta(hours=int(m.group(10)), minutes=int(m.group(11)))
        tz = timezone(-offset if m.group(9) == "-" else offset)
    else:
        raise NaiveTimestamp("time", text)
    return datetime(year, month, day, hour, minute, second, micros, tzinfo=tz)
