"""
Hypothesis strategies for syncsafe's inputs, for your tests and ours.

syncsafe's own property tests draw from these, so a strategy here is the one
source of truth for what "a valid annotation key" means in a test. Importing
this module needs Hypothesis (``pip install syncsafe[test]``).

!!! note "Added in version 0.1.0"
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, final

import attrs
import yaml
from hypothesis import assume
from hypothesis import strategies as st

from syncsafe._path_model import Model, ModelError
from syncsafe.testing import SECRET, File, Folder, Symlink, TreeSpec

if TYPE_CHECKING:
    from syncsafe.storm import SyncEvent

__all__ = [
    "FileTree",
    "KustomizeRepo",
    "annotation_keys",
    "durations",
    "file_trees",
    "invalid_annotation_keys",
    "kustomize_repos",
    "overlay_trees",
    "symlink_trees",
    "sync_events",
]

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


# ------------------------------------------------------------- storm / stale

_GO_UNITS = ("ns", "us", "\u00b5s", "\u03bcs", "ms", "s", "m", "h")
# Near misses: Go rejects each of these as a unit.
_BAD_UNITS = ("d", "H", "S", "sec", "mu", "\u00b5", " s", "s ", "\u00e5s", "")


@st.composite
def _duration_term(draw: st.DrawFn, *, valid: bool) -> str:
    whole = draw(st.one_of(st.just(""), st.from_regex(r"[0-9]{1,21}", fullmatch=True)))
    dot = draw(st.booleans())
    frac = draw(st.from_regex(r"[0-9]{0,24}", fullmatch=True)) if dot else ""
    if valid and not whole and not frac:
        whole = "1"
    units = _GO_UNITS if valid else _GO_UNITS + _BAD_UNITS
    unit: str = draw(st.sampled_from(units))
    return whole + ("." if dot else "") + frac + unit


_DURATION_EDGES = (
    "0",
    "+0",
    "-0",
    "",
    "+",
    "-",
    ".",
    ".s",
    "-.s",
    "0.0",
    "00",
    "1",
    "1d",
    " 1s",
    "1s ",
    "1 s",
    "1h1h",
    ".5s",
    "5.s",
    "1.s",
    "-1.5h",
    "9223372036854775807ns",
    "9223372036854775808ns",
    "-9223372036854775808ns",
    "-9223372036854775809ns",
    "2562047h47m16.854775807s",
    "2562047h47m16.854775808s",
    "-2562047h47m16.854775808s",
    "2562047.788015215h",
    "9223372036854775808ns9223372036854775808ns",
    "0.0000000000000000000000000001s",
    "1.00000000000000000000000000000009h",
    "\u00b5s",
    "1\u00b5s",
    "1\u03bcs",
    "1us",
    "3000000h",
    "1.5e3s",
    "0x10s",
)


def durations(*, valid: bool | None = None) -> st.SearchStrategy[str]:
    r"""
    Strings in and around Go's duration grammar, ``[-+]?([0-9]*(\\.[0-9]*)?[a-z]+)+``.

    With *valid* ``True`` every string is grammatical (it may still overflow
    int64 nanoseconds); ``False`` or ``None`` mixes in near misses too: unknown
    units (``1d``), whitespace, a lone ``.``, missing units, and the edge cases
    around the int64 limit. Made to compare a parser with Go's ``time.ParseDuration``.
    """
    sign = st.sampled_from(("", "+", "-"))
    terms = st.lists(_duration_term(valid=bool(valid)), min_size=1, max_size=4)
    grammatical = st.builds(lambda s, ts: s + "".join(ts), sign, terms)
    if valid:
        return grammatical
    edges = st.sampled_from(_DURATION_EDGES)
    return st.one_of(grammatical, edges, st.text(alphabet="0123456789.+-smhnu\u00b5 d"))


_TOOLS = ("argocd", "flux")
_NAMESPACES = ("prod", "prod-payments", "live", "staging", "dev", "delivery", "productcatalog")
_APPS = ("payments", "checkout", "ledger", "search")
_EPOCH = datetime(2024, 10, 12, 9, 0, tzinfo=timezone.utc)


def sync_events(
    *,
    start: datetime = _EPOCH,
    span: timedelta = timedelta(minutes=5),
    with_ids: bool | None = None,
) -> st.SearchStrategy[SyncEvent]:
    """
    [`syncsafe.SyncEvent`][] values with timezone-aware timestamps in ``[start, start + span]``.

    Timestamps are whole milliseconds in assorted UTC offsets (the same instant
    written in two zones is one timestamp). Tools, apps and namespaces come from
    small pools, so identical events (duplicates) are common; *with_ids*
    ``True`` always sets ``id``, ``False`` never, ``None`` either.
    """
    from syncsafe.storm import SyncEvent  # noqa: PLC0415 - keep this module's import cheap

    millis = st.integers(0, span // timedelta(milliseconds=1))
    zones = st.sampled_from(
        (timezone.utc, timezone(timedelta(hours=2)), timezone(timedelta(hours=-5, minutes=-30)))
    )
    stamps = st.builds(
        lambda ms, tz: (start + timedelta(milliseconds=ms)).astimezone(tz), millis, zones
    )
    ids: st.SearchStrategy[str | None]
    if with_ids is None:
        ids = st.one_of(st.none(), st.from_regex(r"[a-z]{1,3}", fullmatch=True))
    elif with_ids:
        ids = st.from_regex(r"[a-z]{1,3}", fullmatch=True)
    else:
        ids = st.none()
    return st.builds(
        SyncEvent,
        tool=st.sampled_from(_TOOLS),
        app=st.sampled_from(_APPS),
        namespace=st.sampled_from(_NAMESPACES),
        timestamp=stamps,
        id=ids,
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
    entries: list[Folder | File | Symlink] = [Folder(d.rstrip("/")) for d in dirs]
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
    with [`syncsafe.testing.build_tree`][syncsafe.testing._trees.build_tree].
    """
    return _tree(links=False, escaping=None)


