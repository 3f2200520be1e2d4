"""
Read a kustomization file into the list of everything a build of it reads.

This module only parses: it turns the YAML into `Reference` values,
each with the field and the line it came from. Following them (opening
files, recursing into bases, confining every path to the root) is
``syncsafe.checksums._overlay``'s job; ``syncsafe.affected`` takes the
file names kustomize looks for from here too.

The fields, as ``kustomize build`` reads them, and the builtin plugins'
file fields, are tabled in ``docs/reference/checksums.md`` ("What the overlay
checksum reads"); `parse_kustomization` reads a kustomization,
`parse_plugin_configs` a file (or an inline string) of plugin configs,
whose paths are relative to the kustomization that lists them.
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
    "PluginConfigs",
    "Reference",
    "ReferenceKind",
    "Unhashable",
    "parse_kustomization",
    "parse_plugin_configs",
]

KUSTOMIZATION_NAMES: Final = ("kustomization.yaml", "kustomization.yml", "Kustomization")
"""The file names kustomize looks for in a directory, in its order."""

try:  # libyaml's parser is several times faster; the pure-Python one is the fallback
    _Loader: type[yaml.SafeLoader] = yaml.CSafeLoader  # type: ignore[assignment,unused-ignore]
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _Loader = yaml.SafeLoader

ReferenceKind = Literal["resource", "file", "plugin"]
"""
``resource``: a file, a kustomization directory or a remote; ``file``: a local file;
``plugin``: an entry of ``generators``, ``transformers`` or ``validators`` that is
a path: a file of plugin configs, or a kustomization directory that makes them.
"""

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
    home: str | None = None
    """Its own chart home (a ``HelmChartInflationGenerator`` config's ``chartHome``), if any."""


@final
@attrs.frozen
class Unhashable:
    """A plugin whose output comes from a program: named, with the reason, never hashed."""

    reference: str
    """How it is listed with the remote references, e.g. ``plugin:container:example.com/fn:v1``."""
    reason: str
    line: int | None


@final
@attrs.frozen
class Kustomization:
    """A parsed kustomization: its references, charts and chart home, and unhashable plugins."""

    references: tuple[Reference, ...]
    charts: tuple[Chart, ...]
    chart_home: str
    unhashable: tuple[Unhashable, ...] = ()


@final
@attrs.frozen
class PluginConfigs:
    """What a file (or inline string) of plugin configs names, relative to the kustomization."""

    references: tuple[Reference, ...]
    charts: tuple[Chart, ...]
    unhashable: tuple[Unhashable, ...]


class _Reader:
    """Walks the composed YAML nodes, turning every shape error into a located error."""

    def __init__(self, display: str, loader: yaml.SafeLoader) -> None:
        self.display = display
        self.loader = loader
        self.references: list[Reference] = []
        self.charts: list[Chart] = []
        self.unhashable: list[Unhashable] = []

    def error(self, node: yaml.Node | None, problem: str) -> MalformedKustomization:
        if node is None:
            return MalformedKustomization(self.display, problem)
        mark = node.start_mark
        return MalformedKustomization(self.display, problem, mark.line + 1, mark.column + 1)

    def mapping(self, node: yaml.Node, what: str) -> dict[str, yaml.Node]:
        if not isinstance(node, yaml.MappingNode):
            raise self.error(node, f"{what} must be a mapping")
        try:
            self.loader.flatten_mapping(node)  # resolve YAML merge keys (<<) like a load would
        except yaml.YAMLError as exc:  # e.g. "<<: 1": a merge needs mappings
            raise _yaml_error(exc, self.display) from None
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
    """
    Whether *text* is inline YAML (a patch or a plugin config), not a path.

    kustomize first tries to read such an entry as resources: when the text
    parses as YAML documents that are all mappings, it is inline (on one line
    too: ``{apiVersion: v1, kind: ConfigMap, ...}``); otherwise it is a path.
    """
    if ":" not in text and "{" not in text:  # no YAML mapping without either: a path
        return False
    loader = _Loader(text)
    try:
        documents = 0
        while loader.check_node():
            node = loader.get_node()
            if not isinstance(node, yaml.MappingNode):
                return False
            documents += 1
    except yaml.YAMLError:
        return False
    finally:
        loader.dispose()
    return documents > 0


_PLUGIN_LISTS: Final = ("generators", "transformers", "validators")


def _lists(reader: _Reader, fields: dict[str, yaml.Node]) -> None:
    """The fields that are lists of paths."""
    for name in ("resources", "bases", "components"):
        for value, node in reader.strings(fields.get(name), name):
            reader.add("resource", value, name, node)
    for name in _PLUGIN_LISTS:
        for i, (value, node) in enumerate(reader.strings(fields.get(name), name)):
            if _is_inline(value):
                _inline_configs(reader, value, f"{name}[{i}]", node)
            else:
                reader.add("plugin", value, name, node)
    smp = "patchesStrategicMerge"
    for value, node in reader.strings(fields.get(smp), smp):
        if not _is_inline(value):
            reader.add("file", value, smp, node)
    for name in ("crds", "configurations"):
        for value, node in reader.strings(fields.get(name), name):
            reader.add("file", value, name, node)


def _inline_configs(reader: _Reader, text: str, where: str, node: yaml.Node) -> None:
    """An inline plugin config: what it names, located at its entry in the kustomization."""
    try:
        configs = parse_plugin_configs(text.encode("utf-8", "surrogateescape"), where)
    except MalformedKustomization as exc:
        raise reader.error(node, f"inline config {where}: {exc.problem}") from None
    mark = node.start_mark
    line, column = mark.line + 1, mark.column + 1
    for ref in configs.references:
        reader.references.append(
            attrs.evolve(ref, field=f"{where}: {ref.field}", line=line, column=column)
        )
    reader.charts.extend(attrs.evolve(chart, line=line) for chart in configs.charts)
    reader.unhashable.extend(attrs.evolve(u, line=line) for u in configs.unhashable)


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
            _generator(reader, entry, f"{name}[{i}]")
            # kustomize folds the older env into envs, in a kustomization only:
            # a plugin config's env is not read
            _optional_path(reader, entry, "env", f"{name}[{i}]")


def _generator(reader: _Reader, entry: dict[str, yaml.Node], where: str) -> None:
    """A ConfigMap or Secret generator's inputs: ``files`` and ``envs``."""
    for value, node in reader.strings(entry.get("files"), f"{where}.files"):
        # "key=path" names the key in the generated object; the file is the path.
        _, sep, path_part = value.partition("=")
        reader.add("file", path_part if sep else value, f"{where}.files", node)
    for value, node in reader.strings(entry.get("envs"), f"{where}.envs"):
        reader.add("file", value, f"{where}.envs", node)


def _optional_string(
    reader: _Reader, entry: dict[str, yaml.Node], key: str, where: str
) -> str | None:
    node = entry.get(key)
    if node is None or reader.optional(node):
        return None
    return reader.string(node, f"{where}.{key}")


def _chart(
    reader: _Reader, entry: dict[str, yaml.Node], item: yaml.Node, where: str, home: str | None
) -> None:
    """One chart (a ``helmCharts`` entry or a generator config) and its values files."""
    name = entry.get("name")
    if name is None:
        raise reader.error(item, f"{where} has no name")
    repo = _optional_string(reader, entry, "repo", where)
    version = _optional_string(reader, entry, "version", where)
    chart_name = reader.string(name, f"{where}.name")
    reader.charts.append(Chart(chart_name, repo, version, item.start_mark.line + 1, home))
    _optional_path(reader, entry, "valuesFile", where)
    extra = f"{where}.additionalValuesFiles"
    for value, node in reader.strings(entry.get("additionalValuesFiles"), extra):
        reader.add("file", value, extra, node)


def _helm(reader: _Reader, fields: dict[str, yaml.Node]) -> str:
    """The charts of ``helmCharts`` and the older ``helmChartInflationGenerator``; the home."""
    chart_home = None
    helm_globals = fields.get("helmGlobals")
    if helm_globals is not None and not reader.optional(helm_globals):
        chart_home = _optional_string(
            reader, reader.mapping(helm_globals, "helmGlobals"), "chartHome", "helmGlobals"
        )
    for i, entry, item in reader.list_of_mappings(fields.get("helmCharts"), "helmCharts"):
        _chart(reader, entry, item, f"helmCharts[{i}]", None)
    # The older field, as kustomize converts it: chartName, chartVersion,
    # chartRepoUrl and values name the chart and its values file; the last
    # chartHome given is the chart home when helmGlobals is not set.
    old = "helmChartInflationGenerator"
    old_home = None
    for i, entry, item in reader.list_of_mappings(fields.get(old), old):
        where = f"{old}[{i}]"
        renamed = {
            new: entry[key]
            for key, new in (
                ("chartName", "name"),
                ("chartVersion", "version"),
                ("chartRepoUrl", "repo"),
                ("values", "valuesFile"),
            )
            if key in entry
        }
        _chart(reader, renamed, item, where, None)
        old_home = _optional_string(reader, entry, "chartHome", where) or old_home
    if helm_globals is None or reader.optional(helm_globals):
        chart_home = chart_home or old_home
    return chart_home or "charts"


_BUILTINS: Final = frozenset(
    {
        "AnnotationsTransformer",
        "ConfigMapGenerator",
        "HashTransformer",
        "HelmChartInflationGenerator",
        "IAMPolicyGenerator",
        "ImageTagTransformer",
        "LabelTransformer",
        "NamespaceTransformer",
        "PatchJson6902Transformer",
        "PatchStrategicMergeTransformer",
        "PatchTransformer",
        "PrefixTransformer",
        "ReplacementTransformer",
        "ReplicaCountTransformer",
        "SecretGenerator",
        "SortOrderTransformer",
        "SuffixTransformer",
        "ValueAddTransformer",
    }
)
"""kustomize's builtin plugins (``apiVersion: builtin``); only the ones below name files."""

_FUNCTION_ANNOTATIONS: Final = ("config.kubernetes.io/function", "config.k8s.io/function")
_PROGRAM: Final = "it runs a program, whose output is not in the checkout and cannot be hashed"


def _builtin(reader: _Reader, kind: str, doc: dict[str, yaml.Node], node: yaml.Node) -> None:
    """The files a builtin plugin's config names, by kind (kustomize's ``plugin/builtin``)."""
    if kind in {"PatchTransformer", "PatchJson6902Transformer"}:
        _optional_path(reader, doc, "path", kind)
    elif kind == "PatchStrategicMergeTransformer":
        # each entry is tried as patch text first, then as a path (as kustomize does)
        for value, item in reader.strings(doc.get("paths"), f"{kind}.paths"):
            if not _is_inline(value):
                reader.add("file", value, f"{kind}.paths", item)
    elif kind == "ReplacementTransformer":
        field = f"{kind}.replacements"
        for i, entry, _ in reader.list_of_mappings(doc.get("replacements"), field):
            _optional_path(reader, entry, "path", f"{field}[{i}]")
    elif kind in {"ConfigMapGenerator", "SecretGenerator"}:
        _generator(reader, doc, kind)
    elif kind == "HelmChartInflationGenerator":
        home = _optional_string(reader, doc, "chartHome", kind) or "charts"
        _chart(reader, doc, node, kind, home)
    elif kind not in _BUILTINS:
        raise reader.error(node, f"kustomize has no builtin plugin {kind}")


def _program(
    reader: _Reader, api: str, kind: str, doc: dict[str, yaml.Node], node: yaml.Node
) -> None:
    """A plugin that is not builtin: a KRM function (container, exec, starlark) or a legacy one."""
    line = node.start_mark.line + 1
    spec = None
    metadata = doc.get("metadata")
    if isinstance(metadata, yaml.MappingNode):
        annotations = reader.mapping(metadata, "metadata").get("annotations")
        if isinstance(annotations, yaml.MappingNode):
            found = reader.mapping(annotations, "metadata.annotations")
            for key in _FUNCTION_ANNOTATIONS:
                if isinstance(found.get(key), yaml.ScalarNode):
                    spec = found[key].value
                    break
    if spec is not None:
        try:
            parsed = yaml.load(spec, Loader=_Loader)  # noqa: S506 - a safe loader
        except yaml.YAMLError:
            parsed = None
        for runner, key in (("container", "image"), ("exec", "path"), ("starlark", "path")):
            inner = parsed.get(runner) if isinstance(parsed, dict) else None
            if isinstance(inner, dict) and isinstance(inner.get(key), str):
                what = f"a {runner} KRM function"
                reader.unhashable.append(
                    Unhashable(f"plugin:{runner}:{inner[key]}", f"{what}: {_PROGRAM}", line)
                )
                return
        reader.unhashable.append(
            Unhashable(f"plugin:function:{api}/{kind}", f"a KRM function: {_PROGRAM}", line)
        )
        return
    reader.unhashable.append(
        Unhashable(f"plugin:exec:{api}/{kind}", f"an exec or Go plugin: {_PROGRAM}", line)
    )


def parse_plugin_configs(data: bytes, display: str) -> PluginConfigs:
    """
    The files, charts and unhashable plugins named by the plugin configs in *data*.

    *data* holds one or more YAML documents, each a plugin config (``apiVersion``
    and ``kind``); its paths are relative to the kustomization that lists the
    configs, not to the file they are in (as kustomize reads them). Raises
    [`MalformedKustomization`][syncsafe.errors.MalformedKustomization] naming *display* for invalid
    YAML, a config of the wrong shape, or an unknown builtin.
    """
    text = _decode(data, display)
    loader = _Loader(text)
    reader = _Reader(display, loader)
    try:
        while _check(loader, display):
            node = _node(loader, display)
            if node is None or reader.optional(node):
                continue
            doc = reader.mapping(node, "a plugin config")
            api = _optional_string(reader, doc, "apiVersion", "a plugin config")
            kind = _optional_string(reader, doc, "kind", "a plugin config")
            if api is None or kind is None:
                raise reader.error(node, "a plugin config needs an apiVersion and a kind")
            if api == "builtin":
                _builtin(reader, kind, doc, node)
            else:
                _program(reader, api, kind, doc, node)
    finally:
        loader.dispose()
    return PluginConfigs(tuple(reader.references), tuple(reader.charts), tuple(reader.unhashable))


def _decode(data: bytes, display: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        problem = f"not UTF-8 ({exc.reason} at byte {exc.start})"
        raise MalformedKustomization(display, problem) from None


def _yaml_error(exc: yaml.YAMLError, display: str) -> MalformedKustomization:
    """A YAML error as a located [`MalformedKustomization`][syncsafe.MalformedKustomization]."""
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        problem = " ".join(p for p in (exc.context, exc.problem) if p)
        if mark is not None:
            return MalformedKustomization(display, problem, mark.line + 1, mark.column + 1)
        return MalformedKustomization(display, problem)  # pragma: no cover - always marked
    # a reader error (e.g. a control character)
    return MalformedKustomization(display, str(exc).splitlines()[0])


def _check(loader: yaml.SafeLoader, display: str) -> bool:
    try:
        return bool(loader.check_node())
    except yaml.YAMLError as exc:
        raise _yaml_error(exc, display) from None


def _node(loader: yaml.SafeLoader, display: str) -> yaml.Node | None:
    try:
        node: yaml.Node | None = loader.get_node()
    except yaml.YAMLError as exc:
        raise _yaml_error(exc, display) from None
    return node


def parse_kustomization(data: bytes, display: str) -> Kustomization:
    """
    Every file reference in the kustomization *data*; *display* names it in errors.

    Raises [`MalformedKustomization`][syncsafe.errors.MalformedKustomization] with the line and
    column for invalid YAML, several documents, a field of the wrong shape, a
    duplicated key, or a reference that is not a non-empty string.
    """
    text = _decode(data, display)
    loader = _Loader(text)
    try:
        try:
            root = loader.get_single_node()
        except yaml.YAMLError as exc:
            raise _yaml_error(exc, display) from None
        reader = _Reader(display, loader)
        if root is None or reader.optional(root):
            return Kustomization((), (), "charts")  # an empty kustomization is valid
        fields = reader.mapping(root, "a kustomization")
        _lists(reader, fields)
        _entries(reader, fields)
        chart_home = _helm(reader, fields)
        return Kustomization(
            tuple(reader.references), tuple(reader.charts), chart_home, tuple(reader.unhashable)
        )
    finally:
        loader.dispose()
