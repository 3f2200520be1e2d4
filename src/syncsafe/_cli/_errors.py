"""
What the command line says when a command fails: in its users' words, as text or JSON.

The library's exceptions name their Python parameters (``allow_remote=False``)
and Python's ``OSError`` prints ``[Errno 2] No such file or directory: '...'``.
`describe` turns each into a `Problem` from the exception's
fields: a message that speaks of flags and files (and says which argument a
file was given as), the error's type, and the fields it names (``path``,
``key``, ``file``, ``line``, ...), with every path quoted by
`quote`. ``main`` prints it as one line on
stderr and, with ``--json``, as ``{"error": {...}}`` on stdout too.
"""

from __future__ import annotations

import errno
import os
import sys

from syncsafe._cli._quote import quote

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

__all__ = ["CommandError", "Problem", "UsageError", "describe", "scrub"]


class CommandError(Exception):
    """
    A failure a command reports itself, already in the command line's words.

    Never leaves ``main``: it becomes status 2 and a `Problem`.
    ``fields`` are what the message names, for ``--json``.
    """

    def __init__(self, message: str, kind: str = "CommandError", **fields: object) -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind
        self.fields = fields


class UsageError(CommandError):
    """A bad command line, as argparse reports it, with the usage line of *prog*."""

    def __init__(self, message: str, usage: str, prog: str) -> None:
        super().__init__(message, "UsageError")
        self.usage = usage
        self.prog = prog


class Problem:
    """One failure as the command line reports it: ``kind``, ``message`` and ``fields``."""

    __slots__ = ("fields", "kind", "message")

    def __init__(self, kind: str, message: str, **fields: object) -> None:
        self.kind = kind
        self.message = scrub(message)
        self.fields = fields

    def as_json(self) -> dict[str, object]:
        """``{"error": {"type": ..., "message": ..., field: value, ...}}``."""
        return {"error": {"type": self.kind, "message": self.message, **self.fields}}


def scrub(text: str) -> str:
    """*text* with every character that is not printable written as octal escapes."""
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else quote(char)[1:-1] for char in text)


_REASONS = {
    errno.ENOENT: "does not exist",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EISDIR: "is a directory, not a file",
    errno.ENOTDIR: "is not a directory",
    errno.ELOOP: "has too many levels of symbolic links",
    errno.ENOSPC: "no space is left on its device",
    errno.EROFS: "is on a read-only file system",
    errno.ENAMETOOLONG: "is a name too long for the file system",
}


def _os_error(exc: OSError, named: Callable[[str], str]) -> Problem:
    code = exc.errno
    path = exc.filename
    if code is None or path is None:
        return Problem(type(exc).__name__, exc.strerror or str(exc) or type(exc).__name__)
    path = os.fsdecode(path)
    reason = _REASONS.get(code) or (exc.strerror or os.strerror(code)).lower()
    if code == errno.ENOENT and not os.path.isdir(os.path.dirname(path) or "."):  # noqa: PTH112, PTH120
        reason = "is in a directory that does not exist"
    fields: dict[str, object] = {"path": path, "errno": errno.errorcode.get(code, str(code))}
    return Problem(type(exc).__name__, f"{named(path)}: {reason}", **fields)


def _unsafe_path(exc: Exception, named: Callable[[str], str], root: str) -> Problem:
    from syncsafe import errors  # noqa: PLC0415 - loaded by whatever raised it

    assert isinstance(exc, errors.UnsafePathError)  # noqa: S101 - the caller checked
    path = named(exc.path)
    target: str | None = getattr(exc, "target", None)
    link = path if target is None else f"{path} -> {quote(target)}"
    if isinstance(exc, errors.PathEscapeError):
        rule = f"resolves outside {root}"
    elif isinstance(exc, errors.AbsoluteSymlinkError):
        rule = "is an absolute symlink, which is refused"
    elif isinstance(exc, errors.SymlinkLoopError):
        rule = (
            "is a loop: more than 40 symbolic links followed"
            if exc.ancestor is None
            else f"is a loop: it leads back to its own ancestor {quote(exc.ancestor)}"
        )
    elif isinstance(exc, errors.SpecialFileError):
        rule = f"is a {exc.kind}: special files are never opened"
    elif isinstance(exc, errors.DanglingSymlinkError):
        rule = "points to nothing (a dangling symlink)"
    else:
        rule = exc.rule
    fields = {"path": exc.path, "target": target, "rule": exc.rule}
    return Problem(type(exc).__name__, f"{link}: {rule}", **fields)


