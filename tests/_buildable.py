"""
Kustomize repositories that a real ``kustomize build`` builds, for the differential tests.

Every file holds the token ``v0`` where a build's output shows it (an
annotation, a config map's data, a patch's value, a replacement's target
field), so that editing ``v0`` to ``v1`` in a file that a build reads changes
that build's output. A repository is drawn for one load restrictor: under
kustomize's default (root-only) every file a kustomization names resolves,
symlinks followed, inside its own directory, so a symlinked file points to
``_shared/`` beside it; under ``none`` (Flux) a symlinked file or directory
may point to ``shared/`` at the top.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final, final

import attrs
import yaml
from hypothesis import strategies as st

from syncsafe.testing._build import LoadRestrictor

__all__ = ["HELM_STAND_IN", "TOKEN", "BuildableRepo", "buildable_repos", "write_helm"]

TOKEN: Final = "v0"  # noqa: S105 - a marker in test data, not a password
"""The token every file holds; an edit makes it ``v1``."""

_UNREAD: Final = ("README.md", "notes.txt", "unused.yaml")
"""File names no build reads."""

# helm is not on PyPI. This stand-in answers kustomize's ``helm version`` and
# renders ``helm template RELEASE CHART -f VALUES...`` as one config map whose
# data is a checksum of every file it was given (the chart directory's files
# with their names, each values file's content): its output changes exactly
# when an input kustomize hands to helm changes, so the real kustomize still
# decides which values files and which chart a build reads.
HELM_STAND_IN: Final = r"""#!/bin/sh
if [ "$1" = version ]; then echo v3.15.0+g0000000; exit 0; fi
release=$2
shift 2
sum=$(for a in "$@"; do
  if [ -d "$a" ]; then
    find "$a" -type f | LC_ALL=C sort | while read -r f; do echo "${f#"$a"}"; cat "$f"; done
  elif [ -f "$a" ]; then cat "$a"; fi
done | cksum | cut -d' ' -f1)
printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s\ndata:\n  inputs: "%s"\n' \
  "$release" "$sum"
"""


def write_helm(directory: Path) -> Path:
    """Write the helm stand-in into *directory*; return its path."""
    helm = directory / "helm"
    helm.write_text(HELM_STAND_IN)
    helm.chmod(0o755)
    return helm


@final
@attrs.frozen
class BuildableRepo:
    """Files (path -> text), relative symlinks (path -> target) and the overlays to build."""

    files: dict[str, str]
    links: dict[str, str]
    overlays: tuple[str, ...]
    load_restrictor: LoadRestrictor

    def write(self, root: Path) -> None:
        """Write the repository under *root*."""
        for relative, text in self.files.items():
            path = root / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        for relative, target in self.links.items():
            path = root / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.symlink_to(target)

    @property
    def unread(self) -> frozenset[str]:
        """The files that no build reads (READMEs, notes, unused files)."""
        return frozenset(p for p in self.files if p.rsplit("/", 1)[-1] in _UNREAD)


def _dump(document: object) -> str:
    return yaml.safe_dump(document, sort_keys=False)


def _config_map(name: str, key: str) -> str:
    return _dump(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {key: TOKEN}}
    )


def _smp(name: str, key: str) -> str:
    """A strategic-merge patch of config map *name* that sets ``data.<key>``."""
    return _config_map(name, key)


def _json_patch(key: str) -> str:
    return _dump([{"op": "add", "path": f"/data/{key}", "value": TOKEN}])


def _replacement(name: str, key: str) -> str:
    """Copy ``data.mark`` of *name* into ``data.<key>-v0`` of the same config map."""
    return _dump(
        {
            "source": {"kind": "ConfigMap", "name": name, "fieldPath": "data.mark"},
            "targets": [
                {
                    "select": {"kind": "ConfigMap", "name": name},
                    "fieldPaths": [f"data.{key}-{TOKEN}"],
                    "options": {"create": True},
                }
            ],
        }
    )


class _Writer:
    """Collects one repository's files and links while it is drawn."""

    def __init__(self, draw: st.DrawFn, load_restrictor: LoadRestrictor) -> None:
        self.draw = draw
        self.outside = load_restrictor == "none"
        self.files: dict[str, str] = {}
        self.links: dict[str, str] = {}

    def put(self, where: str, name: str, text: str) -> None:
        """Write *name* in directory *where*: as a file, or as a symlink to one elsewhere."""
        path = f"{where}/{name}"
        if self.draw(st.integers(0, 3)) != 0:
            self.files[path] = text
        elif self.outside:
            target = f"shared/{path.replace('/', '-')}"
            self.files[target] = text
            self.links[path] = "../" * path.count("/") + target
        else:
            flat = name.replace("/", "-")
            self.files[f"{where}/_shared/{flat}"] = text
            self.links[path] = "../" * name.count("/") + f"_shared/{flat}"

    def put_directory(self, where: str, name: str, files: dict[str, str]) -> None:
        """Directory *name* in *where*: real, or (load restrictor none) a symlink to shared/."""
        if self.outside and self.draw(st.booleans()):
            target = f"shared/{where.replace('/', '-')}-{name}"
            self.links[f"{where}/{name}"] = "../" * (where.count("/") + 1) + target
            where, name = "shared", target.removeprefix("shared/")
        for file, text in files.items():
            self.files[f"{where}/{name}/{file}"] = text


