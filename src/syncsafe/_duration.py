"""
Go ``time.ParseDuration`` and ``Duration.String``, in Python, exactly.

The parser follows Go's algorithm step by step, with Go's integer widths: the
magnitude accumulates in an unsigned 64-bit integer (``d`` may reach 2**63, so
that ``-9223372036854775808ns`` is valid), fractions are scaled with float64
arithmetic (Python's ``float`` is the same IEEE double, so the truncation
matches Go's bit for bit), and the sum of two maximal terms wraps around
2**64 where Go's does.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Final

from syncsafe.errors import InvalidDuration

__all__ = [
    "format_duration",
    "format_long_duration",
    "parse_duration",
    "parse_duration_ns",
    "timedelta_from_ns",
]

NANOSECOND: Final = 1
MICROSECOND: Final = 1_000
MILLISECOND: Final = 1_000_000
SECOND: Final = 1_000_000_000
MINUTE: Final = 60 * SECOND
HOUR: Final = 60 * MINUTE

_UNITS: Final[dict[str, int]] = {
    "ns": NANOSECOND,
    "us": MICROSECOND,
    "\u00b5s": MICROSECOND,  # U+00B5 MICRO SIGN
    "\u03bcs": MICROSECOND,  # U+03BC GREEK SMALL LETTER MU
    "ms": MILLISECOND,
    "s": SECOND,
    "m": MINUTE,
    "h": HOUR,
}
_UNIT_LIST: Final = "ns, us, \u00b5s, \u03bcs, ms, s, m, h"
_TWO_63: Final = 1 << 63
_UINT64: Final = (1 << 64) - 1
_OVERFLOW: Final = "overflows int64 nanoseconds (about 292 years)"


def _is_digit(c: str) -> bool:
    return "0" <= c <= "9"  # ASCII only: str.isdigit() accepts other scripts' digits


def _leading_int(s: str, i: int) -> tuple[int, int] | None:
    """Go's leadingInt: consume [0-9]* from s[i:]; None on overflow past 2**63."""
    x = 0
    n = len(s)
    while i < n and _is_digit(s[i]):
        if x > _TWO_63 // 10:
            return None
        x = x * 10 + ord(s[i]) - 48
        if x > _TWO_63:
            return None
        i += 1
    return x, i


def _leading_fraction(s: str, i: int) -> tuple[int, float, int]:
    """Go's leadingFraction: digits after '.', precision dropped (not an error) on overflow."""
    x = 0
    scale = 1.0
    overflow = False
    n = len(s)
    while i < n and _is_digit(s[i]):
        if not overflow:
            if x > (_TWO_63 - 1) // 10:
                overflow = True
            else:
                y = x * 10 + ord(s[i]) - 48
                if y > _TWO_63:
                    overflow = True
                else:
                    x = y
                    scale *= 10
        i += 1
    return x, scale, i


def _unit(s: str, i: int) -> tuple[int, int]:
    """The unit at offset *i*: everything up to the next digit or '.'; (its ns, next offset)."""
    j = i
    while j < len(s) and not (s[j] == "." or _is_digit(s[j])):
        j += 1
    if j == i:
        raise InvalidDuration(s, f"missing unit (one of {_UNIT_LIST})")
    unit = _UNITS.get(s[i:j])
    if unit is None:
        raise InvalidDuration(s, f"unknown unit {s[i:j]!r} (one of {_UNIT_LIST})")
    return unit, j


def _term(s: str, i: int) -> tuple[int, int]:
    """One ``[0-9]*(.[0-9]*)?unit`` of *s* from offset *i*: (nanoseconds, next offset)."""
    n = len(s)
    c = s[i]
    if not (c == "." or _is_digit(c)):
        raise InvalidDuration(s, f"expected a number at offset {i}, found {c!r}")
    leading = _leading_int(s, i)
    if leading is None:
        raise InvalidDuration(s, _OVERFLOW)
    v, j = leading
    pre = j != i
    i = j
    f, scale, post = 0, 1.0, False
    if i < n and s[i] == ".":
        f, scale, j = _leading_fraction(s, i + 1)
        post = j != i + 1
        i = j
    if not pre and not post:
        raise InvalidDuration(s, "a number needs a digit before or after '.'")
    unit, j = _unit(s, i)
    if v > _TWO_63 // unit:
        raise InvalidDuration(s, _OVERFLOW)
    v *= unit
    if f > 0:
        # float64, as Go: nanosecond-accurate for fractions of an hour.
        v += int(float(f) * (float(unit) / scale))
        if v > _TWO_63:
            raise InvalidDuration(s, _OVERFLOW)
    return v, j


