"""
Every library error the command line can meet, in the command line's words.

``syncsafe._cli._errors.describe`` phrases each from the error's fields: the
flag a file was given as, no Python parameter, every path quoted by the one
rule. A table: (error, the command line's arguments) -> the message.
"""

from __future__ import annotations

import errno
import re

import pytest

from syncsafe import errors
from syncsafe._cli._errors import CommandError, describe

ARGS = {"out.json": "--manifest", "/srv/repo": "--root", "tree": "PATH"}

CASES: list[tuple[BaseException, str]] = [
    (errors.PathEscapeError("tree"), "PATH tree: resolves outside --root /srv/repo"),
    (errors.PathEscapeError("a/b", "../../x"), "a/b -> ../../x: resolves outside --root /srv/repo"),
    (
        errors.AbsoluteSymlinkError("a", "/etc"),
        "a -> /etc: is an absolute symlink, which is refused",
    ),
    (errors.SymlinkLoopError("a", "b"), "a -> b: is a loop: more than 40 symbolic links followed"),
    (
        errors.SymlinkLoopError("d/up", "..", "."),
        "d/up -> ..: is a loop: it leads back to its own ancestor .",
    ),
    (errors.SpecialFileError("pipe", "FIFO"), "pipe: is a FIFO: special files are never opened"),
    (errors.DanglingSymlinkError("a", "gone"), "a -> gone: points to nothing (a dangling symlink)"),
    (errors.UnsafePathError("a", "changed during the walk"), "a: changed during the walk"),
    (errors.InvalidAnnotationKey("a/b/c", ["too many slashes"]), "invalid a/b/c: too many slashes"),
    (
        errors.MalformedKustomization("k.yaml", "bad", 3, 1),
        "k.yaml:3:1: malformed kustomization: bad",
    ),
    (errors.MalformedKustomization("k.yaml", "bad"), "k.yaml: malformed kustomization: bad"),
    (
        errors.RemoteReferenceRefused("k.yaml", "github.com/x//y"),
        (
            "k.yaml refers to the remote base github.com/x//y, refused by --no-remote: what it "
            "points to is not in the checkout and cannot be hashed"
        ),
    ),
    (
        errors.CorruptManifest("out.json", "truncated"),
        "--manifest out.json is not a valid checksum manifest: truncated",
    ),
    (
        errors.FileChangedWhileHashing("a.yaml", 3, 5),
        (
            "a.yaml changed while it was hashed (3 bytes, then 5): run again once the writer "
            "has finished"
        ),
    ),
    (errors.InvalidRevision("main@x", "no digest"), "invalid revision main@x: no digest"),
    (
        errors.UnknownCommit("f" * 40, "/srv/repo"),
        (
            f"commit {'f' * 40} is not in the repository at --root /srv/repo: fetch it, or "
            "point --repo at the repository the controller applied from"
        ),
    ),
    (errors.InvalidDuration("1d", "unknown unit"), "invalid duration '1d': unknown unit"),
    (
        FileNotFoundError(errno.ENOENT, "No such file or directory", "tree"),
        "PATH tree: does not exist",
    ),
    (
        FileNotFoundError(errno.ENOENT, "No such file or directory", "/no/such/dir/out.json"),
        "/no/such/dir/out.json: is in a directory that does not exist",
    ),
    (
        PermissionError(errno.EACCES, "Permission denied", "out.json"),
        "--manifest out.json: permission denied",
    ),
    (
        IsADirectoryError(errno.EISDIR, "Is a directory", "out.json"),
        "--manifest out.json: is a directory, not a file",
    ),
    (OSError(errno.EIO, "Input/output error", "tree"), "PATH tree: input/output error"),
    (OSError("no errno at all"), "no errno at all"),
    (
        errors.PathEscapeError("new\nline\x1b[2K"),
        r'"new\nline\033[2K": resolves outside --root /srv/repo',
    ),
    (CommandError("--threshold must be positive", "UsageError"), "--threshold must be positive"),
]

_PYTHON_WORDS = re.compile(r"Errno|allow_\w+=|=False|=True|\bNone\b|Traceback")


@pytest.mark.parametrize(("error", "message"), CASES, ids=[type(e).__name__ for e, _ in CASES])
def test_each_error_in_the_command_lines_words(error: BaseException, message: str) -> None:
    """The message names the flag or metavar, quotes paths, and holds no Python words."""
    problem = describe(error, ARGS)
    assert problem is not None
    assert message == problem.message
    assert not _PYTHON_WORDS.search(problem.message)
    assert type(error).__name__ == problem.kind or isinstance(error, CommandError)


def test_an_unexpected_error_is_not_described() -> None:
    """An error no command expects is left to show its traceback."""
    assert describe(KeyError("x"), ARGS) is None


def test_the_json_form_holds_the_fields() -> None:
    """as_json: type, message, and the fields the error names."""
    problem = describe(errors.MalformedKustomization("k.yaml", "bad", 3, 1), {})
    assert problem is not None
    assert {
        "error": {
            "type": "MalformedKustomization",
            "message": "k.yaml:3:1: malformed kustomization: bad",
            "file": "k.yaml",
            "line": 3,
            "column": 1,
        }
    } == problem.as_json()