def _base(w: _Writer, base: str) -> None:
    where = f"bases/{base}"
    resources = [f"r{i}.yaml" for i in range(w.draw(st.integers(1, 2)))]
    for i, name in enumerate(resources):
        w.put(where, name, _config_map(f"{base}-r{i}", "mark"))
    doc: dict[str, Any] = {"resources": resources, "commonAnnotations": {"base": TOKEN}}
    if w.draw(st.booleans()):
        doc["configMapGenerator"] = [
            {
                "name": f"{base}-files",
                "files": ["app.properties", "key=conf/k.ini"],
                "envs": [".env"],
            }
        ]
        w.put(where, "app.properties", f"timeout={TOKEN}\n")
        w.put_directory(where, "conf", {"k.ini": f"[k]\nv={TOKEN}\n"})
        w.put(where, ".env", f"LEVEL={TOKEN}\n")
    if w.draw(st.booleans()):
        doc["secretGenerator"] = [{"name": f"{base}-secret", "envs": ["secret.env"]}]
        w.put(where, "secret.env", f"PASSWORD={TOKEN}\n")
    w.files[f"{where}/kustomization.yaml"] = _dump(doc)
    w.files[f"{where}/README.md"] = f"# {TOKEN}\n"
    w.files[f"{where}/unused.yaml"] = _config_map("unused", "mark")


def _component(w: _Writer) -> None:
    where = "components/tls"
    w.files[f"{where}/kustomization.yaml"] = _dump(
        {
            "apiVersion": "kustomize.config.k8s.io/v1alpha1",
            "kind": "Component",
            "commonAnnotations": {"tls": TOKEN},
            "patches": [{"path": "patch.yaml", "target": {"kind": "ConfigMap"}}],
        }
    )
    w.put(where, "patch.yaml", _smp("any", "tls"))


def _plugin(kind: str, plugin: str, /, **fields: Any) -> dict[str, Any]:  # noqa: ANN401
    return {"apiVersion": "builtin", "kind": kind, "metadata": {"name": plugin}, **fields}


def _helm_generator(w: _Writer, where: str, slug: str) -> str:
    """A HelmChartInflationGenerator config file on the local chart; its name."""
    _chart(w, where)
    config = _plugin(
        "HelmChartInflationGenerator",
        "helm",
        name="web",
        releaseName=f"{slug}-helm-generator",
        chartHome="charts",
        valuesFile="generator-values.yaml",
    )
    w.put(where, "helm-generator.yaml", _dump(config))
    w.put(where, "generator-values.yaml", f"generated: {TOKEN}\n")
    return "helm-generator.yaml"


def _plugin_configs(w: _Writer, where: str, target: str, doc: dict[str, Any]) -> None:
    """Builtin plugin configs under generators/transformers, as files and inline."""
    generators = _plugin_generators(w, where)
    transformers = _plugin_transformers(w, where, target)
    if generators:
        doc["generators"] = generators
    if transformers:
        doc["transformers"] = transformers