def parse_duration_ns(text: str) -> int:
    """
    Parse *text* as Go's ``time.ParseDuration`` does; return exact nanoseconds.

    A duration is an optional sign and one or more decimal numbers, each with
    an optional fraction and a unit: ``300ms``, ``-1.5h``, ``2h45m``, ``.5s``,
    ``5.s``. Units are ``ns``, ``us``, ``µs`` (U+00B5), ``μs`` (U+03BC),
    ``ms``, ``s``, ``m``, ``h``; repeated units add (``1h1h`` is two hours).
    A bare ``0`` (also ``+0``, ``-0``) needs no unit. The result is an int64
    nanosecond count: ``-9223372036854775808ns`` is valid, one more is not.

    It does not accept what Go rejects: no whitespace anywhere, no ``d``
    (days differ in length), no empty string, no lone ``.``.

    :raises InvalidDuration: naming *text* and the rule it broke.
    """
    s = text
    i = 0
    neg = False
    if s and s[0] in "+-":
        neg = s[0] == "-"
        i = 1
    if s[i:] == "0":
        return 0
    if i == len(s):
        raise InvalidDuration(text, "empty duration" if not s else "a sign needs a number")
    d = 0
    while i < len(s):
        v, i = _term(text, i)
        d = (d + v) & _UINT64  # Go's uint64 addition: 2**63 + 2**63 wraps to 0
        if d > _TWO_63:
            raise InvalidDuration(text, _OVERFLOW)
    if neg:
        return -d
    if d > _TWO_63 - 1:
        raise InvalidDuration(text, _OVERFLOW)
    return d


def timedelta_from_ns(ns: int) -> timedelta:
    """
    *ns* nanoseconds as a `timedelta`, truncated toward zero.

    ``timedelta`` resolves microseconds: ``1999ns`` becomes one microsecond and
    ``-1999ns`` minus one microsecond (toward zero, never rounded away from it).
    Use [`parse_duration_ns`][syncsafe.stale.parse_duration_ns] where the nanoseconds matter.
    """
    micros = abs(ns) // MICROSECOND
    return timedelta(microseconds=-micros if ns < 0 else micros)


def parse_duration(text: str) -> timedelta:
    """
    Parse *text* as Go's ``time.ParseDuration``; return a ``timedelta``.

    The same grammar, limits and errors as [`parse_duration_ns`][syncsafe.stale.parse_duration_ns];
    any sub-microsecond remainder is truncated toward zero (see
    [`timedelta_from_ns`][syncsafe.stale.timedelta_from_ns]): ``parse_duration("1500ns")`` is one
    microsecond, ``parse_duration("-1500ns")`` minus one.

    :raises InvalidDuration: naming *text* and the rule it broke.
    """
    return timedelta_from_ns(parse_duration_ns(text))


def _frac(v: int, prec: int) -> tuple[str, int]:
    """Go's fmtFrac: the fraction v / 10**prec without trailing zeros, and the integer part."""
    digits: list[str] = []
    printing = False
    for _ in range(prec):
        digit = v % 10
        printing = printing or digit != 0
        if printing:
            digits.append(chr(48 + digit))
        v //= 10
    if printing:
        digits.append(".")
    return "".join(reversed(digits)), v


def format_duration(duration: int | timedelta) -> str:
    """
    Format a duration as Go's ``Duration.String`` does: ``1h2m3.5s``, ``1.5µs``, ``0s``.

    *duration* is a nanosecond count (an int64) or a ``timedelta``. Below one
    second the unit is ``ns``, ``µs`` (U+00B5) or ``ms``; from one second up,
    hours, minutes and seconds, never days. ``parse_duration_ns`` reads every
    result back to the same nanoseconds.

    :raises InvalidDuration: for a value outside int64 nanoseconds.
    """
    if isinstance(duration, timedelta):
        ns = (duration // timedelta(microseconds=1)) * MICROSECOND
    else:
        ns = duration
    if not -_TWO_63 <= ns < _TWO_63:
        raise InvalidDuration(str(duration), _OVERFLOW)
    return _format_ns(ns)


def format_long_duration(duration: timedelta) -> str:
    """
    *duration* as [`format_duration`][] writes it, with no int64 limit: ``70080000h0m0s``.

    For ages, where a ``timedelta`` can span thousands of years (a commit
    dated in the year 9999, a ``--now`` in the year 1); Go cannot parse the
    result back when it is beyond about 292 years.
    """
    return _format_ns((duration // timedelta(microseconds=1)) * MICROSECOND)


def _format_ns(ns: int) -> str:
    """Go's ``Duration.String`` of *ns* nanoseconds, for any integer."""
    neg = ns < 0
    u = -ns if neg else ns
    if u < SECOND:
        if u == 0:
            return "0s"
        if u < MICROSECOND:
            body = f"{u}ns"
        elif u < MILLISECOND:
            frac, whole = _frac(u, 3)
            body = f"{whole}{frac}\u00b5s"
        else:
            frac, whole = _frac(u, 6)
            body = f"{whole}{frac}ms"
    else:
        frac, secs = _frac(u, 9)
        body = f"{secs % 60}{frac}s"
        minutes = secs // 60
        if minutes > 0:
            body = f"{minutes % 60}m{body}"
            hours = minutes // 60
            if hours > 0:
                body = f"{hours}h{body}"
    return f"-{body}" if neg else body
