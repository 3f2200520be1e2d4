"""
The command line's contract, for every subcommand and every kind of bad input.

Exit status 0 when all is well, 1 for a finding, 2 for a usage or I/O error;
an error is one line on stderr that names the path, key or value at fault;
no traceback for an expected error, a warning or Ctrl-C.
"""

from __future__ import annotations

import builtins
import errno
import io
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from syncsafe import checksum
from syncsafe._cli import writing_to
from syncsafe.cli import _COMMANDS, main

# Names the workspace makes unreadable: permission bits, and when those do not
# bind (running as root) a refusal at os.open and io.open, the two ways in.
_DENIED = frozenset({"unreadable.json", "unreadable-dir", "unreadable.yaml"})


class Case(NamedTuple):
    """Run ``syncsafe *argv*``; expect *status*, and *names* in *stream*."""

    argv: tuple[str, ...]
    status: int
    names: str
    stream: str = "err"


def _case(argv: str, status: int, names: str, stream: str = "err") -> Case:
    return Case(tuple(argv.split()), status, names, stream)


# Placeholders in braces are paths in the workspace (see the `where` fixture).
CASES: dict[str, Case] = {
    # scan
    "scan/missing": _case("scan {missing}", 2, "{missing}"),
    "scan/a-file": _case("scan {file}", 2, "{file}"),
    "scan/unreadable": _case("scan {unreadable_dir}", 2, "{unreadable_dir}"),
    "scan/bad-pattern": _case("scan {tree} --exclude !", 2, "'!'"),
    "scan/finding": _case("scan {escaping}", 1, "evil -> ../../etc", "out"),
    "scan/absolute": _case("scan {absolute}", 1, "abs -> /etc", "out"),
    # checksum
    "checksum/missing": _case("checksum {missing}", 2, "{missing}"),
    "checksum/a-file": _case("checksum {file}", 2, "{file}"),
    "checksum/unreadable-root": _case("checksum {unreadable_dir}", 2, "{unreadable_dir}"),
    "checksum/unreadable-file": _case("checksum {unreadable_tree}", 2, "unreadable.yaml"),
    "checksum/bad-algorithm": _case("checksum {tree} --algorithm md5", 2, "'md5'"),
    "checksum/bad-key": _case("checksum {tree} --annotation-key a/b/c", 2, "a/b/c"),
    "checksum/outside-root": _case("checksum {base} --root {tree}", 2, "{base}"),
    "checksum/missing-root": _case("checksum {tree} --root {missing}", 2, "{missing}"),
    "checksum/root-a-file": _case("checksum {tree} --root {file}", 2, "{file}"),
    "checksum/bad-pattern": _case("checksum {tree} --exclude !", 2, "'!'"),
    "checksum/manifest-no-dir": _case("checksum {tree} --manifest {no_dir}", 2, "{no_dir}"),
    "checksum/manifest-a-dir": _case("checksum {tree} --manifest {empty_dir}", 2, "{empty_dir}"),
    "checksum/not-an-overlay": _case("checksum {tree} --overlay --root {base}", 2, "tree"),
    "checksum/check-no-manifest": _case("checksum {tree} --check", 2, "--check"),
    "checksum/update-no-check": _case(
        "checksum {tree} --update --manifest {manifest}", 2, "--update needs --check"
    ),
    "checksum/check-missing": _case("checksum {tree} --check --manifest {missing}", 2, "{missing}"),
    "checksum/check-corrupt": _case(
        "checksum {tree} --check --manifest {corrupt_manifest}", 2, "{corrupt_manifest}"
    ),
    "checksum/check-stale": _case(
        "checksum {tree} --check --manifest {other_manifest}", 1, "removed  new.yaml", "out"
    ),
    "checksum/no-remote": _case(
        "checksum {remote_overlay} --overlay --root {base} --no-remote", 2, "--no-remote"
    ),
    "checksum/malformed-kustomization": _case(
        "checksum {bad_overlay} --overlay --root {base}", 2, "bad-overlay/kustomization.yaml:3:1"
    ),
    # diff
    "diff/missing": _case("diff {missing} {manifest}", 2, "{missing}"),
    "diff/a-dir": _case("diff {manifest} {tree}", 2, "{tree}"),
    "diff/unreadable": _case("diff {unreadable} {manifest}", 2, "{unreadable}"),
    "diff/invalid-json": _case("diff {manifest} {bad_json}", 2, "{bad_json}"),
    "diff/corrupt": _case("diff {manifest} {corrupt_manifest}", 2, "{corrupt_manifest}"),
    "diff/incomparable": _case("diff {manifest} {sha_manifest}", 2, "{sha_manifest}"),
    "diff/finding": _case("diff {manifest} {other_manifest}", 1, "added    new.yaml", "out"),
    "diff/key-changed": _case("diff {manifest} {keyed_manifest}", 1, "annotation key", "out"),
    # key
    "key/invalid": _case(
        "key ok.example.com/a only/one/slash", 1, "only/one/slash: invalid", "out"
    ),
    "key/none": _case("key", 2, "KEY"),
    # storm
    "storm/missing": _case("storm {missing}", 2, "{missing}"),
    "storm/a-dir": _case("storm {tree}", 2, "{tree}"),
    "storm/unreadable": _case("storm {unreadable}", 2, "{unreadable}"),
    "storm/invalid-json": _case("storm {bad_json}", 2, "{bad_json}"),
    "storm/zero-window": _case("storm {events} --window 0s", 2, "'0s'"),
    "storm/negative-window": _case("storm {events} --window=-1m", 2, "'-1m'"),
    "storm/bad-window": _case("storm {events} --window 1d", 2, "'1d'"),
    "storm/negative-for": _case("storm {events} --for=-1m", 2, "'-1m'"),
    "storm/zero-threshold": _case("storm {events} --threshold 0", 2, "--threshold"),
    "storm/naive-now": _case("storm {events} --now 2024-10-12T09:00:00", 2, "--now"),
    "storm/textfile-no-dir": _case("storm {events} --textfile {no_dir}", 2, "{no_dir}"),
    # stale
    "stale/missing": _case("stale {missing} --max-age 1h --repo {base}", 2, "{missing}"),
    "stale/a-dir": _case("stale {tree} --max-age 1h --repo {base}", 2, "{tree}"),
    "stale/unreadable": _case("stale {unreadable} --max-age 1h --repo {base}", 2, "{unreadable}"),
    "stale/invalid-json": _case("stale {bad_json} --max-age 1h --repo {base}", 2, "{bad_json}"),
    "stale/bad-max-age": _case("stale {empty} --max-age 1d --repo {base}", 2, "'1d'"),
    "stale/negative-max-age": _case("stale {empty} --max-age=-1h --repo {base}", 2, "'-1h'"),
    "stale/no-repo": _case("stale {empty} --max-age 1h", 2, "--repo"),
    "stale/bad-revision": _case("stale {bad_revision} --max-age 1h --repo {base}", 2, "nothex"),
    "stale/textfile-no-dir": _case(
        "stale {empty} --max-age 1h --repo {base} --textfile {no_dir}", 2, "{no_dir}"
    ),
    # affected
    "affected/missing-root": _case("affected --root {missing}", 2, "{missing}"),
    "affected/root-a-file": _case("affected --root {file}", 2, "{file}"),
    "affected/not-git": _case("affected --root {tree}", 2, "{tree}"),
    "affected/base-not-git": _case("affected a.yaml --root {tree} --base main", 2, "{tree}"),
    "affected/path-outside": _case("affected {file} --root {tree}", 2, "{file}"),
    # demo
    "demo/bad-scenario": _case("demo --only nope", 2, "'nope'"),
}
GIT_CASES: dict[str, Case] = {
    "affected/unknown-base": _case("affected --root {git} --base nope", 2, "--base nope"),
    "stale/unknown-commit": _case("stale {flux} --max-age 1h --repo {missing}", 2, "{missing}"),
}


