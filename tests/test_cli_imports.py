"""
Which modules each subcommand imports: start-up is paid by every hook and CI step.

``syncsafe key`` must never load the checksum machinery, ``syncsafe --version``
nothing but the command line itself, and a tree checksum no YAML parser or
file lock. Each case runs in a fresh interpreter and lists the syncsafe
modules and the third-party packages it loaded.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from syncsafe import checksum
from syncsafe._cli.checksum import ALGORITHMS, LOAD_RESTRICTORS

_THIRD_PARTY = ("attr", "attrs", "filelock", "hypothesis", "pathspec", "tqdm", "xxhash", "yaml")

_CODE = """
import json, sys
from syncsafe.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
print(json.dumps(sorted(
    m for m in sys.modules
    if m.startswith("syncsafe") or m.split(".")[0] in THIRD_PARTY and "." not in m
)), file=sys.stderr)
"""

_CLI = {
    "syncsafe",
    "syncsafe.cli",
    "syncsafe._cli",
    "syncsafe._cli._errors",
    "syncsafe._cli._quote",
}
_WALK = {
    "syncsafe._fs",
    "syncsafe.errors",
    "syncsafe.walker",
    "syncsafe.walker._engine",
    "syncsafe.walker._entry",
    "syncsafe.walker._listings",
}
_TREE_CHECKSUM = {
    "syncsafe.annotations",
    "syncsafe.checksums",
    "syncsafe.checksums._algorithms",
    "syncsafe.checksums._cache",
    "syncsafe.checksums._format",
    "syncsafe.checksums._location",
    "syncsafe.checksums._read",
    "syncsafe.checksums._sourceignore",
    "syncsafe.checksums._tree",
    "syncsafe.checksums._value",
    "syncsafe.paths",
}
_KUSTOMIZE = {"syncsafe._kustomization", "syncsafe.checksums._overlay"}

# argv (placeholders: {tree}, {manifest}) -> exactly the modules it loads
EXPECTED: dict[str, set[str]] = {
    "--version": _CLI,
    "key fluxcd.io/checksum": _CLI
    | {"syncsafe._cli.key", "syncsafe.annotations", "syncsafe.errors", "attr", "attrs"},
    "key --help": _CLI | {"syncsafe._cli.key"},
    "scan --help": _CLI | {"syncsafe._cli.scan", "syncsafe._cli._args"},
    "scan {tree}": _CLI
    | _WALK
    | {"syncsafe._cli.scan", "syncsafe._cli._args"}
    | {"attr", "attrs", "pathspec"},
    "checksum --help": _CLI | {"syncsafe._cli.checksum", "syncsafe._cli._args"},
    "checksum {tree}": _CLI
    | _WALK
    | _TREE_CHECKSUM
    | {"syncsafe._cli.checksum", "syncsafe._cli._args"}
    | {"attr", "attrs", "pathspec", "xxhash"},
    "checksum {tree} --overlay --root {tree}": _CLI
    | _WALK
    | _TREE_CHECKSUM
    | _KUSTOMIZE
    | {"syncsafe._cli.checksum", "syncsafe._cli._args"}
    | {"attr", "attrs", "pathspec", "xxhash", "yaml"},
    "diff --help": _CLI | {"syncsafe._cli.diff"},
    "diff {manifest} {manifest}": _CLI
    | _WALK
    | _TREE_CHECKSUM
    | {"syncsafe._cli.diff", "attr", "attrs", "pathspec", "xxhash"},
    "demo --help": _CLI | {"syncsafe._cli.demo", "syncsafe._demo"},
}


def _loaded(argv: list[str]) -> set[str]:
    code = _CODE.replace("THIRD_PARTY", repr(_THIRD_PARTY))
    result = subprocess.run(
        [sys.executable, "-c", code, *argv], capture_output=True, text=True, check=True
    )
    return set(json.loads(result.stderr.splitlines()[-1]))


@pytest.mark.parametrize("argv", list(EXPECTED))
def test_each_command_imports_only_what_it_uses(argv: str, tmp_path: Path) -> None:
    """The modules a command line loads are exactly the pinned ones."""
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "kustomization.yaml").write_text("resources: [a.yaml]\n")
    (tree / "a.yaml").write_text("a: 1\n")
    manifest = tmp_path / "m.json"
    manifest.write_text(checksum(tree).to_json())
    args = argv.format(tree=tree, manifest=manifest).split()
    assert EXPECTED[argv] == _loaded(args)


@pytest.mark.parametrize("command", ["storm", "stale"])
def test_the_cluster_commands_load_no_checksum_machinery(command: str) -> None:
    """Registering storm or stale loads neither the checksum package nor its libraries."""
    loaded = _loaded([command, "--help"])
    assert f"syncsafe._cli.{command}" in loaded
    assert set() == loaded & {"syncsafe.checksums", "xxhash", "yaml", "pathspec", "filelock"}


def test_the_algorithm_choices_are_the_librarys() -> None:
    """The checksum command's spelled-out --algorithm choices are CHECKSUM_ALGORITHMS."""
    from syncsafe import CHECKSUM_ALGORITHMS  # noqa: PLC0415

    assert tuple(CHECKSUM_ALGORITHMS) == ALGORITHMS


def test_the_load_restrictor_choices_are_the_librarys() -> None:
    """The checksum command's spelled-out --load-restrictor choices are LOAD_RESTRICTORS."""
    from syncsafe import LOAD_RESTRICTORS as LIBRARY  # noqa: PLC0415

    assert tuple(LIBRARY) == LOAD_RESTRICTORS