def symlink_trees(*, escaping: bool | None = None) -> st.SearchStrategy[TreeSpec]:
    """
    Trees of files, directories and symlinks with random relative targets.

    Targets mix names, ``.``, ``..`` and empty components, so they may stay
    inside, escape, loop or dangle; with ``escaping=None`` some are absolute
    (``{root}/a``, filled in by [`build_tree`][syncsafe.testing._trees.build_tree]).
    ``escaping=True`` adds one link that leaves the root; ``escaping=False``
    keeps only trees in which no link does (it may still loop or dangle).
    """
    return _tree(links=True, escaping=escaping)


# ------------------------------------------------------------------- checksum


@final
@attrs.frozen
class FileTree:
    """
    A file tree to write into a directory: regular files and relative symlinks.

    Symlinks point at regular files or at directories that hold only regular
    files, so a tree never has a loop, and [`reached`][syncsafe.strategies.FileTree.reached] can say
    which paths a walk reaches each file by.
    """

    files: Mapping[str, bytes]
    """POSIX path -> content."""
    links: Mapping[str, str] = attrs.field(factory=dict)
    """POSIX path of the link -> its (relative) target text."""

    def write(self, root: str | os.PathLike[str]) -> Path:
        """Create the tree under *root* (which may exist) and return it as a Path."""
        base = Path(root)
        for path, content in self.files.items():
            target = base / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
        for path, text in self.links.items():
            link = base / path
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(text)
        return base

    def reached(self, under: str = "") -> dict[str, str]:
        """
        Every path a walk of *under* reaches a regular file by -> the file's own path.

        A file under a symlinked directory is reached both where it is (if
        that is under *under*) and through the link.
        """
        prefix = f"{under}/" if under else ""
        result = {p: p for p in self.files if p.startswith(prefix)}
        for link, text in self.links.items():
            if not link.startswith(prefix):
                continue
            target = posixpath.normpath(posixpath.join(posixpath.dirname(link), text))
            if target in self.files:
                result[link] = target
            for path in self.files:
                if path.startswith(target + "/"):
                    result[link + path[len(target) :]] = path
        return result


_OVERLAY_FILE_NAMES = (
    "a.yaml",
    "b.yml",
    "ab",
    "a=b",
    ".env",
    "c.txt",
    "kustomization.yaml",
    "\u00e9.yaml",
)
_OVERLAY_DIR_NAMES = ("d0", "d1", ".hidden")