def _plugin_generators(w: _Writer, where: str) -> list[str]:
    """Generator configs: files and inline; each writes the files it names."""
    slug = where.replace("/", "-")
    generators: list[str] = []
    if w.draw(st.booleans()):
        config = _plugin(
            "ConfigMapGenerator",
            f"{slug}-plugin",
            files=["plugin.txt"],
            envs=["plugin.env"],
            literals=[f"mark={TOKEN}"],
        )
        w.put(where, "generator.yaml", _dump(config))
        w.put(where, "plugin.txt", f"{TOKEN}\n")
        w.put(where, "plugin.env", f"P={TOKEN}\n")
        generators.append("generator.yaml")
    if w.draw(st.booleans()):
        config = _plugin("SecretGenerator", f"{slug}-secret-plugin", files=["inline-secret.txt"])
        w.put(where, "inline-secret.txt", f"{TOKEN}\n")
        generators.append(_dump(config))
    if w.draw(st.booleans()):
        generators.append(_helm_generator(w, where, slug))
    return generators


def _plugin_transformers(w: _Writer, where: str, target: str) -> list[str]:
    """Transformer configs: files and inline; each writes the files it names."""
    transformers: list[str] = []
    select = {"version": "v1", "kind": "ConfigMap", "name": target}
    if w.draw(st.booleans()):
        config = _plugin(
            "PatchTransformer", "pt", path="pt-patch.yaml", target={"kind": "ConfigMap"}
        )
        w.put(where, "pt.yaml", _dump(config))
        w.put(where, "pt-patch.yaml", _smp("any", "pt"))
        transformers.append("pt.yaml")
    if w.draw(st.booleans()):
        config = _plugin("PatchStrategicMergeTransformer", "smpt", paths=["smpt-patch.yaml"])
        w.put(where, "smpt.yaml", _dump(config))
        w.put(where, "smpt-patch.yaml", _smp(target, "smpt"))
        transformers.append("smpt.yaml")
    if w.draw(st.booleans()):
        config = _plugin("PatchJson6902Transformer", "jt", target=select, path="jt-patch.yaml")
        w.put(where, "jt.yaml", _dump(config))
        w.put(where, "jt-patch.yaml", _json_patch("jt"))
        transformers.append("jt.yaml")
    if w.draw(st.booleans()):
        config = _plugin(
            "ReplacementTransformer", "rt", replacements=[{"path": "rt-replacement.yaml"}]
        )
        w.put(where, "rt.yaml", _dump(config))
        w.put(where, "rt-replacement.yaml", _replacement(target, "rt"))
        transformers.append("rt.yaml")
    if w.draw(st.booleans()):
        config = _plugin(
            "PatchTransformer", "inline", path="inline-patch.yaml", target={"kind": "ConfigMap"}
        )
        w.put(where, "inline-patch.yaml", _smp("any", "inline"))
        transformers.append(_dump(config))
    return transformers


def _chart(w: _Writer, where: str) -> None:
    """A local chart under ``<where>/charts/web`` (written as files: helm reads them all)."""
    chart = f"{where}/charts/web"
    w.files[f"{chart}/Chart.yaml"] = (
        f"apiVersion: v2\nname: web\nversion: 1.0.0\ndescription: {TOKEN}\n"
    )
    w.files[f"{chart}/values.yaml"] = f"mark: {TOKEN}\n"
    w.files[f"{chart}/templates/cm.yaml"] = f"kind: ConfigMap # {TOKEN}\n"


def _helm_chart(w: _Writer, where: str, doc: dict[str, Any]) -> None:
    """A ``helmCharts`` entry with a values file and an additional one, on a local chart."""
    _chart(w, where)
    doc["helmCharts"] = [
        {
            "name": "web",
            "releaseName": f"{where.replace('/', '-')}-helm",
            "valuesFile": "values.yaml",
            "additionalValuesFiles": ["extra-values.yaml"],
        }
    ]
    w.put(where, "values.yaml", f"replicas: {TOKEN}\n")
    w.put(where, "extra-values.yaml", f"extra: {TOKEN}\n")


