from __future__ import annotations

import sys

import pytest

from syncsafe._demo import SCENARIOS, Row, partition, render_table, run_all


def test_every_scenario_shows_the_bug_and_the_fix() -> None:
    """Each scenario has a buggy row that is wrong and a fixed row that is right."""
    rows = run_all()
    for key, _ in SCENARIOS:
        mine = run_all([key])
        assert {r.variant for r in mine} == {"buggy", "fixed"}, key
        assert all(r.correct for r in mine if r.variant == "fixed"), key
        assert not all(r.correct for r in mine if r.variant == "buggy"), key
    assert len(rows) >= 2 * len(SCENARIOS)


def test_unknown_scenario() -> None:
    """Asking for a scenario that does not exist is an error naming it."""
    with pytest.raises(ValueError, match="unknown demo scenario"):
        run_all(["nope"])


def test_table_aligns_columns() -> None:
    """The table has a header, a rule and one line per row."""
    rows = [Row("inc", "buggy", "old", "bad thing", correct=False)]
    lines = render_table(rows).splitlines()
    assert lines[0].split() == ["incident", "variant", "code", "what", "happened", "verdict"]
    assert set(lines[1]) <= {"-", " "}
    assert lines[2].split()[-1] == "WRONG"


def test_the_partition_row_says_in_one_line_when_etcd_cannot_be_had(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without the etcd extra the partition scenario is one row naming what to install."""
    monkeypatch.setitem(sys.modules, "urllib3", None)
    rows = partition.run()
    assert 1 == len(rows)
    assert "syncsafe[demo]" in rows[0].outcome