@st.composite
def overlay_trees(
    draw: st.DrawFn, *, overlay: str = "o", bases: str = "b", max_files: int = 6
) -> FileTree:
    """
    Trees with an *overlay* directory and *bases* beside it, linked into the overlay.

    Files of any kind (hidden, ``.yaml``, ``.env``, none) sit in the overlay
    and in base directories ``<bases>/<x>``; the overlay holds relative
    symlinks to whole base directories and to single base files, the shape
    of a nested overlay with a symlinked base. Check ``<overlay>`` with
    root = the tree's top: [`FileTree.reached`][syncsafe.strategies.FileTree.reached] says what a
    walk sees.
    """
    content = st.binary(max_size=24)
    dirs = st.lists(st.sampled_from(_OVERLAY_DIR_NAMES), max_size=2)
    files: dict[str, bytes] = {}
    for _ in range(draw(st.integers(1, max_files))):
        path = "/".join([overlay, *draw(dirs), draw(st.sampled_from(_OVERLAY_FILE_NAMES))])
        files[path] = draw(content)
    base_names = draw(
        st.lists(st.sampled_from(("x", "y", "z")), min_size=1, max_size=2, unique=True)
    )
    for base in base_names:
        for _ in range(draw(st.integers(1, max_files))):
            path = "/".join([bases, base, *draw(dirs), draw(st.sampled_from(_OVERLAY_FILE_NAMES))])
            files[path] = draw(content)
    links: dict[str, str] = {}
    for i in range(draw(st.integers(1, 3))):
        at = draw(st.sampled_from(("", "d0/")))
        depth = 1 + at.count("/")
        up = "../" * depth
        base = draw(st.sampled_from(base_names))
        in_base = sorted(p for p in files if p.startswith(f"{bases}/{base}/"))
        if draw(st.booleans()) or not in_base:
            links[f"{overlay}/{at}link{i}"] = f"{up}{bases}/{base}"
        else:
            links[f"{overlay}/{at}link{i}.yaml"] = up + draw(st.sampled_from(in_base))
    # A file path must not be a directory of another path, nor a link's place.
    paths = set(files) | set(links)
    dir_prefixes = {p.rsplit("/", k)[0] for p in paths for k in range(1, p.count("/") + 1)}
    files = {p: c for p, c in files.items() if p not in dir_prefixes}
    links = {p: t for p, t in links.items() if p not in dir_prefixes and p not in files}
    return FileTree(files, links)


@final
@attrs.frozen
class KustomizeRepo:
    """
    A generated kustomize repository and, per overlay, the files a build reads.

    ``reads[overlay]`` lists the physical paths (relative to the repository)
    that ``kustomize build <overlay>`` opens; ``remote[overlay]`` the remote
    references it names. ``unread`` are files no build of any overlay opens
    (READMEs, unreferenced files).
    """

    tree: FileTree
    reads: Mapping[str, frozenset[str]]
    remote: Mapping[str, frozenset[str]]
    unread: frozenset[str]


def _dump(document: dict[str, Any]) -> bytes:
    return yaml.safe_dump(document, sort_keys=False).encode()


_TEXT = st.binary(min_size=1, max_size=16)
_REMOTE_BASE = "github.com/example/infra//deploy?ref=v1.2.0"
_CHART = {
    "name": "ingress",
    "repo": "https://charts.example.com",
    "version": "1.0.0",
    "valuesFile": "values.yaml",
}


def _draw_base(draw: st.DrawFn, base: str, files: dict[str, bytes]) -> set[str]:
    """Write base *base* into *files*; return the files a build of it reads."""
    where = f"bases/{base}"
    resources = [f"r{i}.yaml" for i in range(draw(st.integers(1, 3)))]
    reads = {f"{where}/kustomization.yaml"}
    doc: dict[str, Any] = {"resources": resources}
    for name in resources:
        files[f"{where}/{name}"] = b"kind: ConfigMap\n" + draw(_TEXT)
        reads.add(f"{where}/{name}")
    if draw(st.booleans()):
        doc["configMapGenerator"] = [{"name": base, "files": ["app.properties"], "envs": [".env"]}]
        for name in ("app.properties", ".env"):
            files[f"{where}/{name}"] = draw(_TEXT)
            reads.add(f"{where}/{name}")
    files[f"{where}/kustomization.yaml"] = _dump(doc)
    files[f"{where}/README.md"] = b"# " + draw(_TEXT)
    files[f"{where}/unused.yaml"] = draw(_TEXT)
    return reads


