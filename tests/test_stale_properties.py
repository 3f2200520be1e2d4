from __future__ import annotations

import re
from datetime import timedelta

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from syncsafe import (
    InvalidDuration,
    format_duration,
    parse_duration,
    parse_duration_ns,
    parse_revision,
)
from syncsafe.buggy import storm as buggy
from syncsafe.strategies import durations

pytestmark = pytest.mark.property

# ---------------------------------------------------------------------------
# A reference parser written from Go's grammar and limits, not from syncsafe's
# scanner: [-+]?([0-9]*(\.[0-9]*)?[a-z]+)+ with a bare "0" allowed, big-integer
# arithmetic, and Go's limits stated as conditions on whole numbers. The one
# thing taken from Go's source as-is is the fraction's float64 formula, which
# defines the result's last nanosecond.

_UNITS = {"ns": 1, "us": 10**3, "\u00b5s": 10**3, "\u03bcs": 10**3, "ms": 10**6}
_UNITS |= {"s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9}
_NUMBER = re.compile(r"([0-9]*)(?:(\.)([0-9]*))?")
_UNIT = re.compile(r"[^0-9.]*")
_LIMIT = 2**63


def _fraction(digits: str, unit: int) -> int:
    # Go keeps the longest prefix of the digits whose value is at most 2**63.
    keep = len(digits)
    while keep and int(digits[:keep]) > _LIMIT:
        keep -= 1
    value = int(digits[:keep] or "0")
    scale = 1.0
    for _ in range(keep):
        scale *= 10
    return int(float(value) * (float(unit) / scale)) if value else 0


def reference_ns(text: str) -> int | None:  # noqa: PLR0911 - one return per rule
    """Go's time.ParseDuration, from its grammar: nanoseconds, or None for an error."""
    neg = text[:1] == "-"
    body = text[1:] if text[:1] in {"+", "-"} else text
    if body == "0":
        return 0
    if not body:
        return None
    total, pos = 0, 0
    while pos < len(body):
        number = _NUMBER.match(body, pos)
        assert number is not None
        whole, _, frac = number.groups(default="")
        if not whole and not frac:
            return None
        unit_text = _UNIT.match(body, number.end())
        assert unit_text is not None
        unit = _UNITS.get(unit_text.group())
        if unit is None:
            return None
        pos = unit_text.end()
        if int(whole or "0") * unit > _LIMIT:
            return None
        term = int(whole or "0") * unit + _fraction(frac, unit)
        if term > _LIMIT:
            return None
        total = (total + term) % 2**64  # Go adds in uint64
        if total > _LIMIT:
            return None
    if neg:
        return -total
    return total if total < _LIMIT else None


def _ours(text: str) -> int | None:
    try:
        return parse_duration_ns(text)
    except InvalidDuration:
        return None


@given(durations())
@example("-9223372036854775808ns")
@example("9223372036854775808ns")
@example("1.00000000000000000000000000000009h")
@example("9223372036854775808ns9223372036854775808ns")
def test_parse_duration_agrees_with_the_go_grammar(text: str) -> None:
    """On strings in and around the grammar, parse_duration_ns accepts and computes what Go does."""
    assert reference_ns(text) == _ours(text)


@given(durations(valid=True))
def test_grammatical_durations_parse_or_overflow(text: str) -> None:
    """A grammatical duration either parses or is refused for overflowing int64 nanoseconds."""
    try:
        ns = parse_duration_ns(text)
    except InvalidDuration as exc:
        problem = exc.problem
    else:
        problem = "overflows int64" if -(2**63) <= ns < 2**63 else "out of range"
    assert "overflows int64" in problem


@given(st.integers(-(2**63), 2**63 - 1))
def test_format_then_parse_round_trips(ns: int) -> None:
    """Every int64 nanosecond count survives format_duration then parse_duration_ns."""
    assert ns == parse_duration_ns(format_duration(ns))


@given(st.integers(-(2**63), 2**63 - 1))
def test_timedelta_is_truncated_toward_zero(ns: int) -> None:
    """parse_duration drops the sub-microsecond remainder toward zero, never past it."""
    td = parse_duration(format_duration(ns))
    micros = td // timedelta(microseconds=1)
    assert abs(ns) // 1000 == abs(micros)
    assert micros == 0 or (micros > 0) == (ns > 0)


@given(st.text())
def test_parse_duration_raises_only_invalid_duration(text: str) -> None:
    """On arbitrary text, parse_duration_ns returns an int64 or raises InvalidDuration naming it."""
    try:
        ns = parse_duration_ns(text)
    except InvalidDuration as exc:
        named = exc.text
    else:
        named = text if -(2**63) <= ns < 2**63 else "out of range"
    assert text == named


@given(st.sampled_from(["sha1", "sha256"]), st.data())
def test_revisions_round_trip(algorithm: str, data: st.DataObject) -> None:
    """str(parse_revision(x)) gives Flux's form back for every ref@algo:hex."""
    length = 40 if algorithm == "sha1" else 64
    digest = data.draw(st.text("0123456789abcdef", min_size=length, max_size=length))
    ref = data.draw(st.one_of(st.none(), st.from_regex(r"[a-z][a-z0-9/._-]{0,20}", fullmatch=True)))
    text = f"{algorithm}:{digest}" if ref is None else f"{ref}@{algorithm}:{digest}"
    revision = parse_revision(text)
    assert text == str(revision)
    assert (ref, algorithm, digest) == (revision.ref, revision.algorithm, revision.digest)


@given(st.integers(1, 10**6), st.sampled_from([("h", 3600), ("m", 60), ("s", 1)]))
def test_max_age_converts_to_seconds(n: int, unit: tuple[str, int]) -> None:
    """A max age such as 24h converts to its seconds (syncsafe's parser)."""
    assert timedelta(seconds=n * unit[1]) == parse_duration(f"{n}{unit[0]}")


def test_the_buggy_case_fails_the_max_age_property() -> None:
    """The script's case patterns convert no max age such as 24h: the property is falsified."""

    @given(st.integers(1, 10**6), st.sampled_from([("h", 3600), ("m", 60), ("s", 1)]))
    def converts(n: int, unit: tuple[str, int]) -> None:
        assert n * unit[1] == buggy.convert_age_to_secs(f"{n}{unit[0]}")

    with pytest.raises(AssertionError):
        converts()
