"""
The files builtin plugin configs make kustomize read, and the plugins that cannot be hashed.

Each case was checked by hand against ``kubectl kustomize`` (v5.5): editing
each file listed as read changes the build's output (the Helm cases, which
need helm, follow kustomize's HelmChartInflationGenerator source instead).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from syncsafe import (
    MalformedKustomization,
    RemoteReferenceRefused,
    UnsafePathError,
    overlay_checksum,
)
from syncsafe._kustomization import parse_plugin_configs
from syncsafe.strategies import FileTree

CM = b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app}\ndata: {a: '1'}\n"
PATCH = b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app}\ndata: {replicas: '2'}\n"


def _closure(tmp_path: Path, files: dict[str, bytes]) -> list[str]:
    repo = FileTree({"o/cm.yaml": CM, **files}).write(tmp_path)
    return list(overlay_checksum(repo / "o", root=repo).files)


def test_a_patch_transformer_config_file_makes_its_patch_part_of_the_digest(
    tmp_path: Path,
) -> None:
    """The issue's example: editing the patch a PatchTransformer config names changes the digest."""
    repo = FileTree(
        {
            "o/kustomization.yaml": b"resources: [cm.yaml]\ntransformers: [patch-config.yaml]\n",
            "o/cm.yaml": CM,
            "o/patch-config.yaml": (
                b"apiVersion: builtin\nkind: PatchTransformer\nmetadata: {name: p}\n"
                b"path: patch.yaml\n"
            ),
            "o/patch.yaml": PATCH,
        }
    ).write(tmp_path)
    before = overlay_checksum(repo / "o", root=repo)
    (repo / "o/patch.yaml").write_bytes(PATCH.replace(b"'2'", b"'3'"))
    after = overlay_checksum(repo / "o", root=repo)
    assert ("o/patch.yaml",) == before.diff(after).modified


BUILTIN = b"apiVersion: builtin\nmetadata: {name: x}\n"