def _draw_overlay(
    draw: st.DrawFn,
    where: str,
    base: str,
    files: dict[str, bytes],
    links: dict[str, str],
) -> tuple[set[str], set[str]]:
    """Write overlay *where* on *base*; return the files it reads and its remotes."""
    up = "../" * (where.count("/") + 1)
    reads = {f"{where}/kustomization.yaml"}
    remote: set[str] = set()
    if draw(st.booleans()):
        links[f"{where}/base"] = f"{up}bases/{base}"
        resources = ["base"]
    else:
        resources = [f"{up}bases/{base}"]
    if draw(st.booleans()):
        resources.append(_REMOTE_BASE)
        remote.add(_REMOTE_BASE)
    doc: dict[str, Any] = {"resources": resources}
    if draw(st.booleans()):
        doc["components"] = [f"{up}components/tls"]
        reads |= {"components/tls/kustomization.yaml", "components/tls/patch.yaml"}
    if draw(st.booleans()):
        doc["patches"] = [{"path": "patch.yaml"}, {"patch": "- op: remove\n  path: /x\n"}]
        doc["patchesStrategicMerge"] = ["smp.yaml"]
        for name in ("patch.yaml", "smp.yaml"):
            files[f"{where}/{name}"] = draw(_TEXT)
            reads.add(f"{where}/{name}")
    if draw(st.booleans()):
        doc["configMapGenerator"] = [{"name": "extra", "files": ["settings=conf/settings.ini"]}]
        files[f"{where}/conf/settings.ini"] = draw(_TEXT)
        reads.add(f"{where}/conf/settings.ini")
    if draw(st.booleans()):
        doc["helmCharts"] = [_CHART]
        files[f"{where}/values.yaml"] = draw(_TEXT)
        reads.add(f"{where}/values.yaml")
        remote.add("helm:https://charts.example.com#ingress@1.0.0")
    files[f"{where}/kustomization.yaml"] = _dump(doc)
    files[f"{where}/notes.txt"] = draw(_TEXT)
    return reads, remote


@st.composite
def kustomize_repos(draw: st.DrawFn, *, max_overlays: int = 3) -> KustomizeRepo:
    """
    Kustomize repositories: bases, a component and overlays that use them.

    Bases list resources and generate config maps from files and ``.env``
    files; the component carries a patch; overlays reach their base by a
    relative path or through a symlinked ``base`` directory, add patches (by
    path and strategic merge), ``key=path`` generator files, helm values
    files, and sometimes a remote base. Each base has a README and an
    unreferenced file beside it, each overlay a notes file: no build reads them.
    """
    files: dict[str, bytes] = {}
    links: dict[str, str] = {}
    bases = st.lists(st.sampled_from(("app", "db", "web")), min_size=1, max_size=3, unique=True)
    base_reads = {base: _draw_base(draw, base, files) for base in draw(bases)}
    files["components/tls/kustomization.yaml"] = _dump(
        {
            "apiVersion": "kustomize.config.k8s.io/v1alpha1",
            "kind": "Component",
            "patches": [{"path": "patch.yaml"}],
        }
    )
    files["components/tls/patch.yaml"] = draw(_TEXT)
    overlays = st.lists(
        st.sampled_from(("dev", "prod/east", "prod/west")),
        min_size=1,
        max_size=max_overlays,
        unique=True,
    )
    reads: dict[str, frozenset[str]] = {}
    remote: dict[str, frozenset[str]] = {}
    for name in draw(overlays):
        where = f"overlays/{name}"
        base = draw(st.sampled_from(sorted(base_reads)))
        own, remotes = _draw_overlay(draw, where, base, files, links)
        reads[where] = frozenset(own | base_reads[base])
        remote[where] = frozenset(remotes)
    unread = {p for p in files if p.endswith(("/README.md", "/unused.yaml", "/notes.txt"))}
    return KustomizeRepo(FileTree(files, links), reads, remote, frozenset(unread))
