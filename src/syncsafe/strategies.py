"""
Hypothesis strategies for syncsafe's inputs, for your tests and ours.

syncsafe's own property tests draw from these, so a strategy here is the one
source of truth for what "a valid annotation key" means in a test. Importing
this module needs Hypothesis (``pip install syncsafe[test]``).

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from hypothesis import assume
from hypothesis import strategies as st

from syncsafe.testing._model import Model, ModelError
from syncsafe.testing._trees import SECRET, Entry, File, Folder, Symlink, TreeSpec

__all__ = ["annotation_keys", "file_trees", "invalid_annotation_keys", "symlink_trees"]

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


# ---------------------------------------------------------------- file trees

_DIR_NAMES = ("a", "b", "c")
_FILE_NAMES = ("f", "g.yaml", ".env", "a.b", "caf\u00e9", "x\udcff", "-d", "sp ace")
_LINK_NAMES = ("l", "m", "n.yaml")
_TARGET_PARTS = ("a", "b", "c", "..", ".", "f", "g.yaml", "l", "m", "n.yaml", "", "zz")


def _dir_paths(max_depth: int = 3) -> list[str]:
    paths = [""]
    frontier = [""]
    for _ in range(max_depth):
        frontier = [f"{p}{n}/" for p in frontier for n in _DIR_NAMES]
        paths += frontier
    return paths


_DIRS = _dir_paths()


@st.composite
def _tree(draw: st.DrawFn, *, links: bool, escaping: bool | None) -> TreeSpec:
    dirs = sorted(draw(st.sets(st.sampled_from(_DIRS[1:]), max_size=6)))
    where = ["", *dirs]
    entries: list[Entry] = [Folder(d.rstrip("/")) for d in dirs]
    files = draw(
        st.sets(st.tuples(st.sampled_from(where), st.sampled_from(_FILE_NAMES)), max_size=8)
    )
    entries += [File(d + n, (d + n).encode("utf-8", "surrogateescape")) for d, n in sorted(files)]
    if links:
        target = (
            st.lists(st.sampled_from(_TARGET_PARTS), min_size=1, max_size=4)
            .map("/".join)
            .filter(bool)  # a symlink's text cannot be empty
        )
        absolute = st.sampled_from(("{root}/a", "{root}/f", "{base}/outside"))
        targets = st.one_of(target, target, target, absolute) if escaping is None else target
        made = draw(
            st.dictionaries(
                st.tuples(st.sampled_from(where), st.sampled_from(_LINK_NAMES)),
                targets,
                max_size=5,
            )
        )
        links_out = [Symlink(d + n, t) for (d, n), t in sorted(made.items())]
        if escaping:
            d, n = draw(st.tuples(st.sampled_from(where), st.sampled_from(_LINK_NAMES)))
            links_out = [s for s in links_out if s.path != d + n]
            # One more '..' than the link is deep: it leaves the root at once.
            links_out.append(Symlink(d + n, "../" * (d.count("/") + 1) + "outside"))
        entries += links_out
    spec = TreeSpec(
        "generated",
        "generated",
        tuple(entries),
        outside=(Folder("outside"), File("outside/secret.yaml", SECRET)),
    )
    if escaping is False:
        model = Model(spec)
        for entry in entries:
            if isinstance(entry, Symlink):
                try:
                    model.resolve_link(tuple(entry.path.split("/")))
                except ModelError as exc:
                    assume(exc.tag != "escape")
    return spec


def file_trees() -> st.SearchStrategy[TreeSpec]:
    r"""
    Trees of regular files and directories (no links), odd names included.

    Names include a dot-file, a non-ASCII name, a name with an undecodable
    byte (``\\udcff``, surrogateescape), a leading dash and a space. Build one
    with :func:`syncsafe.testing.build_tree`.
    """
    return _tree(links=False, escaping=None)


def symlink_trees(*, escaping: bool | None = None) -> st.SearchStrategy[TreeSpec]:
    """
    Trees of files, directories and symlinks with random relative targets.

    Targets mix names, ``.``, ``..`` and empty components, so they may stay
    inside, escape, loop or dangle; with ``escaping=None`` some are absolute
    (``{root}/a``, filled in by :func:`~syncsafe.testing.build_tree`).
    ``escaping=True`` adds one link that leaves the root; ``escaping=False``
    keeps only trees in which no link does (it may still loop or dangle).
    """
    return _tree(links=True, escaping=escaping)
