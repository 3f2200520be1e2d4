from __future__ import annotations

import itertools
import json
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from syncsafe.guard._record import (
    Record,
    blank_slot,
    encode,
    parse,
    record_slot,
    slot_size_for,
    update,
)

pytestmark = pytest.mark.property

KEY = "app"
SIZE = 512

State = tuple[int, int, "str | None"]
Write = tuple[int, bytes]
# An on-disk scheme: the first file for a state, the writes that make a new
# state the newest, and the reader. Each write goes to disk whole or torn.
Scheme = tuple[
    Callable[[State], bytearray],
    Callable[[bytes, State], list[Write]],
    Callable[[bytes], State],
]


def _slotted_create(state: State) -> bytearray:
    return bytearray(record_slot(encode(KEY, *state, 1), dir_synced=False, size=SIZE)) + bytearray(
        blank_slot(SIZE)
    )


def _slotted_writes(raw: bytes, state: State) -> list[Write]:
    at, data, blank_at, blank = update(
        parse(raw, KEY, "s"), encode(KEY, *state, 1), dir_synced=True
    )
    return [(at, data), (blank_at, blank)]


def _slotted_read(raw: bytes) -> State:
    record: Record = parse(raw, KEY, "s")
    return record.started, record.finished, record.error


def _naive_create(state: State) -> bytearray:
    return bytearray(encode(KEY, *state, 1).ljust(2 * SIZE))


def _naive_writes(_raw: bytes, state: State) -> list[Write]:
    """The obvious in-place rewrite: one JSON record over the old one, no check, no second slot."""
    return [(0, encode(KEY, *state, 1).ljust(2 * SIZE))]


def _naive_read(raw: bytes) -> State:
    data = json.loads(raw)
    return data["started"], data["finished"], data["error"]


SLOTTED: Scheme = (_slotted_create, _slotted_writes, _slotted_read)
NAIVE: Scheme = (_naive_create, _naive_writes, _naive_read)


@st.composite
def histories(draw: st.DrawFn) -> list[State]:
    """The states one key's file goes through: each run's start, then its end (maybe an error)."""
    states: list[State] = [(draw(st.integers(0, 10**6)), 0, None)]
    states[0] = (states[0][0], states[0][0], None)
    # At most 25 characters: even escaped as surrogate pairs, a record fits a 512-byte slot.
    errors = st.none() | st.text(st.characters(codec="utf-8"), min_size=1, max_size=25)
    for _ in range(draw(st.integers(1, 4))):
        generation = states[-1][0] + 1
        states.append((generation, states[-1][1], states[-1][2]))
        if draw(st.booleans()):  # the run ended (else it died, and the next one starts)
            states.append((generation, generation, draw(errors)))
    return states


@st.composite
def tears(draw: st.DrawFn, length: int) -> list[bool]:
    """
    Which bytes of a write of *length* bytes reached the file.

    Runs of bytes that did and did not, in any order: a write cut short is
    one boundary; stores that land out of order (cache lines, sectors) are
    more.
    """
    boundaries = sorted(draw(st.lists(st.integers(0, length), min_size=1, max_size=6)))
    reached = draw(st.booleans())
    mask: list[bool] = []
    for i in range(length):
        while boundaries and boundaries[0] == i:
            boundaries.pop(0)
            reached = not reached
        mask.append(reached)
    return mask


def _recovered(read: Callable[[bytes], State], raw: bytes) -> State | None:
    """What *read* makes of *raw*; ``None`` if it cannot read it (a key stuck until repaired)."""
    try:
        return read(raw)
    except ValueError:  # GuardStateCorrupt is one
        return None


def crash_recovers(scheme: Scheme, history: list[State], data: st.DataObject) -> None:
    """Write *history*, tear one write and stop: the reader gets the last state or the new one."""
    create, writes, read = scheme
    raw = create(history[0])
    plan = [(previous, state) for previous, state in itertools.pairwise(history)]
    crash_at = data.draw(st.integers(0, len(plan) - 1), label="the state being written")
    for n, (previous, state) in enumerate(plan):
        steps = writes(bytes(raw), state)
        crash = data.draw(st.integers(0, len(steps) - 1)) if n == crash_at else -1
        for step, (at, chunk) in enumerate(steps):
            if step == crash:
                for i, reached in enumerate(data.draw(tears(len(chunk)))):
                    if reached:
                        raw[at + i] = chunk[i]
                assert _recovered(read, bytes(raw)) in {previous, state}
                return
            raw[at : at + len(chunk)] = chunk
        assert state == read(bytes(raw))


@given(histories(), st.data())
def test_a_torn_write_leaves_the_previous_state_or_the_new_one(
    history: list[State], data: st.DataObject
) -> None:
    """Any write cut short, or landing in runs in any order, reads as the old or the new state."""
    crash_recovers(SLOTTED, history, data)


@given(histories())
def test_the_file_at_rest_is_one_json_record(history: list[State]) -> None:
    """Between writes the file is one JSON document: the newest record, as json.loads reads it."""
    raw = _slotted_create(history[0])
    for state in history[1:]:
        for at, chunk in _slotted_writes(bytes(raw), state):
            raw[at : at + len(chunk)] = chunk
        data = json.loads(bytes(raw))
        assert state == (data["started"], data["finished"], data["error"])


@given(st.text(max_size=3000), st.text(max_size=3000))
def test_every_record_fits_the_slot_size_made_for_it(key: str, error: str) -> None:
    """slot_size_for leaves room for the check, the padding and the newline; parse reads it back."""
    record = encode(key, 3, 2, error, 5)
    size = slot_size_for(record)
    raw = record_slot(record, dir_synced=True, size=size) + blank_slot(size)
    assert (3, 2, error, 5, size, 0, True) == tuple(
        getattr(parse(raw, key, "s"), f)
        for f in ("started", "finished", "error", "pid", "slot_size", "newest", "dir_synced")
    )


def test_the_naive_in_place_rewrite_fails_the_torn_write_property() -> None:
    """One JSON record rewritten in place, without a check or a second slot, fails the property."""

    @settings(max_examples=400)  # cheap examples; not every tear misleads the naive reader
    @given(histories(), st.data())
    def naive_crash_recovers(history: list[State], data: st.DataObject) -> None:
        crash_recovers(NAIVE, history, data)

    with pytest.raises(AssertionError):
        naive_crash_recovers()
