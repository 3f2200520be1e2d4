from __future__ import annotations

import pytest

from syncsafe import MalformedKustomization
from syncsafe.checksum._kustomize import Chart, parse_kustomization

EVERY_FIELD = b"""\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
- deployment.yaml
- ../../base
- github.com/org/repo//deploy?ref=v1
bases: [../legacy]
components: [../../components/tls]
generators:
- gen.yaml
- |
  apiVersion: builtin
  kind: ConfigMapGenerator
transformers: [trans.yaml]
validators: [valid.yaml]
patches:
- path: patch.yaml
- patch: |-
    - op: replace
patchesStrategicMerge:
- smp.yaml
- |-
  apiVersion: v1
  kind: ConfigMap
patchesJson6902:
- target: {kind: Deployment}
  path: json6902.yaml
replacements:
- path: replacement.yaml
- source: {kind: ConfigMap}
openapi:
  path: schema.json
crds: [crd.yaml]
configurations: [config.yaml]
configMapGenerator:
- name: app
  files: [app.properties, key=renamed.txt]
  envs: [.env]
secretGenerator:
- name: secret
  env: secret.env
helmGlobals:
  chartHome: ../charts
helmCharts:
- name: ingress-nginx
  repo: https://kubernetes.github.io/ingress-nginx
  version: 4.0.1
  valuesFile: values.yaml
  additionalValuesFiles: [more-values.yaml]
"""


def test_every_field_kustomize_reads_is_a_reference() -> None:
    """Each field that names a file gives a reference; inline patches and configs do not."""
    parsed = parse_kustomization(EVERY_FIELD, "k.yaml")
    found = {(r.kind, r.value, r.field) for r in parsed.references}
    assert {
        ("resource", "deployment.yaml", "resources"),
        ("resource", "../../base", "resources"),
        ("resource", "github.com/org/repo//deploy?ref=v1", "resources"),
        ("resource", "../legacy", "bases"),
        ("resource", "../../components/tls", "components"),
        ("resource", "gen.yaml", "generators"),
        ("resource", "trans.yaml", "transformers"),
        ("resource", "valid.yaml", "validators"),
        ("file", "patch.yaml", "patches[0].path"),
        ("file", "smp.yaml", "patchesStrategicMerge"),
        ("file", "json6902.yaml", "patchesJson6902[0].path"),
        ("file", "replacement.yaml", "replacements[0].path"),
        ("file", "schema.json", "openapi.path"),
        ("file", "crd.yaml", "crds"),
        ("file", "config.yaml", "configurations"),
        ("file", "app.properties", "configMapGenerator[0].files"),
        ("file", "renamed.txt", "configMapGenerator[0].files"),
        ("file", ".env", "configMapGenerator[0].envs"),
        ("file", "secret.env", "secretGenerator[0].env"),
        ("file", "values.yaml", "helmCharts[0].valuesFile"),
        ("file", "more-values.yaml", "helmCharts[0].additionalValuesFiles"),
    } == found
    assert len(parsed.references) == len(found)
    assert (
        Chart("ingress-nginx", "https://kubernetes.github.io/ingress-nginx", "4.0.1", 45),
    ) == parsed.charts
    assert parsed.chart_home == "../charts"


def test_references_carry_their_line_and_column() -> None:
    """A reference knows where it was written, for error messages."""
    parsed = parse_kustomization(b"resources:\n  - a.yaml\n  - b.yaml\n", "k.yaml")
    assert [(3, 5), (2, 5)][::-1] == [(r.line, r.column) for r in parsed.references]


@pytest.mark.parametrize(
    "text", [b"", b"# nothing\n", b"~\n", b"resources:\n", b"resources: null\n"]
)
def test_empty_kustomizations_are_valid(text: bytes) -> None:
    """An empty file or field names nothing (kustomize accepts them)."""
    assert () == parse_kustomization(text, "k.yaml").references


def test_merge_keys_and_anchors_are_followed() -> None:
    """A YAML anchor, alias or merge key names the same files a load would."""
    text = b"""\
common: &common
  path: patch.yaml
patches:
- *common
- <<: *common
  target: {kind: Service}
"""
    parsed = parse_kustomization(text, "k.yaml")
    assert ["patch.yaml", "patch.yaml"] == [r.value for r in parsed.references]


@pytest.mark.parametrize(
    ("text", "where", "problem"),
    [
        (b"resources: a.yaml\n", "k.yaml:1:12", "resources must be a list"),
        (b"resources:\n- 1\n", "k.yaml:2:3", "each entry of resources must be a string"),
        (b"resources:\n- ''\n", "k.yaml:2:3", "each entry of resources must not be empty"),
        (b"resources: [a]\nresources: [b]\n", "k.yaml:2:1", "the key 'resources' twice"),
        (b"- a\n", "k.yaml:1:1", "a kustomization must be a mapping"),
        (b"1: a\n", "k.yaml:1:1", "has a key that is not a string"),
        (b"resources: [\n", "k.yaml:2:1", "did not find expected node content"),
        (b"a: 1\n---\nb: 2\n", "k.yaml:2:1", "expected a single document"),
        (b"patches:\n- 3\n", "k.yaml:2:3", "patches[0] must be a mapping"),
        (b"patches:\n- path: [a]\n", "k.yaml:2:9", "patches[0].path must be a string"),
        (b"openapi: x\n", "k.yaml:1:10", "openapi must be a mapping"),
        (b"helmCharts:\n- repo: x\n", "k.yaml:2:3", "helmCharts[0] has no name"),
        (b"helmCharts:\n- name: x\n  version: [1]\n", "k.yaml:3:12", "helmCharts[0].version"),
        (b"helmGlobals: {chartHome: 3}\n", "k.yaml:1:26", "helmGlobals.chartHome must be"),
        (b"configMapGenerator:\n- env: {}\n", "k.yaml:2:8", "configMapGenerator[0].env must be"),
        (b"\xff\xfe", "k.yaml", "not UTF-8"),
        (b"a: \x07\n", "k.yaml", "control characters are not allowed"),
    ],
)
def test_malformed_kustomizations_name_file_line_and_rule(
    text: bytes, where: str, problem: str
) -> None:
    """Every shape error is a MalformedKustomization naming the file, the line and the rule."""
    with pytest.raises(MalformedKustomization) as info:
        parse_kustomization(text, "k.yaml")
    message = str(info.value)
    assert message.startswith(f"{where}: malformed kustomization: ")
    assert problem in message
