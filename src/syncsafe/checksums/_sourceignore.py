r"""
``.sourceignore`` files read and matched as Flux reads and matches them.

Flux (``fluxcd/pkg``, package ``sourceignore`` and its ``gitignore`` matcher,
which began as go-git's) is the tool whose artifact the checksum stands for,
so its rules are the ones followed here, quirks included, rather than git's
or the ``pathspec`` library's. They differ in more than one place:

- **Lines** are split on ``\n`` alone, by Go's line scanner, which drops one
  ``\r`` at the end of a line (so CRLF files work). ``\r`` elsewhere, ``\f``,
  ``\x85`` or U+2028 do not end a line. A line of 64 KiB or more ends the
  file: the scanner stops there, and Flux uses the patterns read so far.
- A line is skipped when it starts with ``#`` or holds only white space
  (Go's ``unicode.IsSpace``: ``\t \n \v \f \r``, space, U+0085, U+00A0 and
  the Unicode space separators).
- **Only spaces** are trimmed, and only at the end, unless the line ends
  with ``\\ ``. Leading white space, and a tab, ``\v``, ``\f`` or a second
  ``\r`` at the end, are part of the pattern. A leading ``!`` negates; a
  trailing ``/`` means "directories only".
- Each ``/``-separated part is a Go ``filepath.Match`` pattern: ``*``, ``?``
  (one UTF-8 character, or one byte that is not UTF-8), ``[...]`` negated by
  ``^`` (``!`` is literal there), ``\`` escaping the next byte. A malformed
  pattern (an unclosed ``[``, a trailing ``\``) matches nothing; so does a
  part with ``**`` inside it in a pattern with a ``/`` (``x/a**``; without
  one, ``a**`` is ``a*``).
- A pattern without ``/`` matches a name at any depth below its directory;
  one with ``/`` matches from its directory down, a leading ``**/`` and an
  inner ``/**/`` skipping directories, a trailing ``/**`` everything below
  (and the directory itself).
- The last pattern that matches decides, the deeper ``.sourceignore``
  after the shallower; ``!`` re-includes a file even inside an excluded
  directory, since Flux asks about every file.

Everything here works on bytes, as Go's strings are, so a name that is not
UTF-8 is matched as Flux matches it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Final, final

__all__ = ["EXCLUDE", "INCLUDE", "NO_MATCH", "IgnorePattern", "decide", "read_patterns"]

NO_MATCH: Final = 0
EXCLUDE: Final = 1
INCLUDE: Final = 2

MAX_LINE: Final = 64 * 1024
"""Go's ``bufio.MaxScanTokenSize``: a line (with its ``\\n``) must fit in this many bytes."""