CASES = {
    "a config in a subdirectory names paths relative to the kustomization": (
        {
            "o/kustomization.yaml": b"resources: [cm.yaml]\ntransformers: [conf/p.yaml]\n",
            "o/conf/p.yaml": BUILTIN + b"kind: PatchTransformer\npath: patch.yaml\n",
            "o/patch.yaml": PATCH,
            "o/conf/patch.yaml": PATCH,  # beside the config: not what kustomize reads
        },
        ["o/cm.yaml", "o/conf/p.yaml", "o/kustomization.yaml", "o/patch.yaml"],
    ),
    "PatchJson6902Transformer.path": (
        {
            "o/kustomization.yaml": b"resources: [cm.yaml]\ntransformers: [j.yaml]\n",
            "o/j.yaml": BUILTIN
            + b"kind: PatchJson6902Transformer\ntarget: {kind: ConfigMap}\npath: op.yaml\n",
            "o/op.yaml": b"- {op: replace, path: /data/a, value: b}\n",
        },
        ["o/cm.yaml", "o/j.yaml", "o/kustomization.yaml", "o/op.yaml"],
    ),
    "PatchStrategicMergeTransformer.paths, a file and an inline patch": (
        {
            "o/kustomization.yaml": b"resources: [cm.yaml]\ntransformers: [s.yaml]\n",
            "o/s.yaml": BUILTIN
            + b"kind: PatchStrategicMergeTransformer\npaths:\n- smp.yaml\n"
            + b'- "{apiVersion: v1, kind: ConfigMap, metadata: {name: app}, data: {b: c}}"\n',
            "o/smp.yaml": PATCH,
        },
        ["o/cm.yaml", "o/kustomization.yaml", "o/s.yaml", "o/smp.yaml"],
    ),
    "ReplacementTransformer.replacements[].path": (
        {
            "o/kustomization.yaml": b"resources: [cm.yaml]\ntransformers: [r.yaml]\n",
            "o/r.yaml": BUILTIN
            + b"kind: ReplacementTransformer\nreplacements:\n- path: repl.yaml\n",
            "o/repl.yaml": b"source: {kind: ConfigMap, fieldPath: data.a}\ntargets: []\n",
        },
        ["o/cm.yaml", "o/kustomization.yaml", "o/r.yaml", "o/repl.yaml"],
    ),
    "ConfigMapGenerator and SecretGenerator files and envs; a config's env is not read": (
        {
            "o/kustomization.yaml": b"generators: [g.yaml]\n",
            "o/g.yaml": BUILTIN
            + b"kind: ConfigMapGenerator\nfiles: [k=f.txt]\nenvs: [e.env]\nenv: ignored.env\n"
            + b"---\n"
            + BUILTIN
            + b"kind: SecretGenerator\nfiles: [s.txt]\n",
            "o/f.txt": b"",
            "o/e.env": b"A=1\n",
            "o/s.txt": b"",
        },
        ["o/e.env", "o/f.txt", "o/g.yaml", "o/kustomization.yaml", "o/s.txt"],
    ),
    "HelmChartInflationGenerator: values files and the local chart under its chartHome": (
        {
            "o/kustomization.yaml": b"generators: [h.yaml]\n",
            "o/h.yaml": BUILTIN
            + b"kind: HelmChartInflationGenerator\nname: app\nchartHome: ../charts\n"
            + b"valuesFile: values.yaml\nadditionalValuesFiles: [more.yaml]\n",
            "o/values.yaml": b"",
            "o/more.yaml": b"",
            "charts/app/Chart.yaml": b"name: app\n",
        },
        [
            "charts/app/Chart.yaml",
            "o/h.yaml",
            "o/kustomization.yaml",
            "o/more.yaml",
            "o/values.yaml",
        ],
    ),
    "an inline config (a YAML string in the list) names files too": (
        {
            "o/kustomization.yaml": (
                b"resources: [cm.yaml]\ntransformers:\n- |\n  apiVersion: builtin\n"
                b"  kind: PatchTransformer\n  metadata: {name: p}\n  path: patch.yaml\n"
            ),
            "o/patch.yaml": PATCH,
        },
        ["o/cm.yaml", "o/kustomization.yaml", "o/patch.yaml"],
    ),
    "a directory of configs: its configs' paths are relative to the listing kustomization": (
        {
            "o/kustomization.yaml": b"resources: [cm.yaml]\ntransformers: [configs]\n",
            "o/configs/kustomization.yaml": b"resources: [p.yaml]\n",
            "o/configs/p.yaml": BUILTIN + b"kind: PatchTransformer\npath: patch.yaml\n",
            "o/patch.yaml": PATCH,
        },
        [
            "o/cm.yaml",
            "o/configs/kustomization.yaml",
            "o/configs/p.yaml",
            "o/kustomization.yaml",
            "o/patch.yaml",
        ],
    ),
    "a builtin that names no file adds only its config": (
        {
            "o/kustomization.yaml": b"resources: [cm.yaml]\ntransformers: [l.yaml]\n",
            "o/l.yaml": BUILTIN + b"kind: LabelTransformer\nlabels: {a: b}\nfieldSpecs: []\n",
        },
        ["o/cm.yaml", "o/kustomization.yaml", "o/l.yaml"],
    ),
    "the older helmChartInflationGenerator field": (
        {
            "o/kustomization.yaml": (
                b"helmChartInflationGenerator:\n"
                b"- {chartName: app, chartHome: ../charts, values: v.yaml}\n"
            ),
            "o/v.yaml": b"",
            "charts/app/Chart.yaml": b"name: app\n",
        },
        ["charts/app/Chart.yaml", "o/kustomization.yaml", "o/v.yaml"],
    ),
}


@pytest.mark.parametrize(("files", "expected"), list(CASES.values()), ids=list(CASES))
def test_builtin_plugin_configs_add_the_files_they_name(
    tmp_path: Path, files: dict[str, bytes], expected: list[str]
) -> None:
    """Each builtin's file fields are followed, relative to the kustomization that lists it."""
    assert expected == _closure(tmp_path, files)


