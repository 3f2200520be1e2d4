from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from syncsafe.cli import main


def test_key_valid_and_invalid(capsys: pytest.CaptureFixture[str]) -> None:
    """Valid keys print their parts; any invalid key makes the status 1."""
    assert main(["key", "fluxcd.io/checksum"]) == 0
    out = capsys.readouterr().out
    assert "prefix=fluxcd.io  name=checksum" in out
    assert r"{.metadata.annotations.fluxcd\.io/checksum}" in out
    assert main(["key", "fluxcd.io/checksum", "only/one/slash"]) == 1
    out = capsys.readouterr().out
    assert "only/one/slash: invalid" in out
    assert "2 slashes" in out


def test_key_json(capsys: pytest.CaptureFixture[str]) -> None:
    """--json prints one object per key, with the problems of invalid ones."""
    assert main(["key", "--json", "a", "Example.com/x", "-"]) == 1
    reports = json.loads(capsys.readouterr().out)
    assert [r["valid"] for r in reports] == [True, True, False]
    assert reports[0] == {
        "key": "a",
        "valid": True,
        "prefix": None,
        "name": "a",
        "jsonpath": "{.metadata.annotations.a}",
    }
    assert reports[2]["problems"]


def test_key_label_mode(capsys: pytest.CaptureFixture[str]) -> None:
    """Label keys are validated as written: an uppercase prefix is invalid."""
    assert main(["key", "--label", "Example.com/x"]) == 1
    assert "prefix part must be a lowercase RFC 1123" in capsys.readouterr().out


def test_demo_table(capsys: pytest.CaptureFixture[str]) -> None:
    """The demo prints buggy and fixed rows and exits 0 when every fixed row is right."""
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "dotted annotation key" in out
    assert "WRONG" in out  # the buggy variant's outcome


def test_demo_json(capsys: pytest.CaptureFixture[str]) -> None:
    """--json gives machine-readable rows."""
    assert main(["demo", "--json", "--only", "annotations"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {(r["variant"], r["correct"]) for r in rows} == {("buggy", False), ("fixed", True)}


def test_no_command_prints_help_and_fails(capsys: pytest.CaptureFixture[str]) -> None:
    """A bare 'syncsafe' is a usage error."""
    assert main([]) == 2
    assert "COMMAND" in capsys.readouterr().err


def test_help_has_an_example(capsys: pytest.CaptureFixture[str]) -> None:
    """Every subcommand's --help ends with an example."""
    for command in ("key", "demo"):
        with pytest.raises(SystemExit) as info:
            main([command, "--help"])
        assert info.value.code == 0
        assert f"example:\n  syncsafe {command}" in capsys.readouterr().out


def test_expected_errors_are_one_line_on_stderr(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A SyncsafeError or OSError is reported without a traceback, status 2."""

    def fail(_: object) -> int:
        raise FileNotFoundError(2, "No such file or directory", "nowhere.json")

    monkeypatch.setattr("syncsafe._cli.key.run", fail)
    assert main(["key", "a"]) == 2
    err = capsys.readouterr().err
    assert "syncsafe key: error: nowhere.json: does not exist\n" == err


def test_python_dash_m() -> None:
    """Python -m syncsafe runs the same command line, with its exit status."""
    result = subprocess.run(
        [sys.executable, "-m", "syncsafe", "key", "bad/key/x"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert "invalid" in result.stdout


def test_a_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    """Output cut off by a reader that went away (| head) is no error on stderr."""
    for i in range(2000):
        (tmp_path / f"l{i}").symlink_to(f"/nowhere/{i}")
    scan = subprocess.Popen(
        [sys.executable, "-m", "syncsafe", "scan", "--json", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert scan.stdout is not None
    assert scan.stderr is not None
    scan.stdout.read(10)
    scan.stdout.close()
    err = scan.stderr.read()
    scan.stderr.close()
    assert scan.wait(timeout=60) == 1
    assert b"" == err