def _reach(w: _Writer, where: str, base: str, doc: dict[str, Any]) -> None:
    """The overlay's base and component: by a relative path, or through a symlinked directory."""
    up = "../" * (where.count("/") + 1)
    if w.draw(st.booleans()):
        w.links[f"{where}/base"] = f"{up}bases/{base}"
        doc["resources"].append("base")
    else:
        doc["resources"].append(f"{up}bases/{base}")
    if w.draw(st.booleans()):
        w.put(where, "extra.yaml", _config_map(f"{where.replace('/', '-')}-extra", "mark"))
        doc["resources"].append("extra.yaml")
    if w.draw(st.booleans()):
        if w.draw(st.booleans()):
            w.links[f"{where}/tls"] = f"{up}components/tls"
            doc["components"] = ["tls"]
        else:
            doc["components"] = [f"{up}components/tls"]


def _overlay(w: _Writer, where: str, base: str, *, plugin_configs: bool) -> None:
    target = f"{base}-r0"
    doc: dict[str, Any] = {"resources": [], "commonAnnotations": {"overlay": TOKEN}}
    _reach(w, where, base, doc)
    if w.draw(st.booleans()):
        doc["patches"] = [
            {"path": "patch.yaml", "target": {"kind": "ConfigMap"}},
            {"patch": _json_patch("inline-json"), "target": {"kind": "ConfigMap", "name": target}},
        ]
        w.put(where, "patch.yaml", _smp("any", "patched"))
    if w.draw(st.booleans()):
        doc["patchesStrategicMerge"] = ["smp.yaml"]
        w.put(where, "smp.yaml", _smp(target, "smp"))
    if w.draw(st.booleans()):
        doc["patchesJson6902"] = [
            {"target": {"version": "v1", "kind": "ConfigMap", "name": target}, "path": "json.yaml"}
        ]
        w.put(where, "json.yaml", _json_patch("json"))
    if w.draw(st.booleans()):
        doc["replacements"] = [{"path": "replacement.yaml"}]
        w.put(where, "replacement.yaml", _replacement(target, "copy"))
    if w.draw(st.booleans()):
        doc["configMapGenerator"] = [
            {"name": "settings", "files": ["settings=conf/settings.ini"], "envs": ["app.env"]}
        ]
        w.put_directory(where, "conf", {"settings.ini": f"[s]\nv={TOKEN}\n"})
        w.put(where, "app.env", f"MODE={TOKEN}\n")
    if w.draw(st.booleans()):
        _helm_chart(w, where, doc)
    if plugin_configs:
        _plugin_configs(w, where, target, doc)
    w.files[f"{where}/kustomization.yaml"] = _dump(doc)
    w.files[f"{where}/notes.txt"] = f"{TOKEN}\n"


@st.composite
def buildable_repos(
    draw: st.DrawFn, *, plugin_configs: bool = True, max_overlays: int = 3
) -> BuildableRepo:
    """
    Repositories of bases, a component and overlays that a real kustomize builds.

    Bases list config maps and generate config maps and secrets from files,
    ``key=path`` files and env files; the component patches every config map;
    overlays reach their base by a relative path or a symlinked directory,
    the component likewise, and add patches (by path, inline, strategic
    merge, JSON 6902), replacements, generators and a local helm chart with
    values files (inflated by :data:`HELM_STAND_IN`). With *plugin_configs*,
    overlays also list builtin plugin configs under ``generators:`` and
    ``transformers:`` (ConfigMapGenerator, SecretGenerator, PatchTransformer,
    PatchStrategicMergeTransformer, PatchJson6902Transformer,
    ReplacementTransformer, HelmChartInflationGenerator), as files and
    inline, each naming files of its own. Any named file may be a symlink;
    under load restrictor ``none``, a generator's directory too. One to
    *max_overlays* overlays: the builds a differential check runs grow with
    its square (files times overlays).
    """
    restrictor: LoadRestrictor = draw(st.sampled_from(("root-only", "none")))
    w = _Writer(draw, restrictor)
    bases = draw(st.lists(st.sampled_from(("app", "db")), min_size=1, max_size=2, unique=True))
    for base in bases:
        _base(w, base)
    _component(w)
    overlays = draw(
        st.lists(
            st.sampled_from(("dev", "prod/east", "prod/west")),
            min_size=1,
            max_size=max_overlays,
            unique=True,
        )
    )
    for overlay in overlays:
        _overlay(
            w, f"overlays/{overlay}", draw(st.sampled_from(bases)), plugin_configs=plugin_configs
        )
    w.files["README.md"] = f"# {TOKEN}\n"
    return BuildableRepo(w.files, w.links, tuple(f"overlays/{o}" for o in overlays), restrictor)