def _library_error(  # noqa: PLR0911 - one return per kind of error
    exc: Exception, named: Callable[[str], str], root: str
) -> Problem | None:
    from syncsafe import errors  # noqa: PLC0415 - loaded by whatever raised it

    kind = type(exc).__name__
    if isinstance(exc, errors.UnsafePathError):
        return _unsafe_path(exc, named, root)
    if isinstance(exc, errors.InvalidAnnotationKey):
        problems = "; ".join(exc.problems)
        return Problem(
            kind, f"invalid {named(exc.key)}: {problems}", key=exc.key, problems=list(exc.problems)
        )
    if isinstance(exc, errors.MalformedKustomization):
        where = quote(exc.path) + "".join(f":{n}" for n in (exc.line, exc.column) if n is not None)
        return Problem(
            kind,
            f"{where}: malformed kustomization: {exc.problem}",
            file=exc.path,
            line=exc.line,
            column=exc.column,
        )
    if isinstance(exc, errors.RemoteReferenceRefused):
        return Problem(
            kind,
            f"{quote(exc.path)} refers to the remote base {quote(exc.reference)}, refused by "
            "--no-remote: what it points to is not in the checkout and cannot be hashed",
            file=exc.path,
            reference=exc.reference,
        )
    if isinstance(exc, errors.CorruptManifest):
        return Problem(
            kind,
            f"{named(exc.source)} is not a valid checksum manifest: {exc.problem}",
            file=exc.source,
        )
    if isinstance(exc, errors.FileChangedWhileHashing):
        return Problem(
            kind,
            f"{quote(exc.path)} changed while it was hashed ({exc.expected} bytes, then "
            f"{exc.actual}): run again once the writer has finished",
            path=exc.path,
        )
    if isinstance(exc, errors.InvalidRevision):
        return Problem(
            kind, f"invalid revision {quote(exc.text)}: {exc.problem}", revision=exc.text
        )
    if isinstance(exc, errors.UnknownCommit):
        detail = f" ({exc.detail})" if exc.detail else ""
        return Problem(
            kind,
            f"commit {exc.digest} is not in the repository at {named(exc.repo)}{detail}: "
            "fetch it, or point --repo at the repository the controller applied from",
            commit=exc.digest,
            repo=exc.repo,
        )
    if isinstance(exc, errors.SyncsafeError):
        return Problem(kind, str(exc))
    return None


def describe(exc: BaseException, arguments: Mapping[str, str]) -> Problem | None:
    """
    *exc* in the command line's words, or ``None`` for an error nobody expected.

    *arguments* maps each value given on the command line to the flag or
    metavar it was given as (``{"out.json": "--manifest"}``), so that a
    message about a file says what the file was for.
    """

    def named(value: str) -> str:
        role = arguments.get(value)
        return quote(value) if role is None else f"{role} {quote(value)}"

    if isinstance(exc, CommandError):
        return Problem(exc.kind, exc.message, **exc.fields)
    errors = sys.modules.get("syncsafe.errors")  # loaded by whatever raised one of them
    if errors is not None and isinstance(exc, errors.SyncsafeError):
        roots = [value for value, role in arguments.items() if role == "--root"]
        root = f"--root {quote(roots[0])}" if roots else "the root"
        return _library_error(exc, named, root)
    if isinstance(exc, OSError):
        return _os_error(exc, named)
    return None