def test_a_missing_file_named_by_a_config_names_the_config_and_the_directory(
    tmp_path: Path,
) -> None:
    """The error names the config file and line, and says which directory the path is from."""
    repo = FileTree(
        {
            "o/kustomization.yaml": b"transformers: [conf/p.yaml]\n",
            "o/conf/p.yaml": BUILTIN + b"kind: PatchTransformer\npath: gone.yaml\n",
        }
    ).write(tmp_path)
    with pytest.raises(MalformedKustomization) as info:
        overlay_checksum(repo / "o", root=repo)
    assert (
        "o/conf/p.yaml:4:7: malformed kustomization: PatchTransformer.path: gone.yaml does "
        "not exist (relative to o, whose kustomization lists this config)"
    ) == str(info.value)


FUNCTION = (
    b"apiVersion: example.com/v1\nkind: Thing\nmetadata:\n  name: t\n  annotations:\n"
    b"    config.kubernetes.io/function: |\n      container:\n        image: example.com/fn:v1\n"
)


@pytest.mark.parametrize(
    ("config", "listed"),
    [
        (FUNCTION, "plugin:container:example.com/fn:v1"),
        (
            FUNCTION.replace(b"container:\n        image", b"exec:\n        path"),
            "plugin:exec:example.com/fn:v1",
        ),
        (b"apiVersion: example.com/v1\nkind: Inflator\n", "plugin:exec:example.com/v1/Inflator"),
    ],
    ids=["container", "exec-function", "legacy-exec"],
)
def test_exec_and_container_plugins_are_listed_and_refused_without_remote(
    tmp_path: Path, config: bytes, listed: str
) -> None:
    """A plugin that runs a program is listed with the remotes; allow_remote=False refuses it."""
    repo = FileTree(
        {"o/kustomization.yaml": b"transformers: [x.yaml]\n", "o/x.yaml": config}
    ).write(tmp_path)
    assert (listed,) == overlay_checksum(repo / "o", root=repo).remote
    with pytest.raises(RemoteReferenceRefused) as info:
        overlay_checksum(repo / "o", root=repo, allow_remote=False)
    assert ("o/x.yaml", listed) == (info.value.path, info.value.reference)
    assert "runs a program, whose output is not in the checkout" in str(info.value)


def test_an_unknown_builtin_is_an_error() -> None:
    """An unknown builtin kind fails, as in kustomize, naming the kind."""
    with pytest.raises(MalformedKustomization, match="kustomize has no builtin plugin NoSuch"):
        parse_plugin_configs(b"apiVersion: builtin\nkind: NoSuch\n", "x.yaml")


def test_the_default_digest_is_unchanged_where_the_files_are(tmp_path: Path) -> None:
    """An overlay whose set of files is unchanged keeps its digest from before configs were read."""
    repo = FileTree(
        {
            "o/kustomization.yaml": (
                b"resources: [../base, cm.yaml, github.com/org/x//y?ref=v1]\n"
                b"transformers: [l.yaml]\npatches:\n- path: p.yaml\n"
                b"configMapGenerator:\n- name: c\n  env: a.env\n"
            ),
            "o/cm.yaml": b"kind: ConfigMap\n",
            "o/l.yaml": (
                b"apiVersion: builtin\nkind: LabelTransformer\nmetadata: {name: l}\n"
                b"labels: {a: b}\nfieldSpecs: []\n"
            ),
            "o/p.yaml": b"kind: ConfigMap\n",
            "o/a.env": b"A=1\n",
            "base/kustomization.yaml": b"resources: [d.yaml]\n",
            "base/d.yaml": b"kind: Deployment\n",
        }
    ).write(tmp_path)
    # the digest the previous release computed for this tree
    expected = "xxh3-128:5b94b7f5dff8ed68fa442b3e60a29894"
    assert expected == overlay_checksum(repo / "o", root=repo).digest


def test_a_directory_of_configs_through_nested_resources_and_listed_twice(tmp_path: Path) -> None:
    """Configs in a nested resource directory count; a second listing reads them again."""
    files = {
        "o/kustomization.yaml": b"resources: [cm.yaml]\ntransformers: [configs, configs]\n",
        "o/configs/kustomization.yaml": (b"resources: [nested, github.com/org/repo//x?ref=v1]\n"),
        "o/configs/nested/kustomization.yaml": b"resources: [p.yaml]\n",
        "o/configs/nested/p.yaml": BUILTIN + b"kind: PatchTransformer\npath: patch.yaml\n",
        "o/patch.yaml": PATCH,
    }
    assert "o/patch.yaml" in _closure(tmp_path, files)