def _manifest(tree: Path, algorithm: str = "xxh3-128") -> str:
    return checksum(tree, algorithm=algorithm).to_json()


@pytest.fixture
def where(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """A workspace of good and bad inputs; the placeholders of CASES name its paths."""
    base = tmp_path
    tree = base / "tree"
    tree.mkdir()
    (tree / "a.yaml").write_text("a: 1\n")
    other = base / "other"
    shutil.copytree(tree, other)
    (other / "new.yaml").write_text("new\n")
    escaping = base / "escaping"
    escaping.mkdir()
    (escaping / "evil").symlink_to("../../etc")
    unreadable_tree = base / "unreadable-tree"
    unreadable_tree.mkdir()
    (unreadable_tree / "unreadable.yaml").write_text("secret\n")
    (base / "unreadable-dir").mkdir()
    (base / "unreadable.json").write_text("{}\n")
    (base / "empty-dir").mkdir()
    paths = {
        "base": base,
        "tree": tree,
        "escaping": escaping,
        "unreadable_tree": unreadable_tree,
        "unreadable_dir": base / "unreadable-dir",
        "unreadable": base / "unreadable.json",
        "empty_dir": base / "empty-dir",
        "missing": base / "missing",
        "no_dir": base / "no-such-dir" / "out",
        "file": base / "plain.txt",
        "bad_json": base / "bad.json",
        "empty": base / "empty.json",
        "manifest": base / "manifest.json",
        "other_manifest": base / "other.json",
        "sha_manifest": base / "sha256.json",
        "events": base / "events.json",
        "bad_revision": base / "bad-revision.json",
        "flux": base / "flux.json",
        "remote_overlay": base / "remote-overlay",
        "bad_overlay": base / "bad-overlay",
        "corrupt_manifest": base / "corrupt.json",
        "absolute": base / "absolute",
        "keyed_manifest": base / "keyed.json",
        "git": base / "git",
    }
    paths["git"].mkdir()
    subprocess.run(["git", "init", "-q", str(paths["git"])], check=True)  # noqa: S607
    paths["absolute"].mkdir()
    (paths["absolute"] / "abs").symlink_to("/etc")
    paths["keyed_manifest"].write_text(
        checksum(tree, annotation_key="fluxcd.io/checksum").to_json()
    )
    paths["remote_overlay"].mkdir()
    (paths["remote_overlay"] / "kustomization.yaml").write_text(
        "resources:\n- https://example.com/app.yaml\n"
    )
    paths["bad_overlay"].mkdir()
    (paths["bad_overlay"] / "kustomization.yaml").write_text("resources:\n  - [unclosed\n")
    corrupt = json.loads(_manifest(tree))
    corrupt["files"]["a.yaml"] = corrupt["files"]["a.yaml"][::-1]
    paths["corrupt_manifest"].write_text(json.dumps(corrupt))
    paths["file"].write_text("plain text\n")
    paths["bad_json"].write_text("{nope\n")
    paths["empty"].write_text("")
    paths["manifest"].write_text(_manifest(tree))
    paths["other_manifest"].write_text(_manifest(other))
    paths["sha_manifest"].write_text(_manifest(tree, "sha256"))
    paths["events"].write_text('{"kind": "List", "items": []}\n')

    def kustomization(revision: str) -> str:
        status = {"lastAppliedRevision": revision}
        meta = {"name": "payments", "namespace": "flux-system"}
        return json.dumps({"kind": "Kustomization", "metadata": meta, "status": status})

    paths["bad_revision"].write_text(kustomization("main@sha1:nothex"))
    paths["flux"].write_text(kustomization("main@sha1:" + "f" * 40))
    denied = [paths["unreadable"], paths["unreadable_dir"], unreadable_tree / "unreadable.yaml"]
    for path in denied:
        path.chmod(0)
    if any(os.access(path, os.R_OK) for path in denied):  # root: permissions do not bind
        _refuse_denied_names(monkeypatch)
    yield {name: str(path) for name, path in paths.items()}
    for path in denied:
        path.chmod(0o700)


def _refuse_denied_names(monkeypatch: pytest.MonkeyPatch) -> None:
    real_os_open, real_io_open = os.open, io.open

    def check(path: object) -> None:
        if isinstance(path, (str, os.PathLike)) and os.path.basename(path) in _DENIED:  # noqa: PTH119
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), os.fspath(path))

    def os_open(path: Any, *args: Any, **kwargs: Any) -> int:  # noqa: ANN401 - os.open's own
        check(path)
        return real_os_open(path, *args, **kwargs)

    def io_open(file: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: ANN401 - io.open's own
        check(file)
        return real_io_open(file, *args, **kwargs)

    monkeypatch.setattr(os, "open", os_open)
    monkeypatch.setattr(io, "open", io_open)
    monkeypatch.setattr(builtins, "open", io_open)


def _run(argv: list[str]) -> int:
    """``main(argv)``, with argparse's usage errors turned into their status."""
    try:
        return main(argv)
    except SystemExit as exc:
        return int(str(exc.code))


def _check(case: Case, where: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    argv = [arg.format(**where) for arg in case.argv]
    status = _run(argv)
    captured = capsys.readouterr()
    assert case.status == status, captured
    assert "Traceback" not in captured.out + captured.err
    assert case.names.format(**where) in getattr(captured, case.stream), captured
    if case.status == 2:
        assert f"syncsafe {argv[0]}: error: " in captured.err


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_gets_its_exit_status_and_a_message_naming_it(
    name: str, where: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """Each kind of bad input: the documented status, the culprit named, no traceback."""
    _check(CASES[name], where, capsys)


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
@pytest.mark.parametrize("name", list(GIT_CASES))
def test_bad_input_that_needs_git(
    name: str, where: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """A commit that the repository (here: a missing one) cannot show is status 2, naming it."""
    _check(GIT_CASES[name], where, capsys)


# A wrapper's exit status is its command's: its own contract is in test_cli_run.py.
WRAPPERS = frozenset({"run"})


def _commands() -> list[str]:
    return [name for module in _COMMANDS if (name := module.rsplit(".", 1)[1]) not in WRAPPERS]


def test_every_command_has_bad_input_cases() -> None:
    """The table covers every subcommand: a new command needs its own rows."""
    covered = {case.argv[0] for case in [*CASES.values(), *GIT_CASES.values()]}
    assert set(_commands()) == covered


def test_the_cases_name_no_unknown_placeholder() -> None:
    """Every placeholder in the table is a path the workspace makes (no typo passes silently)."""
    known = {
        "base", "tree", "escaping", "unreadable_tree", "unreadable_dir", "unreadable",
        "empty_dir", "missing", "no_dir", "file", "bad_json", "empty", "manifest",
        "other_manifest", "sha_manifest", "events", "bad_revision", "flux", "git",
        "remote_overlay", "bad_overlay", "corrupt_manifest", "absolute", "keyed_manifest",
    }  # fmt: skip
    used = {
        found
        for case in [*CASES.values(), *GIT_CASES.values()]
        for text in (*case.argv, case.names)
        for found in re.findall(r"\{(\w+)\}", text)
    }
    assert set() == used - known


@pytest.mark.parametrize("command", _commands())
def test_help_has_an_example_and_json(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Every subcommand's --help ends with an example and offers --json."""
    assert 0 == _run([command, "--help"])
    out = capsys.readouterr().out
    assert re.search(rf"\nexample:\n  .*\bsyncsafe {command}\b", out), out
    assert "--json" in out


def _interrupt(_: object) -> int:
    raise KeyboardInterrupt


@pytest.mark.parametrize("command", _commands())
def test_ctrl_c_is_status_130_without_a_traceback(
    command: str,
    where: dict[str, str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Ctrl-C in any command: status 130 and one line on stderr, no traceback."""
    monkeypatch.setattr(f"syncsafe._cli.{command}.run", _interrupt)
    args = {
        "scan": [where["tree"]],
        "checksum": [where["tree"]],
        "diff": [where["manifest"], where["manifest"]],
        "key": ["a"],
        "storm": [where["events"]],
        "stale": [where["events"], "--max-age", "1h", "--repo", where["base"]],
        "demo": [],
        "affected": ["--root", where["tree"], "a.yaml"],
    }[command]
    assert 130 == _run([command, *args])
    captured = capsys.readouterr()
    assert f"syncsafe {command}: interrupted\n" == captured.err
    assert "Traceback" not in captured.out


class _InterruptedStdin:
    """Standard input at which the user presses Ctrl-C after one document."""

    def __init__(self) -> None:
        self.documents_read = 0

    def __iter__(self) -> Iterator[str]:
        self.documents_read += 1
        yield '{"kind": "List", "items": []}\n'
        raise KeyboardInterrupt


@pytest.mark.parametrize("argv", [["storm", "-"], ["stale", "-", "--max-age", "1h", "--repo", "."]])
def test_ctrl_c_while_reading_standard_input(
    argv: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A command reading a watch stream from stdin stops quietly on Ctrl-C."""
    stdin = _InterruptedStdin()
    monkeypatch.setattr(sys, "stdin", stdin)
    assert 130 == _run(argv)
    assert f"syncsafe {argv[0]}: interrupted\n" == capsys.readouterr().err
    assert 1 == stdin.documents_read


@pytest.mark.filterwarnings("default")  # as outside pytest: warnings are shown, not raised
def test_a_warning_is_one_line_naming_the_command(
    where: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A corrupt cache: a one-line warning, no source location; the digest is still right."""
    cache = tmp_path / "cache"
    cache.write_text("not a cache")
    assert 0 == _run(["checksum", where["tree"], "--cache", str(cache)])
    captured = capsys.readouterr()
    assert f"syncsafe checksum: warning: ignoring checksum cache {cache}" in captured.err
    assert 1 == len(captured.err.splitlines())
    assert checksum(where["tree"]).digest + "\n" == captured.out


@pytest.mark.filterwarnings("default")  # as outside pytest: warnings are shown, not raised
def test_a_directory_as_the_cache_is_a_warning_not_an_error(
    where: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--cache naming a directory is the cache's warning (status 0), not an I/O error."""
    cache = tmp_path / "cache-dir"
    cache.mkdir()
    assert 0 == _run(["checksum", where["tree"], "--cache", str(cache)])
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert lines[0].startswith(f"syncsafe checksum: warning: ignoring checksum cache {cache}: ")
    assert all(line.startswith("syncsafe checksum: warning: ") for line in lines)
    assert checksum(where["tree"]).digest + "\n" == captured.out


def test_python_dash_m_help_works_for_every_listed_command() -> None:
    """Every command that 'syncsafe --help' lists has a working 'python -m syncsafe CMD --help'."""

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "syncsafe", *args], capture_output=True, text=True, check=False
        )

    top = run("--help")
    assert 0 == top.returncode
    listed = re.findall(r"^    (\w+) ", top.stdout, re.MULTILINE)
    assert set(_commands()) | WRAPPERS == set(listed)
    for command in listed:
        result = run(command, "--help")
        assert (0, "") == (result.returncode, result.stderr)
        assert re.search(rf"\nexample:\n  .*\bsyncsafe {command}\b", result.stdout)


@pytest.mark.parametrize(
    "error",
    [
        FileNotFoundError(errno.ENOENT, "No such file or directory", "out.json"),
        OSError("no errno at all"),
    ],
)
def test_an_error_that_already_names_the_output_passes_unchanged(error: OSError) -> None:
    """writing_to only renames errors about a temporary file; others pass as they are."""
    with pytest.raises(type(error)) as info, writing_to("out.json"):
        raise error
    assert error is info.value


def test_an_error_about_the_temporary_file_names_the_output() -> None:
    """An error naming the temporary file (and the target) is re-raised naming the target."""
    with pytest.raises(IsADirectoryError) as info, writing_to("out"):
        raise IsADirectoryError(errno.EISDIR, "Is a directory", ".out.x1y2.tmp", "out")
    assert ("out", None) == (info.value.filename, info.value.filename2)


# The fields docs/reference/cli.md documents for each type of error.
_ERROR_FIELDS: dict[str, set[str]] = {
    "FileNotFoundError": {"path", "errno"},
    "PermissionError": {"path", "errno"},
    "IsADirectoryError": {"path", "errno"},
    "NotADirectoryError": {"path", "errno"},
    "PathEscapeError": {"path", "target", "rule"},
    "InvalidAnnotationKey": {"key", "problems"},
    "MalformedKustomization": {"file", "line", "column"},
    "MalformedInput": {"file", "line"},
    "CorruptManifest": {"file"},
    "RemoteReferenceRefused": {"file", "reference"},
    "IncomparableChecksums": {"old", "new", "left", "right"},
    "InvalidRevision": {"revision"},
    "UnknownCommit": {"commit", "repo"},
    "UsageError": set(),
}


def _json_documents(text: str) -> list[Any]:
    """Every JSON document in *text*: one, or JSON lines."""
    decoder = json.JSONDecoder()
    docs, pos = [], 0
    while text[pos:].strip():
        pos += len(text[pos:]) - len(text[pos:].lstrip())
        doc, pos = decoder.raw_decode(text, pos)
        docs.append(doc)
    return docs


def _check_json(case: Case, where: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    argv = [arg.format(**where) for arg in case.argv] + ["--json"]
    status = _run(argv)
    captured = capsys.readouterr()
    assert case.status == status, captured
    docs = _json_documents(captured.out)
    assert docs, captured
    if case.status != 2:
        assert all("error" not in doc for doc in docs if isinstance(doc, dict))
        return
    error = docs[-1]["error"]
    assert f"syncsafe {argv[0]}: error: {error['message']}\n" in captured.err
    assert _ERROR_FIELDS[error["type"]] <= set(error), error
    if "path" in error and error["type"].endswith("Error") and "errno" in error:
        assert error["path"] in captured.err


@pytest.mark.parametrize("name", list(CASES))
def test_with_json_every_outcome_is_json_on_stdout(
    name: str, where: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """--json: the same status, and stdout is JSON: the document, or an error object."""
    _check_json(CASES[name], where, capsys)


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
@pytest.mark.parametrize("name", list(GIT_CASES))
def test_with_json_an_unknown_commit_is_json(
    name: str, where: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """--json: a commit missing from the repository is an UnknownCommit object, status 2."""
    _check_json(GIT_CASES[name], where, capsys)


def test_with_json_ctrl_c_is_json(
    where: dict[str, str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """--json: Ctrl-C is status 130 and an Interrupted error object on stdout."""
    monkeypatch.setattr("syncsafe._cli.scan.run", _interrupt)
    assert 130 == _run(["scan", where["tree"], "--json"])
    assert {"error": {"type": "Interrupted", "message": "interrupted"}} == json.loads(
        capsys.readouterr().out
    )


# Every message of every command, in the command line's words: (case) -> the
# words its output must hold. The inputs are the CASES above.
WORDS: dict[str, str] = {
    "scan/missing": "error: PATH {missing}: does not exist",
    "scan/a-file": "error: PATH {file}: is not a directory",
    "scan/unreadable": "error: PATH {unreadable_dir}: permission denied",
    "scan/bad-pattern": "error: argument --exclude: invalid pattern '!'",
    "scan/finding": "escape: evil -> ../../etc: resolves outside PATH",
    "scan/absolute": "absolute-symlink: abs -> /etc: an absolute symlink (--allow-absolute",
    "checksum/missing": "error: PATH {missing}: does not exist",
    "checksum/a-file": "error: PATH {file}: is not a directory",
    "checksum/unreadable-root": "error: PATH {unreadable_dir}: permission denied",
    "checksum/unreadable-file": "error: unreadable.yaml: permission denied",
    "checksum/bad-algorithm": "argument --algorithm: invalid choice: 'md5'",
    "checksum/bad-key": "error: invalid --annotation-key a/b/c: a qualified name",
    "checksum/outside-root": "error: PATH {base}: resolves outside --root {tree}",
    "checksum/missing-root": "error: --root {missing}: does not exist",
    "checksum/root-a-file": "error: --root {file}: is not a directory",
    "checksum/bad-pattern": "error: argument --exclude: invalid pattern '!'",
    "checksum/manifest-no-dir": "error: --manifest {no_dir}: is in a directory that does not",
    "checksum/manifest-a-dir": "error: --manifest {empty_dir}: is a directory, not a file",
    "checksum/not-an-overlay": "has no kustomization file",
    "checksum/check-no-manifest": "error: --check needs --manifest OUT",
    "checksum/update-no-check": "error: --update needs --check",
    "checksum/check-missing": "error: --manifest {missing}: does not exist",
    "checksum/check-corrupt": "error: --manifest {corrupt_manifest} is not a valid checksum",
    "checksum/check-stale": "--manifest {other_manifest} is not current:\nold ",
    "checksum/no-remote": "refers to the remote base https://example.com/app.yaml, refused by "
    "--no-remote",
    "checksum/malformed-kustomization": "kustomization.yaml:3:1: malformed kustomization:",
    "diff/missing": "error: OLD.json {missing}: does not exist",
    "diff/a-dir": "error: NEW.json {tree}: is a directory, not a file",
    "diff/unreadable": "error: OLD.json {unreadable}: permission denied",
    "diff/invalid-json": "error: NEW.json {bad_json} is not a valid checksum manifest: not JSON",
    "diff/corrupt": "error: NEW.json {corrupt_manifest} is not a valid checksum manifest",
    "diff/incomparable": "is a xxh3-128 (format 1) tree checksum and NEW.json {sha_manifest} a "
    "sha256 (format 1) tree one",
    "diff/finding": "added    new.yaml",
    "diff/key-changed": "annotation key changed: none -> fluxcd.io/checksum",
    "key/invalid": "only/one/slash: invalid\n  - a qualified name must be",
    "key/none": "error: the following arguments are required: KEY",
    "storm/missing": "error: FILE {missing}: does not exist",
    "storm/a-dir": "error: FILE {tree}: is a directory, not a file",
    "storm/unreadable": "error: FILE {unreadable}: permission denied",
    "storm/invalid-json": "error: FILE {bad_json} holds no JSON document: line 1:",
    "storm/zero-window": "argument --window: duration '0s' must be at least 1us",
    "storm/negative-window": "argument --window: duration '-1m' must be at least 1us",
    "storm/bad-window": "argument --window: invalid duration '1d': unknown unit",
    "storm/negative-for": "argument --for: duration '-1m' must not be negative",
    "storm/zero-threshold": "error: --threshold must be positive, not 0",
    "storm/naive-now": "argument --now: time 2024-10-12T09:00:00 has no time zone",
    "storm/textfile-no-dir": "error: --textfile {no_dir}: is in a directory that does not",
    "stale/missing": "error: FILE {missing}: does not exist",
    "stale/a-dir": "error: FILE {tree}: is a directory, not a file",
    "stale/unreadable": "error: FILE {unreadable}: permission denied",
    "stale/invalid-json": "error: FILE {bad_json}: line 1 is not JSON",
    "stale/bad-max-age": "argument --max-age: invalid duration '1d': unknown unit",
    "stale/negative-max-age": "argument --max-age: duration '-1h' must not be negative",
    "stale/no-repo": "error: the following arguments are required: --repo",
    "stale/bad-revision": "error: invalid revision main@sha1:nothex:",
    "stale/textfile-no-dir": "error: --textfile {no_dir}: is in a directory that does not",
    "stale/unknown-commit": "is not in the repository at --repo {missing}",
    "affected/missing-root": "error: --root {missing}: does not exist",
    "affected/root-a-file": "error: --root {file}: is not a directory",
    "affected/not-git": "error: --root {tree} is not a git work tree: give the changed PATHs",
    "affected/base-not-git": "error: --root {tree} is not a git work tree: give the changed PATHs",
    "affected/path-outside": "resolves outside --root {tree}",
    "affected/unknown-base": "error: --base nope is not a commit of the repository at {git}",
    "demo/bad-scenario": "argument --only: invalid choice: 'nope'",
}

# Python's words, which the command line never uses.
_PYTHON_WORDS = re.compile(r"Errno|allow_\w+=|=False|=True|\bNone\b|Traceback|\w+\(\)")


def test_every_case_has_its_words() -> None:
    """The words table covers every case of the contract table, and nothing else."""
    assert set(CASES) | set(GIT_CASES) == set(WORDS)


@pytest.mark.parametrize("name", list(CASES))
def test_messages_speak_of_flags_and_files(
    name: str, where: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """Each message holds its expected words, and none of Python's."""
    _check_words(CASES[name], WORDS[name], where, capsys)


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
@pytest.mark.parametrize("name", list(GIT_CASES))
def test_git_messages_speak_of_flags(
    name: str, where: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """A missing commit's message names --repo."""
    _check_words(GIT_CASES[name], WORDS[name], where, capsys)


def _check_words(
    case: Case, words: str, where: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    _run([arg.format(**where) for arg in case.argv])
    captured = capsys.readouterr()
    text = captured.out + captured.err
    assert words.format(**where) in text, text
    for line in text.splitlines():
        if not line.startswith(("usage:", " ")):  # argparse's usage lines list the options
            assert not _PYTHON_WORDS.search(line), line