# Go's unicode.IsSpace: the Latin-1 spaces, then the White_Space property beyond.
_GO_SPACE: Final = frozenset(
    "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007"
    "\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
_RUNE_ERROR: Final = 0xFFFD
_META: Final = frozenset(b"*?[\\")
_STAR, _QUESTION, _OPEN, _CLOSE, _CARET, _DASH, _BACKSLASH, _SLASH = b"*?[]^-\\/"


def _blank(line: bytes) -> bool:
    """Whether Go's ``strings.TrimSpace`` leaves nothing of *line*."""
    # A byte that is not UTF-8 decodes as U+FFFD, which is not a space, as in Go.
    return all(c in _GO_SPACE for c in line.decode("utf-8", "replace"))


def read_patterns(data: bytes, domain: tuple[bytes, ...] = ()) -> list[IgnorePattern]:
    """
    The patterns of a ``.sourceignore`` holding *data*, as Flux's ``ReadPatterns`` reads them.

    *domain* is the file's directory, as components relative to the root:
    its patterns apply below it.
    """
    patterns: list[IgnorePattern] = []
    start, size = 0, len(data)
    while start < size:
        end = data.find(b"\n", start)
        if end < 0:
            end = size
        if end - start >= MAX_LINE:  # bufio.ErrTooLong: Flux keeps what it has read
            break
        line = data[start:end]
        start = end + 1
        if line.endswith(b"\r"):  # bufio.ScanLines drops one
            line = line[:-1]
        if not line.startswith(b"#") and not _blank(line):
            patterns.append(IgnorePattern.parse(line, domain))
    return patterns


def decide(patterns: Sequence[IgnorePattern], path: Sequence[bytes], *, is_dir: bool) -> int:
    """
    `EXCLUDE`, `INCLUDE` or `NO_MATCH`: the last matching pattern's answer.

    *patterns* in increasing priority (file by file, shallower first, each
    in its order), as Flux's matcher takes them; *path* as components
    relative to the root.
    """
    for pattern in reversed(patterns):
        result = pattern.match(path, is_dir=is_dir)
        if result != NO_MATCH:
            return result
    return NO_MATCH


@final
class IgnorePattern:
    """One ``.sourceignore`` line, parsed as Flux's ``gitignore.ParsePattern`` parses it."""

    __slots__ = (
        "dir_only",
        "domain",
        "fullmatch",
        "inclusion",
        "is_glob",
        "parts",
        "required",
        "source",
        "valid",
    )

    def __init__(
        self,
        source: bytes,
        domain: tuple[bytes, ...],
        parts: tuple[bytes, ...],
        *,
        inclusion: bool,
        dir_only: bool,
        is_glob: bool,
    ) -> None:
        self.source = source
        self.domain = domain
        self.parts = parts
        self.inclusion = inclusion
        self.dir_only = dir_only
        self.is_glob = is_glob
        # filepath.Match reports a malformed part as an error, which the
        # matcher takes as "no match": such a pattern never matches anything.
        self.valid = all(part in {b"", b"**"} or _well_formed(part) for part in parts)
        # A name pattern of literals and stars only is a regular expression
        # (Go's star, tried at each byte, finds what a backtracking .* finds).
        # The literal parts of a pattern with a slash: a path without each of
        # them among its components cannot match, which saves most _glob calls.
        self.required = tuple(p for p in parts if p not in {b"", b"**"} and not _META & set(p))
        self.fullmatch = None
        if self.valid and not is_glob and not {_QUESTION, _OPEN} & set(parts[0]):
            self.fullmatch = re.compile(_as_regex(parts[0]), re.DOTALL).fullmatch

    @classmethod
    def parse(cls, line: bytes, domain: tuple[bytes, ...] = ()) -> IgnorePattern:
        """*line* (already split from its file) as a pattern scoped to *domain*."""
        source = line
        inclusion = line.startswith(b"!")
        if inclusion:
            line = line[1:]
        if not line.endswith(b"\\ "):
            line = line.rstrip(b" ")  # spaces only: a tab or \v at the end stays
        dir_only = line.endswith(b"/")
        if dir_only:
            line = line[:-1]
        return cls(
            source,
            domain,
            tuple(line.split(b"/")),
            inclusion=inclusion,
            dir_only=dir_only,
            is_glob=b"/" in line,
        )

    def __repr__(self) -> str:
        return f"IgnorePattern({self.source!r}, domain={self.domain!r})"

    def match(self, path: Sequence[bytes], *, is_dir: bool) -> int:
        """What this pattern says of *path* (components relative to the root)."""
        depth = len(self.domain)
        if len(path) <= depth or not self.valid or (depth and tuple(path[:depth]) != self.domain):
            return NO_MATCH
        rest = path[depth:] if depth else path
        fullmatch = self.fullmatch
        if fullmatch is not None:  # the first component it matches decides, as in _name
            found = any(map(fullmatch, rest[:-1] if self.dir_only and not is_dir else rest))
        elif self.is_glob:
            for required in self.required:
                if required not in rest:
                    return NO_MATCH
            found = self._glob(rest, is_dir=is_dir)
        else:
            found = self._name(rest, is_dir=is_dir)
        if not found:
            return NO_MATCH
        return INCLUDE if self.inclusion else EXCLUDE

    def _name(self, path: Sequence[bytes], *, is_dir: bool) -> bool:
        """A pattern without ``/``: the first component it matches decides."""
        part = self.parts[0]
        last = len(path) - 1
        for i, name in enumerate(path):
            if _match(part, name):
                return not (self.dir_only and not is_dir and i == last)
        return False

    def _glob(self, path: Sequence[bytes], *, is_dir: bool) -> bool:  # noqa: C901 - go-git's shape
        """A pattern with ``/``: its parts consumed from the front, ``**`` skipping."""
        rest = list(path)
        matched = False
        traverse = False
        last = len(self.parts) - 1
        for i, part in enumerate(self.parts):
            if part == b"":
                traverse = False
                continue
            if part == b"**":
                if i == last:
                    break
                traverse = True
                continue
            if b"**" in part or not rest:
                return False
            if traverse:
                traverse = False
                while rest:
                    name = rest.pop(0)
                    if _match(part, name):
                        matched = True
                        break
                    if not rest:
                        matched = False
            else:
                if not _match(part, rest[0]):
                    return False
                matched = True
                del rest[0]
        return matched and not (self.dir_only and not is_dir and not rest)


# ------------------------------------------------- Go's filepath.Match, on bytes


def _as_regex(part: bytes) -> bytes:
    """A part made of literals, backslash escapes and ``*`` as a regular expression."""
    out: list[bytes] = []
    i = 0
    while i < len(part):
        c = part[i]
        if c == _STAR:
            out.append(b".*")
        else:
            if c == _BACKSLASH:  # well-formed: a byte follows
                i += 1
            out.append(re.escape(part[i : i + 1]))
        i += 1
    return b"".join(out)


def _rune(s: bytes, at: int) -> tuple[int, int]:
    """Go's ``utf8.DecodeRune`` of ``s[at:]``: code point and length; (U+FFFD, 1) if invalid."""
    lead = s[at]
    if lead < 0x80:  # noqa: PLR2004 - ASCII
        return lead, 1
    if 0xC2 <= lead <= 0xDF:  # noqa: PLR2004 - UTF-8 lead bytes
        n = 2
    elif 0xE0 <= lead <= 0xEF:  # noqa: PLR2004
        n = 3
    elif 0xF0 <= lead <= 0xF4:  # noqa: PLR2004
        n = 4
    else:
        return _RUNE_ERROR, 1
    try:  # Python's strict decoder refuses what Go's does: overlong, surrogates, > U+10FFFF
        return ord(s[at : at + n].decode("utf-8")), n
    except UnicodeDecodeError:
        return _RUNE_ERROR, 1


def _chunk(pattern: bytes) -> tuple[bool, bytes, bytes]:
    """Go's ``scanChunk``: leading stars, the chunk up to the next star outside ``[]``, the rest."""
    stripped = pattern.lstrip(b"*")
    star = len(stripped) != len(pattern)
    in_range = False
    i = 0
    while i < len(stripped):
        c = stripped[i]
        if c == _BACKSLASH:
            if i + 1 < len(stripped):
                i += 1
        elif c == _OPEN:
            in_range = True
        elif c == _CLOSE:
            in_range = False
        elif c == _STAR and not in_range:
            break
        i += 1
    return star, stripped[:i], stripped[i:]


def _escaped(chunk: bytes, at: int) -> tuple[int, int] | None:
    """Go's ``getEsc``: a class bound's code point and where the chunk goes on, or None."""
    if at >= len(chunk) or chunk[at] in {_DASH, _CLOSE}:
        return None
    if chunk[at] == _BACKSLASH:
        at += 1
        if at >= len(chunk):
            return None
    rune, n = _rune(chunk, at)
    if (rune == _RUNE_ERROR and n == 1) or at + n >= len(chunk):
        return None
    return rune, at + n


def _well_formed(pattern: bytes) -> bool:  # noqa: C901 - Go's matchChunk's shape
    """Whether ``filepath.Match`` accepts *pattern* (it reports the rest as ErrBadPattern)."""
    rest = pattern
    while rest:
        _, chunk, rest = _chunk(rest)
        i = 0
        while i < len(chunk):
            c = chunk[i]
            if c == _OPEN:
                i += 1
                if i < len(chunk) and chunk[i] == _CARET:
                    i += 1
                bounds = 0
                while not (i < len(chunk) and chunk[i] == _CLOSE and bounds):
                    low = _escaped(chunk, i)
                    if low is None:
                        return False
                    i = low[1]
                    if chunk[i] == _DASH:
                        high = _escaped(chunk, i + 1)
                        if high is None:
                            return False
                        i = high[1]
                    bounds += 1
                i += 1
            elif c == _BACKSLASH:
                if i + 1 >= len(chunk):
                    return False
                i += 2
            else:
                i += 1
    return True


def _match_chunk(chunk: bytes, s: bytes) -> bytes | None:  # noqa: C901 - Go's shape
    """Go's ``matchChunk`` for a well-formed *chunk*: what is left of *s*, or None."""
    i = 0
    at = 0
    while i < len(chunk):
        if at >= len(s):
            return None
        c = chunk[i]
        if c == _OPEN:
            rune, n = _rune(s, at)
            at += n
            i += 1
            negated = i < len(chunk) and chunk[i] == _CARET
            if negated:
                i += 1
            found = False
            bounds = 0
            while not (chunk[i] == _CLOSE and bounds):
                low = _escaped(chunk, i)
                assert low is not None  # noqa: S101 - checked by _well_formed
                high, i = low[0], low[1]
                if chunk[i] == _DASH:
                    up = _escaped(chunk, i + 1)
                    assert up is not None  # noqa: S101 - checked by _well_formed
                    high, i = up
                found = found or low[0] <= rune <= high
                bounds += 1
            i += 1
            if found == negated:
                return None
        elif c == _QUESTION:
            if s[at] == _SLASH:
                return None
            at += _rune(s, at)[1]
            i += 1
        else:
            if c == _BACKSLASH:
                i += 1
            if chunk[i] != s[at]:
                return None
            at += 1
            i += 1
    return s[at:]


@lru_cache(maxsize=1 << 16)  # names recur (every kustomization.yaml, every directory's files)
def _match(pattern: bytes, name: bytes) -> bool:
    """Go's ``filepath.Match(pattern, name)`` for a well-formed *pattern*."""
    while pattern:
        star, chunk, pattern = _chunk(pattern)
        if star and not chunk:  # a trailing star: the rest, if it holds no separator
            return b"/" not in name
        rest = _match_chunk(chunk, name)
        if rest is not None and (not rest or pattern):
            name = rest
            continue
        if star:
            advanced = None
            for skip in range(len(name)):  # byte by byte, as Go does: even inside a character
                if name[skip] == _SLASH:
                    break
                rest = _match_chunk(chunk, name[skip + 1 :])
                if rest is not None and (rest == b"" or pattern):
                    advanced = rest
                    break
            if advanced is not None:
                name = advanced
                continue
        return False
    return not name