@pytest.mark.parametrize(
    ("config", "listed"),
    [
        (
            FUNCTION.replace(b"container:\n        image", b"starlark:\n        path"),
            "plugin:starlark:example.com/fn:v1",
        ),
        (
            FUNCTION.replace(b"container:\n        image: example.com/fn:v1", b"[not, a, map]"),
            "plugin:function:example.com/v1/Thing",
        ),
        (
            FUNCTION.replace(b"container:\n        image: example.com/fn:v1", b"{unclosed"),
            "plugin:function:example.com/v1/Thing",
        ),
    ],
    ids=["starlark", "function-of-another-shape", "function-not-yaml"],
)
def test_every_function_shape_is_listed(tmp_path: Path, config: bytes, listed: str) -> None:
    """A KRM function annotation of any shape makes the plugin unhashable, never ignored."""
    repo = FileTree(
        {"o/kustomization.yaml": b"transformers: [x.yaml]\n", "o/x.yaml": config}
    ).write(tmp_path)
    assert (listed,) == overlay_checksum(repo / "o", root=repo).remote


@pytest.mark.parametrize(
    ("kustomization", "config", "message"),
    [
        (
            b'transformers: ["{apiVersion: builtin, kind: NoSuch}"]\n',
            b"",
            (
                "o/kustomization.yaml:1:16: malformed kustomization: inline config "
                "transformers[0]: kustomize has no builtin plugin NoSuch"
            ),
        ),
        (
            b"transformers: [x.yaml]\n",
            b"apiVersion: builtin\n",
            "o/x.yaml:1:1: malformed kustomization: a plugin config needs an apiVersion and a kind",
        ),
        (
            b"transformers: [x.yaml]\n",
            b"kind: [\n",
            (
                "o/x.yaml:2:1: malformed kustomization: while parsing a flow node "
                "did not find expected node content"
            ),
        ),
    ],
    ids=["inline-unknown-builtin", "no-kind", "invalid-yaml"],
)
def test_malformed_plugin_configs_are_located(
    tmp_path: Path, kustomization: bytes, config: bytes, message: str
) -> None:
    """A config that kustomize cannot configure is an error at its file and line."""
    repo = FileTree({"o/kustomization.yaml": kustomization, "o/x.yaml": config}).write(tmp_path)
    with pytest.raises(MalformedKustomization) as info:
        overlay_checksum(repo / "o", root=repo)
    assert message == str(info.value)


def test_links_out_of_a_kustomization_file_or_a_chart_name_their_referrer(tmp_path: Path) -> None:
    """A kustomization file or a chart file that escapes is refused, naming what led there."""
    repo = FileTree(
        {"o/kustomization.yaml": b"helmCharts: [{name: c}]\n", "o/charts/c/Chart.yaml": b""},
        {"o/charts/c/evil.yaml": "../../../../outside.yaml"},
    ).write(tmp_path / "a")
    with pytest.raises(UnsafePathError) as info:
        overlay_checksum(repo / "o", root=repo)
    assert "o/kustomization.yaml:1 (helm chart c)" == info.value.referrer
    repo = FileTree({"x/kustomization.yaml": b""}, {"o/kustomization.yaml": "../../k.yaml"}).write(
        tmp_path / "b"
    )
    with pytest.raises(UnsafePathError) as info:
        overlay_checksum(repo / "o", root=repo)
    assert "the kustomization file of o" == info.value.referrer


def test_root_only_refuses_a_kustomization_file_linked_from_elsewhere(tmp_path: Path) -> None:
    """The kustomization file itself is loaded under the restriction too, as in kustomize."""
    repo = FileTree(
        {"x/kustomization.yaml": b""}, {"o/kustomization.yaml": "../x/kustomization.yaml"}
    )
    root = repo.write(tmp_path)
    with pytest.raises(MalformedKustomization, match=r"it is a link to x/kustomization\.yaml"):
        overlay_checksum(root / "o", root=root)
    assert ["o/kustomization.yaml"] == list(
        overlay_checksum(root / "o", root=root, load_restrictor="none").files
    )
