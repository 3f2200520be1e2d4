from __future__ import annotations

import sys

import pytest

from syncsafe._demo import SCENARIOS, partition
from syncsafe._demo._table import Row, render_table, run_all


@pytest.fixture(scope="module")
def rows() -> list[Row]:
    """Every scenario's rows, run once for the module."""
    return run_all()


def test_every_scenario_shows_the_bug_and_the_fix() -> None:
    """Each scenario has an incident row that is wrong and a syncsafe row that is right."""
    for key, _ in SCENARIOS:
        mine = run_all([key])
        assert {"buggy", "fixed"} <= {r.variant for r in mine}, key
        assert all(r.correct for r in mine if r.variant == "fixed"), key
        assert not all(r.correct for r in mine if r.variant == "buggy"), key
        assert not any(r.correct for r in mine if r.variant == "attempted fix"), key


def test_the_write_ups_fixes_are_attempted_fixes_not_buggy_rows(rows: list[Row]) -> None:
    """FixedSync() and FixedBuild() are labelled attempted fixes, saying what they still miss."""
    fixes = {r.name.partition(":")[0]: r for r in rows if r.name.startswith("Fixed")}
    assert {"FixedSync()", "FixedBuild()"} == set(fixes)
    assert {"attempted fix"} == {r.variant for r in fixes.values()}
    assert "drops what arrives mid-sync" in fixes["FixedSync()"].outcome
    assert fixes["FixedBuild()"].outcome.startswith("still accepted")


def test_the_storm_row_shows_the_true_rate_and_both_counts(rows: list[Row]) -> None:
    """The fixed storm row names the stream's rate, what the polls could return, and both counts."""
    (fixed,) = [r for r in rows if r.incident == "deployment storm" and r.variant == "fixed"]
    for words in ("1,200 at the 09:20:00 peak", "stream ran 2,100/min", "at most 1,200/min"):
        assert words in fixed.outcome


@pytest.mark.parametrize("width", [40, 60, 80, 100])
def test_the_table_fits_the_terminal_and_shows_each_verdict(rows: list[Row], width: int) -> None:
    """No line is wider than the terminal, and each row's verdict starts one of its lines."""
    lines = render_table(rows, width=width).splitlines()
    assert [] == [line for line in lines if len(line) > width]
    verdicts = [line.split()[0] for line in lines if line.startswith(("  ok ", "  WRONG "))]
    assert ["ok" if r.correct else "WRONG" for r in rows] == verdicts


def test_the_table_counts_the_verdicts() -> None:
    """The last line says how many scenarios syncsafe and the incident's code got right."""
    table = render_table(
        [
            Row("inc", "buggy", "old", "bad thing", correct=False),
            Row("inc", "attempted fix", "Fixed()", "still bad", correct=False),
            Row("inc", "fixed", "new", "good", correct=True),
        ],
        width=200,
    )
    assert table.splitlines()[:4] == [
        "inc",
        "  WRONG  incident code  old",
        "         bad thing",
        "  WRONG  attempted fix  Fixed()",
    ]
    assert table.endswith(
        "syncsafe right in 1 of 1; the incident's code and attempted fixes right in 0 of 2"
    )


def test_unknown_scenario() -> None:
    """Asking for a scenario that does not exist is an error naming it."""
    with pytest.raises(ValueError, match="unknown demo scenario"):
        run_all(["nope"])


def test_the_partition_row_says_in_one_line_when_etcd_cannot_be_had(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without the etcd extra the partition scenario is one row naming what to install."""
    monkeypatch.setitem(sys.modules, "urllib3", None)
    rows = partition.run()
    assert 1 == len(rows)
    assert "syncsafe[demo]" in rows[0].outcome
