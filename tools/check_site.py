"""Fail when the built site shows markup that was meant to be rendered.

Run after ``mkdocs build`` (``make docs`` does)::

    python tools/check_site.py [SITE_DIR]

It reads every HTML page of the site (``site/`` by default) and looks at the
text a reader sees, outside ``<pre>`` blocks, for

* a Sphinx role: ``:func:`x```, ``:class:`x``` and any other ``:name:`x```;
* a Sphinx field the docstring parser left as text: ``:param x:``, ``:raises E:``;
* a reStructuredText directive: ``.. versionadded::``, ``.. note::``;
* a Markdown admonition left as text: ``!!! note``;
* a paragraph ending in ``::``, reStructuredText's literal-block marker;
* a cross-reference autorefs did not resolve: an ``<autoref>`` element left
  in the page, or the Markdown ``[text][identifier]`` left as text.

Each finding is printed as ``page: what: "text around it"``; the exit status is
1 when there is any, 0 otherwise.
"""

from __future__ import annotations

import re
import sys
from html.parser import HTMLParser
from pathlib import Path

# Inline code stands in the text as this one token: markup quoted in code
# (`:func:` in prose about roles) is not markup left unrendered.
CODE = "\x00code\x01"
CHECKS = (
    # A raw role renders as ":func:" in text, then its target in <code>.
    ("raw role", re.compile(r":(?:[a-z]+:)?[a-z]+:" + CODE)),
    (
        "raw field",
        re.compile(
            r"(?m)^\s*:(?:param|type|raises?|returns?|rtype|yields?|ivar|cvar|var)\b[^:\n]*:"
        ),
    ),
    ("raw directive", re.compile(r"\.\. [a-z][\w-]*::")),
    ("raw admonition", re.compile(r"!!!\s*[a-z]+")),
    ("literal-block marker", re.compile(r"::\s*\Z")),
    ("unresolved cross-reference", re.compile(r"\]\[[A-Za-z_][\w.]*\]")),
)
SKIPPED = {"pre", "script", "style", "textarea"}
BLOCKS = {"p", "li", "dd", "dt", "td", "th", "h1", "h2", "h3", "h4", "h5", "h6", "div"}


class _Text(HTMLParser):
    """The reader's text of a page, one string per block element, inline code as ``CODE``."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[tuple[str, list[str]]] = []
        self.current: list[str] = []
        self.codes: list[str] = []  # the content of each CODE in the current block
        self.skip = 0
        self.code = 0
        self.autorefs: list[str] = []

    def _flush(self) -> None:
        text = "".join(self.current).strip()
        if text:
            self.blocks.append((text, self.codes))
        self.current = []
        self.codes = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "autoref":
            self.autorefs.append(dict(attrs).get("identifier") or "?")
        if tag in SKIPPED:
            self.skip += 1
        elif tag in BLOCKS:
            self._flush()
        elif tag == "code" and not self.skip:
            self.code += 1
            if self.code == 1:
                self.current.append(CODE)
                self.codes.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag in SKIPPED:
            self.skip = max(0, self.skip - 1)
        elif tag in BLOCKS:
            self._flush()
        elif tag == "code" and not self.skip:
            self.code = max(0, self.code - 1)

    def handle_data(self, data: str) -> None:
        if self.skip:
            return
        if self.code:
            self.codes[-1] += data
        else:
            self.current.append(data)


def _shown_at(block: str, codes: list[str], i: int) -> int:
    """Where index *i* of a block's text (code as ``CODE``) is once the code is shown."""
    n = block.count(CODE, 0, i)
    return i + sum(len(c) + 2 - len(CODE) for c in codes[:n])


def check_page(path: Path) -> list[str]:
    """The findings on one HTML page, as ``what: text``."""
    parser = _Text()
    parser.feed(path.read_text(encoding="utf-8"))
    parser.close()
    parser._flush()  # noqa: SLF001 - the text after the last block
    findings = [f"unresolved cross-reference: <autoref {name}>" for name in parser.autorefs]
    for block, codes in parser.blocks:
        pieces = block.split(CODE)
        shown = pieces[0] + "".join(f"`{c}`{p}" for c, p in zip(codes, pieces[1:], strict=True))
        for what, pattern in CHECKS:
            for m in pattern.finditer(block):
                start = max(0, _shown_at(block, codes, m.start()) - 40)
                end = min(len(shown), _shown_at(block, codes, m.end()) + 40)
                text = " ".join(shown[start:end].split())
                before = "..." if start else ""
                after = "..." if end < len(shown) else ""
                findings.append(f'{what}: "{before}{text}{after}"')
    return findings


def main(argv: list[str]) -> int:
    """Check every page of the site in ``argv[1]`` (``site`` by default)."""
    site = Path(argv[1] if len(argv) > 1 else "site")
    pages = sorted(site.rglob("*.html"))
    if not pages:
        print(f"{site}: no HTML pages; build the site first (mkdocs build)", file=sys.stderr)
        return 2
    failed = 0
    for page in pages:
        for finding in check_page(page):
            print(f"{page.relative_to(site)}: {finding}", file=sys.stderr)
            failed += 1
    if failed:
        print(f"{failed} pieces of unrendered markup in {site}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
