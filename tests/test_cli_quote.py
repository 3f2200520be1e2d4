"""
The command line's one quoting rule for paths in human-readable output.

A file name can hold a newline and ANSI escapes; printed as it is, it can
forge a line ("no unsafe entries") or repaint the terminal. Every path in
text output, on stdout and stderr, goes through ``syncsafe._cli._quote.quote``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from syncsafe import checksum
from syncsafe._cli._quote import quote
from syncsafe.cli import main

_ESCAPE = re.compile(r'\\(?:([abtnvfr"\\])|([0-7]{3}))')
_SIMPLE = {"a": 7, "b": 8, "t": 9, "n": 10, "v": 11, "f": 12, "r": 13, '"': 34, "\\": 92}


def _unquote(text: str) -> str:
    """Git's C-style unquoting: the exact name back from what was printed."""
    if not text.startswith('"'):
        return text
    assert text.endswith('"')
    out = bytearray()
    body = text[1:-1]
    pos = 0
    for match in _ESCAPE.finditer(body):
        out += body[pos : match.start()].encode()
        simple, octal = match.groups()
        out.append(_SIMPLE[simple] if simple else int(octal, 8))
        pos = match.end()
    out += body[pos:].encode()
    return out.decode("utf-8", "surrogateescape")


@pytest.mark.parametrize(
    ("name", "printed"),
    [
        ("deploy.yaml", "deploy.yaml"),
        ("with space.yaml", "with space.yaml"),
        ("café/ünïcode.yaml", "café/ünïcode.yaml"),
        ("a\nb", r'"a\nb"'),
        ("tab\there", r'"tab\there"'),
        ("\x1b[2J", r'"\033[2J"'),
        ('say "hi"', r'"say \"hi\""'),
        ("back\\slash", r'"back\\slash"'),
        ("del\x7f", r'"del\177"'),
        ("csi\x9b", r'"csi\302\233"'),
        ("rtl\u202eoverride", r'"rtl\342\200\256override"'),
        ("line\u2028sep", r'"line\342\200\250sep"'),
        (os.fsdecode(b"latin1-\xe9"), r'"latin1-\351"'),
    ],
)
def test_quote_follows_gits_c_style(name: str, printed: str) -> None:
    """Printable names (non-ASCII too) print as they are; others in git's C-style quotes."""
    assert printed == quote(name)


_NAMES = st.text(st.characters(codec="utf-8") | st.sampled_from(["\udc80", "\udcff", "\x9b"]))


def _check_safe_and_exact(render: Callable[[str], str], name: str) -> None:
    printed = render(name)
    assert printed.isprintable()
    assert name == _unquote(printed)


@given(_NAMES)
def test_quoted_text_is_printable_and_gives_back_the_name(name: str) -> None:
    """Whatever the name, the printed form has no control character and unquotes to it."""
    _check_safe_and_exact(quote, name)


def test_the_property_catches_printing_names_as_they_are() -> None:
    """The same property fails for a renderer that prints names raw (the bug)."""
    with pytest.raises(AssertionError):
        _check_safe_and_exact(str, "evil\n\x1b[2K")
    with pytest.raises(AssertionError):
        _check_safe_and_exact(repr, "plain")  # Python's repr is not the documented rule


# At a terminal: end the line, go up one, erase it, print the clean verdict.
_FORGED = "evil\n\x1b[1A\x1b[2Kno unsafe entries under .\n"


def _forging_link(root: Path) -> str:
    (root / _FORGED).symlink_to("../../etc")
    return _FORGED


def _lines_are_clean(text: str) -> list[str]:
    assert "\x1b" not in text
    lines = text.splitlines()
    assert all(line.isprintable() for line in lines)
    return lines


def test_scan_text_output_cannot_be_forged_by_a_link_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A link named with a newline and ANSI escapes is reported quoted; no fake verdict line."""
    name = _forging_link(tmp_path)
    monkeypatch.chdir(tmp_path)
    assert 1 == main(["scan", "."])
    lines = _lines_are_clean(capsys.readouterr().out)
    finding = r'escape: "evil\n\033[1A\033[2Kno unsafe entries under .\n" -> ../../etc: '
    assert [finding + "resolves outside PATH", "1 unsafe entry under ."] == lines
    assert quote(name) in lines[0]


def test_scan_error_quotes_the_path_on_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An error about PATH names it quoted on stderr."""
    missing = str(tmp_path / "gone\n\x1b[2Kfine")
    assert 2 == main(["scan", missing])
    (line,) = _lines_are_clean(capsys.readouterr().err)
    assert f"syncsafe scan: error: PATH {quote(missing)}: does not exist" == line


def test_checksum_error_quotes_the_link(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An escaping link met by checksum is named quoted in the one-line error."""
    root = tmp_path / "repo"
    root.mkdir()
    name = _forging_link(root)
    assert 2 == main(["checksum", str(root)])
    (line,) = _lines_are_clean(capsys.readouterr().err)
    assert f"{quote(name)} -> ../../etc: resolves outside the root" in line


def test_diff_quotes_each_changed_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A file whose name would forge a diff line is printed quoted, on one line."""
    old, new = tmp_path / "old", tmp_path / "new"
    old.mkdir()
    new.mkdir()
    name = "x\nremoved  deploy.yaml"
    (new / name).write_text("x")
    (tmp_path / "old.json").write_text(checksum(old).to_json())
    (tmp_path / "new.json").write_text(checksum(new).to_json())
    assert 1 == main(["diff", str(tmp_path / "old.json"), str(tmp_path / "new.json")])
    lines = _lines_are_clean(capsys.readouterr().out)
    changed = [line for line in lines if line.startswith(("added", "removed"))]
    assert [f"added    {quote(name)}"] == changed


@pytest.mark.filterwarnings("default")  # as outside pytest: warnings are shown, not raised
def test_a_warning_is_scrubbed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A warning naming a cache file with a newline in its name stays one printable line."""
    tree = tmp_path / "tree"
    tree.mkdir()
    cache = tmp_path / "cache\nsyncsafe checksum: ok"
    cache.write_text("not a cache")
    assert 0 == main(["checksum", str(tree), "--cache", str(cache)])
    err = capsys.readouterr().err
    assert 1 == len(err.splitlines())
    _lines_are_clean(err)
