from __future__ import annotations

import json
from pathlib import Path

import pytest

from syncsafe.cli import main


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A checkout with one escaping link and one inbound link."""
    root = tmp_path / "repo"
    (root / "base").mkdir(parents=True)
    (root / "base" / "d.yaml").write_text("d")
    (root / "ok").symlink_to("base")
    (root / "evil").symlink_to("../../etc")
    return root


def test_scan_finds_and_exits_1(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An escaping link is printed with its rule and target; the status is 1."""
    assert main(["scan", str(repo)]) == 1
    out = capsys.readouterr().out
    assert "escape: evil -> ../../etc: resolves outside PATH" in out
    assert "1 unsafe entry under" in out


def test_scan_json(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--json prints one object per finding."""
    assert main(["scan", "--json", str(repo)]) == 1
    (finding,) = json.loads(capsys.readouterr().out)
    assert {"path": "evil", "rule": "escape", "target": "../../etc"} == {
        k: finding[k] for k in ("path", "rule", "target")
    }


def test_scan_clean_tree_exits_0(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """With the bad link excluded there is nothing to report: status 0."""
    assert main(["scan", str(repo), "--exclude", "evil"]) == 0
    assert "no unsafe entries" in capsys.readouterr().out
    assert main(["scan", str(repo), "--exclude", "evil", "--json"]) == 0
    assert [] == json.loads(capsys.readouterr().out)


def test_scan_allow_absolute(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--allow-absolute accepts an absolute link below the root."""
    (tmp_path / "f").write_text("f")
    (tmp_path / "abs").symlink_to(tmp_path / "f")
    assert main(["scan", str(tmp_path)]) == 1
    assert "absolute-symlink" in capsys.readouterr().out
    assert main(["scan", "--allow-absolute", str(tmp_path)]) == 0


def test_scan_missing_root_is_an_io_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A root that does not exist is status 2, one line on stderr."""
    assert main(["scan", str(tmp_path / "nope")]) == 2
    assert "syncsafe scan: error:" in capsys.readouterr().err


def test_scan_help_has_an_example(capsys: pytest.CaptureFixture[str]) -> None:
    """Syncsafe scan --help ends with an example."""
    with pytest.raises(SystemExit):
        main(["scan", "--help"])
    assert "example:\n  syncsafe scan" in capsys.readouterr().out
