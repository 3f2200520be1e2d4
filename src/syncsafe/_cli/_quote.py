r"""
How the command line prints a path (or any text from the tree) for people to read.

A file name may hold any byte but ``/`` and NUL: a newline, a carriage
return, an ANSI escape sequence. Printed as it is, such a name can forge a
line of output (a fake "no unsafe entries") or repaint the terminal to hide
a real finding. Every human-readable line the command line prints, on
stdout or stderr, passes each path through `quote`, which follows
git's C-style quoting (``core.quotePath=false``):

- text whose characters are all printable and hold no ``"`` or ``\`` is
  printed as it is, printable non-ASCII included (``café.yaml``);
- anything else is put in double quotes, with ``\a \b \t \n \v \f \r``,
  ``\"`` and ``\\`` for those characters, and every other character that
  is not printable (control characters, DEL, C1 controls, format characters
  such as bidirectional overrides, line and paragraph separators, bytes that
  are not UTF-8) written as the octal escapes of its UTF-8 bytes
  (``\033``, ``\302\233``).

JSON output needs none of this: JSON escapes control characters itself, and
the paths there are the exact names.
"""

from __future__ import annotations

__all__ = ["quote"]

_ESCAPES = {
    "\a": "\\a",
    "\b": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\v": "\\v",
    "\f": "\\f",
    "\r": "\\r",
    '"': '\\"',
    "\\": "\\\\",
}


def _octal(char: str) -> str:
    try:
        data = char.encode("utf-8", "surrogateescape")  # a byte that was not UTF-8
    except UnicodeEncodeError:  # a lone surrogate that came from no byte
        data = char.encode("utf-8", "surrogatepass")
    return "".join(f"\\{byte:03o}" for byte in data)


def quote(text: str) -> str:
    """*text* as it is when it is safe to print, else in git's C-style quotes."""
    if text.isprintable() and '"' not in text and "\\" not in text:
        return text
    parts = [_ESCAPES.get(char) or (char if char.isprintable() else _octal(char)) for char in text]
    return '"' + "".join(parts) + '"'
