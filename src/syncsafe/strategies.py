"""
Hypothesis strategies for syncsafe's inputs, for your tests and ours.

syncsafe's own property tests draw from these, so a strategy here is the one
source of truth for what "a valid annotation key" means in a test. Importing
this module needs Hypothesis (``pip install syncsafe[test]``).

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from hypothesis import strategies as st

__all__ = ["annotation_keys", "invalid_annotation_keys"]

_NAME_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_NAME_INNER = _NAME_ALPHABET + "-_."
_PREFIX_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
# Characters that may appear nowhere in a key: punctuation, whitespace, and
# non-ASCII letters, including ones whose lowercase form is ASCII (the Kelvin
# sign), which syncsafe rejects on purpose.
_FORBIDDEN = " !\"#$%&'()*+,:;<=>?@[\\]^`{|}~\t\n\r\x00é\u212a\u0130\u0131"


def _names(min_size: int = 1, max_size: int = 63) -> st.SearchStrategy[str]:
    edge = st.sampled_from(_NAME_ALPHABET)

    @st.composite
    def build(draw: st.DrawFn) -> str:
        size = draw(st.integers(min_size, max_size))
        if size == 1:
            return draw(edge)
        inner = draw(st.text(_NAME_INNER, min_size=size - 2, max_size=size - 2))
        return draw(edge) + inner + draw(edge)

    return build()


def _dns_labels(max_size: int = 63) -> st.SearchStrategy[str]:
    edge = st.sampled_from(_PREFIX_ALPHABET)

    @st.composite
    def build(draw: st.DrawFn) -> str:
        size = draw(st.integers(1, max_size))
        if size == 1:
            return draw(edge)
        inner = draw(st.text(_PREFIX_ALPHABET + "-", min_size=size - 2, max_size=size - 2))
        return draw(edge) + inner + draw(edge)

    return build()


@st.composite
def _prefixes(draw: st.DrawFn, *, dotted: bool, upper: bool) -> str:
    labels = draw(st.lists(_dns_labels(), min_size=2 if dotted else 1, max_size=5))
    prefix = ".".join(labels)
    while len(prefix) > 253:  # noqa: PLR2004 - the DNS-1123 subdomain limit
        labels.pop()
        prefix = ".".join(labels)
    if upper:  # annotation keys are validated lowercased: any case is fine
        flips = draw(st.lists(st.booleans(), min_size=len(prefix), max_size=len(prefix)))
        prefix = "".join(c.upper() if f else c for c, f in zip(prefix, flips, strict=True))
    return prefix


def annotation_keys(
    *, prefixed: bool | None = None, dotted_prefix: bool = False, kind: str = "annotation"
) -> st.SearchStrategy[str]:
    """
    Valid annotation (or, with ``kind="label"``, label) keys, as text.

    *prefixed* ``True`` always gives ``prefix/name``, ``False`` never, ``None``
    either. *dotted_prefix* makes every prefix contain a dot (``fluxcd.io``),
    the shape that a dot-splitting lookup gets wrong. Annotation-key prefixes
    come in mixed case, since the API server validates them lowercased.
    """
    if kind not in {"annotation", "label"}:
        msg = f"kind must be 'annotation' or 'label', not {kind!r}"
        raise ValueError(msg)
    prefix = _prefixes(dotted=dotted_prefix, upper=kind == "annotation")
    with_prefix = st.builds(lambda p, n: f"{p}/{n}", prefix, _names())
    if prefixed is True or dotted_prefix:
        return with_prefix
    if prefixed is False:
        return _names()
    return st.one_of(_names(), with_prefix)


@st.composite
def _with_forbidden_char(draw: st.DrawFn) -> str:
    name = draw(_names())
    at = draw(st.integers(0, len(name)))
    bad = draw(st.sampled_from(_FORBIDDEN))
    return name[:at] + bad + name[at:]


def invalid_annotation_keys() -> st.SearchStrategy[str]:
    """
    Strings that are not valid annotation keys, each for a known reason.

    Two slashes, an empty prefix or name, a name over 63 characters, a prefix
    over 253, a forbidden or non-ASCII character, a non-alphanumeric first or
    last character, a trailing newline, an underscore in the prefix.
    """
    valid = annotation_keys()
    names = _names()
    return st.one_of(
        st.builds(lambda a, b, c: f"{a}/{b}/{c}", names, names, names),
        st.builds(lambda n: f"/{n}", names),
        st.builds(lambda p: f"{p}/", _prefixes(dotted=False, upper=False)),
        _names(min_size=64, max_size=120),
        st.builds(lambda n, k: "a" * k + "/" + n, names, st.integers(254, 300)),
        _with_forbidden_char(),
        st.builds(lambda n, c: c + n, names, st.sampled_from("-_.")),
        st.builds(lambda n, c: n + c, names, st.sampled_from("-_.")),
        st.builds(lambda k: k + "\n", valid),
        st.builds(lambda n: f"example_com/{n}", names),
    )
