"""
Read a kustomization file into the list of everything a build of it reads.

This module only parses: it turns the YAML into :class:`Reference` values,
each with the field and the line it came from. Following them (opening
files, recursing into bases, confining every path to the root) is
``_overlay``'s job.

The fields, as ``kustomize build`` reads them:

============================================  ====================================
field                                         what it names
============================================  ====================================
``resources``, ``bases``, ``components``      files, kustomization directories,
                                              or remote references
``generators``, ``transformers``,             the same, or inline YAML (ignored:
``validators``                                it is in the kustomization itself)
``patches[].path``,                           files
``patchesJson6902[].path``,
``replacements[].path``, ``openapi.path``,
``crds``, ``configurations``
``patchesStrategicMerge``                     files, or inline patches
``configMapGenerator`` / ``secretGenerator``  ``files`` (``path`` or ``key=path``),
                                              ``envs``, ``env``
``helmCharts``                                ``valuesFile``,
                                              ``additionalValuesFiles``, and the
                                              chart under ``helmGlobals.chartHome``
============================================  ====================================
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final, Literal, final

import attrs
import yaml

from syncsafe.errors import MalformedKustomization

__all__ = [
    "KUSTOMIZATION_NAMES",
    "Chart",
    "Kustomization",
    "Reference",
    "ReferenceKind",
    "parse_kustomization",
]

KUSTOMIZATION_NAMES: Final = ("kustomization.yaml", "kustomization.yml", "Kustomization")
"""The file names kustomize looks for in a directory, in its order."""

try:  # libyaml's parser is several times faster; the pure-Python one is the fallback
    _Loader: type[yaml.SafeLoader] = yaml.CSafeLoader  # type: ignore[assignment,unused-ignore]
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _Loader = yaml.SafeLoader

ReferenceKind = Literal["resource", "file"]
"""``resource``: a file, a kustomization directory or a remote; ``file``: a local file."""

_STR: Final = "tag:yaml.org,2002:str"
_NULL: Final = "tag:yaml.org,2002:null"


@final
@attrs.frozen
class Reference:
    """One path a kustomization names, with where it names it."""

    kind: ReferenceKind
    value: str
    field: str
    """The field it came from, e.g. ``resources`` or ``configMapGenerator[0].files``."""
    line: int | None
    column: int | None


@final
@attrs.frozen
class Chart:
    """A ``helmCharts`` entry: the chart kustomize inflates, local or pulled from ``repo``."""

    name: str
    repo: str | None
    version: str | None
    line: int | None


@final
@attrs.frozen
class Kustomization:
    """A parsed kustomization: its references, charts and chart home."""

    references: tuple[Reference, ...]
    charts: tuple[Chart, ...]
    chart_home: str


class _Reader:
    """Walks the composed YAML nodes, turning every shape error into a located error."""

    def __init__(self, display: str, loader: yaml.SafeLoader) -> None:
        self.display = display
        self.loader = loader
        self.references: list[Reference] = []

    def error(self, node: yaml.Node | None, problem: str) -> MalformedKustomization:
        if node is None:
            return MalformedKustomization(self.display, problem)
        mark = node.start_mark
        return MalformedKustomization(self.display, problem, mark.line + 1, mark.column + 1)

    def mapping(self, node: yaml.Node, what: str) -> dict[str, yaml.Node]:
        if not isinstance(node, yaml.MappingNode):
            raise self.error(node, f"{what} must be a mapping")
        self.loader.flatten_mapping(node)  # resolve YAML merge keys (<<) like a load would
        result: dict[str, yaml.Node] = {}
        for key, value in node.value:
            if not isinstance(key, yaml.ScalarNode) or key.tag != _STR:
                raise self.error(key, f"{what} has a key that is not a string")
            if key.value in result:
                raise self.error(key, f"{what} has the key {key.value!r} twice")
            result[key.value] = value
        return result

    def optional(self, node: yaml.Node | None) -> bool:
        """Whether *node* is absent or null (kustomize treats both as empty)."""
        return node is None or (isinstance(node, yaml.ScalarNode) and node.tag == _NULL)

    def string(self, node: yaml.Node, what: str) -> str:
        if not isinstance(node, yaml.ScalarNode) or node.tag != _STR:
            raise self.error(node, f"{what} must be a string")
        value: str = node.value
        if not value:
            raise self.error(node, f"{what} must not be empty")
        return value

    def sequence(self, node: yaml.Node | None, what: str) -> list[yaml.Node]:
        if node is None or self.optional(node):
            return []
        if not isinstance(node, yaml.SequenceNode):
            raise self.error(node, f"{what} must be a list")
        return list(node.value)

    def strings(self, node: yaml.Node | None, what: str) -> Iterator[tuple[str, yaml.Node]]:
        for item in self.sequence(node, what):
            yield self.string(item, f"each entry of {what}"), item

    def add(self, kind: ReferenceKind, value: str, what: str, node: yaml.Node) -> None:
        mark = node.start_mark
        self.references.append(Reference(kind, value, what, mark.line + 1, mark.column + 1))

    def list_of_mappings(
        self, node: yaml.Node | None, what: str
    ) -> Iterator[tuple[int, dict[str, yaml.Node], yaml.Node]]:
        for i, item in enumerate(self.sequence(node, what)):
            yield i, self.mapping(item, f"{what}[{i}]"), item


def _is_inline(text: str) -> bool:
    """An inline patch or plugin configuration, not a path: YAML text spans lines."""
    return "\n" in text


def _lists(reader: _Reader, fields: dict[str, yaml.Node]) -> None:
    """The fields that are lists of paths."""
    for name in ("resources", "bases", "components", "generators", "transformers", "validators"):
        for value, node in reader.strings(fields.get(name), name):
            if not _is_inline(value):
                reader.add("resource", value, name, node)
    smp = "patchesStrategicMerge"
    for value, node in reader.strings(fields.get(smp), smp):
        if not _is_inline(value):
            reader.add("file", value, smp, node)
    for name in ("crds", "configurations"):
        for value, node in reader.strings(fields.get(name), name):
            reader.add("file", value, name, node)


def _optional_path(reader: _Reader, entry: dict[str, yaml.Node], key: str, where: str) -> None:
    """``entry[key]``, a file path, when it is present and not null."""
    node = entry.get(key)
    if node is not None and not reader.optional(node):
        reader.add("file", reader.string(node, f"{where}.{key}"), f"{where}.{key}", node)


def _entries(reader: _Reader, fields: dict[str, yaml.Node]) -> None:
    """The fields that are lists of mappings, and ``openapi``."""
    for name in ("patches", "patchesJson6902", "replacements"):
        for i, entry, _ in reader.list_of_mappings(fields.get(name), name):
            _optional_path(reader, entry, "path", f"{name}[{i}]")
    openapi = fields.get("openapi")
    if openapi is not None and not reader.optional(openapi):
        _optional_path(reader, reader.mapping(openapi, "openapi"), "path", "openapi")
    for name in ("configMapGenerator", "secretGenerator"):
        for i, entry, _ in reader.list_of_mappings(fields.get(name), name):
            where = f"{name}[{i}]"
            for value, node in reader.strings(entry.get("files"), f"{where}.files"):
                # "key=path" names the key in the generated object; the file is the path.
                _, sep, path_part = value.partition("=")
                reader.add("file", path_part if sep else value, f"{where}.files", node)
            for value, node in reader.strings(entry.get("envs"), f"{where}.envs"):
                reader.add("file", value, f"{where}.envs", node)
            _optional_path(reader, entry, "env", where)


def _optional_string(
    reader: _Reader, entry: dict[str, yaml.Node], key: str, where: str
) -> str | None:
    node = entry.get(key)
    if node is None or reader.optional(node):
        return None
    return reader.string(node, f"{where}.{key}")


def _helm(reader: _Reader, fields: dict[str, yaml.Node]) -> tuple[tuple[Chart, ...], str]:
    """The helm charts, their values files, and the chart home."""
    chart_home = "charts"
    helm_globals = fields.get("helmGlobals")
    if helm_globals is not None and not reader.optional(helm_globals):
        home = _optional_string(
            reader, reader.mapping(helm_globals, "helmGlobals"), "chartHome", "helmGlobals"
        )
        chart_home = home or chart_home
    charts: list[Chart] = []
    for i, entry, item in reader.list_of_mappings(fields.get("helmCharts"), "helmCharts"):
        where = f"helmCharts[{i}]"
        name = entry.get("name")
        if name is None:
            raise reader.error(item, f"{where} has no name")
        repo = _optional_string(reader, entry, "repo", where)
        version = _optional_string(reader, entry, "version", where)
        charts.append(
            Chart(reader.string(name, f"{where}.name"), repo, version, item.start_mark.line + 1)
        )
        _optional_path(reader, entry, "valuesFile", where)
        extra = f"{where}.additionalValuesFiles"
        for value, node in reader.strings(entry.get("additionalValuesFiles"), extra):
            reader.add("file", value, extra, node)
    return tuple(charts), chart_home


def parse_kustomization(data: bytes, display: str) -> Kustomization:
    """
    Every file reference in the kustomization *data*; *display* names it in errors.

    Raises :class:`~syncsafe.MalformedKustomization` with the line and column
    for invalid YAML, several documents, a field of the wrong shape, a
    duplicated key, or a reference that is not a non-empty string.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        problem = f"not UTF-8 ({exc.reason} at byte {exc.start})"
        raise MalformedKustomization(display, problem) from None
    loader = _Loader(text)
    try:
        try:
            root = loader.get_single_node()
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            problem = " ".join(p for p in (exc.context, exc.problem) if p)
            if mark is None:  # pragma: no cover - every parser error has a mark
                raise MalformedKustomization(display, problem) from None
            line, column = mark.line + 1, mark.column + 1
            raise MalformedKustomization(display, problem, line, column) from None
        except yaml.YAMLError as exc:  # a reader error (e.g. a control character)
            raise MalformedKustomization(display, str(exc).splitlines()[0]) from None
        reader = _Reader(display, loader)
        if root is None or reader.optional(root):
            return Kustomization((), (), "charts")  # an empty kustomization is valid
        fields = reader.mapping(root, "a kustomization")
        _lists(reader, fields)
        _entries(reader, fields)
        charts, chart_home = _helm(reader, fields)
        return Kustomization(tuple(reader.references), charts, chart_home)
    finally:
        loader.dispose()
