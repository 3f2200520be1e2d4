from __future__ import annotations

from pathlib import Path

import pytest
import xxhash

from syncsafe import (
    MalformedKustomization,
    RemoteReferenceRefused,
    SyncsafeError,
    UnsafePathError,
    overlay_checksum,
)
from syncsafe._kustomization import Chart, parse_kustomization
from syncsafe.strategies import FileTree

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
        ("plugin", "gen.yaml", "generators"),
        ("plugin", "trans.yaml", "transformers"),
        ("plugin", "valid.yaml", "validators"),
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


# ------------------------------------------------------------ overlay_checksum

OVERLAY = FileTree(
    {
        "overlays/prod/kustomization.yaml": (
            b"resources:\n- ../../base\n- github.com/org/infra//deploy?ref=v1\n"
            b"configMapGenerator:\n- name: cfg\n  files: [settings=conf/app.ini]\n  envs: [.env]\n"
        ),
        "overlays/prod/conf/app.ini": b"debug=false\n",
        "overlays/prod/.env": b"A=1\n",
        "overlays/prod/unused.yaml": b"",
        "base/kustomization.yaml": b"resources:\n- app.yaml\n",
        "base/app.yaml": b"kind: ConfigMap\n",
        "base/README.md": b"",
    }
)


def test_overlay_checksum_hashes_the_closure_and_lists_remotes(tmp_path: Path) -> None:
    """Exactly the files a build reads; the remote base is listed and named in the digest."""
    repo = OVERLAY.write(tmp_path)
    result = overlay_checksum(repo / "overlays/prod", root=repo)
    assert [
        "base/app.yaml",
        "base/kustomization.yaml",
        "overlays/prod/.env",
        "overlays/prod/conf/app.ini",
        "overlays/prod/kustomization.yaml",
    ] == list(result.files)
    assert ("github.com/org/infra//deploy?ref=v1",) == result.remote
    assert xxhash.xxh3_128_hexdigest(b"debug=false\n") == result.files["overlays/prod/conf/app.ini"]
    (repo / "base/README.md").write_bytes(b"edited")
    assert result == overlay_checksum(repo / "overlays/prod", root=repo)
    (repo / "base/app.yaml").write_bytes(b"kind: Secret\n")
    changed = overlay_checksum(
        repo / "overlays/prod", root=repo, annotation_key="fluxcd.io/checksum"
    )
    assert ("base/app.yaml",) == result.diff(changed).modified
    assert changed.annotation_key == "fluxcd.io/checksum"


def test_remote_references_can_be_refused(tmp_path: Path) -> None:
    """allow_remote=False turns a remote base into an error naming the file and reference."""
    repo = OVERLAY.write(tmp_path)
    with pytest.raises(RemoteReferenceRefused) as info:
        overlay_checksum(repo / "overlays/prod", root=repo, allow_remote=False)
    assert ("overlays/prod/kustomization.yaml", "github.com/org/infra//deploy?ref=v1") == (
        info.value.path,
        info.value.reference,
    )


def test_a_local_directory_wins_over_a_remote_looking_name(tmp_path: Path) -> None:
    """Like kustomize, a reference that exists locally is local even if it looks like a host."""
    repo = FileTree(
        {
            "o/kustomization.yaml": b"resources:\n- example.com/base\n",
            "o/example.com/base/kustomization.yaml": b"resources: []\n",
        }
    ).write(tmp_path)
    result = overlay_checksum(repo / "o", root=repo)
    assert () == result.remote
    assert "o/example.com/base/kustomization.yaml" in result.files


def test_symlinked_bases_are_named_by_their_physical_path(tmp_path: Path) -> None:
    """A base reached through a link is followed from its real directory, as kustomize does."""
    repo = FileTree(
        {
            "overlays/east/kustomization.yaml": b"resources: [base]\n",
            "bases/east/kustomization.yaml": b"resources: [../common]\n",
            "bases/common/kustomization.yaml": b"resources: [c.yaml]\n",
            "bases/common/c.yaml": b"",
        },
        {"overlays/east/base": "../../bases/east"},
    ).write(tmp_path)
    assert [
        "bases/common/c.yaml",
        "bases/common/kustomization.yaml",
        "bases/east/kustomization.yaml",
        "overlays/east/kustomization.yaml",
    ] == list(overlay_checksum(repo / "overlays/east", root=repo).files)


def test_local_helm_charts_are_hashed_and_pulled_ones_listed(tmp_path: Path) -> None:
    """A chart in the chart home is hashed file by file; a chart with a repo only is remote."""
    repo = FileTree(
        {
            "o/kustomization.yaml": (
                b"helmGlobals: {chartHome: ../charts}\n"
                b"helmCharts:\n"
                b"- {name: local, valuesFile: values.yaml}\n"
                b"- {name: pulled, repo: 'https://charts.example.com', version: 1.2.3}\n"
                b"- {name: pinned, version: 2.0.0}\n"
            ),
            "o/values.yaml": b"",
            "charts/local/Chart.yaml": b"name: local\n",
            "charts/local/templates/cm.yaml": b"",
            "charts/pinned-2.0.0/pinned/Chart.yaml": b"name: pinned\n",
        }
    ).write(tmp_path)
    result = overlay_checksum(repo / "o", root=repo)
    assert [
        "charts/local/Chart.yaml",
        "charts/local/templates/cm.yaml",
        "charts/pinned-2.0.0/pinned/Chart.yaml",
        "o/kustomization.yaml",
        "o/values.yaml",
    ] == list(result.files)
    assert ("helm:https://charts.example.com#pulled@1.2.3",) == result.remote


def _error(tmp_path: Path, files: dict[str, bytes], links: dict[str, str] | None = None) -> str:
    repo = FileTree(files, links or {}).write(tmp_path)
    with pytest.raises((MalformedKustomization, UnsafePathError)) as info:
        overlay_checksum(repo / "o", root=repo)
    return str(info.value)


def test_a_missing_file_names_the_kustomization_and_line(tmp_path: Path) -> None:
    """A reference to nothing is an error at the line that makes it."""
    message = _error(
        tmp_path,
        {"o/kustomization.yaml": b"resources:\n- a.yaml\n- gone.yaml\n"} | {"o/a.yaml": b""},
    )
    assert (
        "o/kustomization.yaml:3:3: malformed kustomization: resources: gone.yaml does not exist"
        == message
    )


def test_a_directory_without_kustomization_is_an_error(tmp_path: Path) -> None:
    """A directory resource must hold a kustomization, and the overlay too."""
    message = _error(tmp_path, {"o/kustomization.yaml": b"resources: [../b]\n", "b/x.yaml": b""})
    assert message.startswith("o/kustomization.yaml:1:13: malformed kustomization: ../b (b) has no")
    (tmp_path / "o/kustomization.yaml").unlink()
    with pytest.raises(
        MalformedKustomization, match=r"the overlay \(o\) has no kustomization file"
    ):
        overlay_checksum(tmp_path / "o", root=tmp_path)


def test_several_kustomization_files_are_an_error(tmp_path: Path) -> None:
    """Kustomize refuses a directory with both kustomization.yaml and kustomization.yml."""
    message = _error(tmp_path, {"o/kustomization.yaml": b"", "o/kustomization.yml": b""})
    assert "several kustomization files: o/kustomization.yaml, o/kustomization.yml" in message


def test_a_file_field_naming_a_directory_is_an_error(tmp_path: Path) -> None:
    """patches[].path must be a file."""
    message = _error(tmp_path, {"o/kustomization.yaml": b"patches:\n- path: sub\n", "o/sub/x": b""})
    assert (
        "o/kustomization.yaml:2:9: malformed kustomization: patches[0].path: sub is a directory"
        in message
    )


def test_absolute_and_escaping_references_are_errors(tmp_path: Path) -> None:
    """Nothing outside the root is read: absolute paths and ../ past the root are refused."""
    message = _error(tmp_path / "a", {"o/kustomization.yaml": b"resources: [/etc/passwd]\n"})
    assert "/etc/passwd is absolute" in message
    (tmp_path / "secret.yaml").write_bytes(b"")
    message = _error(tmp_path / "b", {"o/kustomization.yaml": b"resources: [../../secret.yaml]\n"})
    assert "outside the root" in message
    message = _error(
        tmp_path / "c",
        {"o/kustomization.yaml": b"resources: [link.yaml]\n"},
        {"o/link.yaml": "../../secret.yaml"},
    )
    assert "outside the root" in message


def test_an_overlay_that_is_a_file_is_an_error(tmp_path: Path) -> None:
    """The overlay must be a directory."""
    repo = FileTree({"o/kustomization.yaml": b""}).write(tmp_path)
    with pytest.raises(MalformedKustomization, match="an overlay is a directory"):
        overlay_checksum(repo / "o/kustomization.yaml", root=repo)


def test_a_chart_that_is_nowhere_is_an_error(tmp_path: Path) -> None:
    """A chart neither in the chart home nor given a repo cannot be built."""
    message = _error(tmp_path, {"o/kustomization.yaml": b"helmCharts:\n- name: x\n"})
    assert message == (
        "o/kustomization.yaml:2: malformed kustomization: "
        "helm chart x is neither in o/charts nor given a repo"
    )


def test_a_cycle_is_an_error_naming_it(tmp_path: Path) -> None:
    """Two kustomizations naming each other are a cycle, as kustomize reports, not a closure."""
    repo = FileTree(
        {
            "o/kustomization.yaml": b"resources: [../p]\n",
            "p/kustomization.yaml": b"resources: [../o]\n",
        }
    ).write(tmp_path)
    with pytest.raises(MalformedKustomization) as info:
        overlay_checksum(repo / "o", root=repo)
    assert (
        "p/kustomization.yaml:1:13: malformed kustomization: resources: ../o: "
        "cycle detected: o is being built (o -> p -> o)"
    ) == str(info.value)


def test_a_base_that_contains_the_overlay_is_a_cycle(tmp_path: Path) -> None:
    """A reference to a directory above a kustomization being built is a cycle, as in kustomize."""
    repo = FileTree(
        {"kustomization.yaml": b"resources: [o]\n", "o/kustomization.yaml": b"resources: [..]\n"}
    ).write(tmp_path)
    with pytest.raises(MalformedKustomization, match=r"cycle detected: \. contains o"):
        overlay_checksum(repo / "o", root=repo)


def test_a_shared_base_is_not_a_cycle(tmp_path: Path) -> None:
    """Two components reading one base (a diamond) is read once, and is no cycle."""
    repo = FileTree(
        {
            "o/kustomization.yaml": b"resources: [../a, ../b]\n",
            "a/kustomization.yaml": b"resources: [../base]\n",
            "b/kustomization.yaml": b"resources: [../base]\n",
            "base/kustomization.yaml": b"resources: []\n",
        }
    ).write(tmp_path)
    assert 4 == len(overlay_checksum(repo / "o", root=repo).files)


def test_a_chain_of_many_bases_is_followed_without_recursion(tmp_path: Path) -> None:
    """A chain of 1,500 bases (kustomize builds it) is followed; no RecursionError."""
    files = {
        f"b{i}/kustomization.yaml": f"resources: [../b{i + 1}]\n".encode() for i in range(1500)
    }
    files["b1500/kustomization.yaml"] = b"resources: [app.yaml]\n"
    files["b1500/app.yaml"] = b"kind: ConfigMap\n"
    repo = FileTree(files).write(tmp_path)
    assert 1502 == len(overlay_checksum(repo / "b0", root=repo).files)


def test_a_one_line_inline_patch_is_accepted_as_kustomize_does(tmp_path: Path) -> None:
    """A patchesStrategicMerge entry that parses as a YAML mapping is a patch, even on one line."""
    repo = FileTree(
        {
            "o/kustomization.yaml": (
                b"patchesStrategicMerge:\n"
                b'- "{apiVersion: v1, kind: ConfigMap, metadata: {name: app}, data: {b: c}}"\n'
            )
        }
    ).write(tmp_path)
    assert ["o/kustomization.yaml"] == list(overlay_checksum(repo / "o", root=repo).files)


@pytest.mark.parametrize(
    ("files", "links", "message"),
    [
        (
            {"o/kustomization.yaml": b"a: 1\n<<: 1\n"},
            {},
            (
                "o/kustomization.yaml:2:5: malformed kustomization: while constructing a mapping "
                "expected a mapping or list of mappings for merging, but found scalar"
            ),
        ),
        (
            {"o/kustomization.yaml/x": b""},
            {},
            (
                "o/kustomization.yaml: malformed kustomization: is a directory: "
                "a kustomization file must be a file"
            ),
        ),
        (
            {"o/kustomization.yaml": b"resources: [a.yaml/b.yaml]\n", "o/a.yaml": b""},
            {},
            (
                "o/kustomization.yaml:1:13: malformed kustomization: resources: a.yaml/b.yaml "
                "cannot be read: o/a.yaml is not a directory"
            ),
        ),
        (
            {"o/kustomization.yaml": b'resources: ["a\\0b"]\n'},
            {},
            (
                "o/kustomization.yaml:1:13: malformed kustomization: resources: 'a\\x00b' "
                "holds a NUL byte"
            ),
        ),
        (
            {"o/kustomization.yaml": b"resources: [../../secret.yaml]\n"},
            {},
            (
                "o/kustomization.yaml:1:13 (resources: ../../secret.yaml): "
                "../secret.yaml resolves outside the root"
            ),
        ),
        (
            {"o/kustomization.yaml": b"helmCharts: [{name: c}]\n"},
            {"o/charts/c": "../../.."},
            (
                "o/kustomization.yaml:1 (helm chart c): o/charts/c -> ../../.. "
                "resolves outside the root"
            ),
        ),
    ],
    ids=["merge-key", "is-a-directory", "not-a-directory", "nul-byte", "escape", "chart-escape"],
)
def test_only_declared_errors_escape_and_they_name_the_referring_file(
    tmp_path: Path, files: dict[str, bytes], links: dict[str, str], message: str
) -> None:
    """Each once-raw error is a syncsafe error whose message names the kustomization and line."""
    repo = FileTree(files, links).write(tmp_path)
    with pytest.raises(SyncsafeError) as info:
        overlay_checksum(repo / "o", root=repo)
    assert message == str(info.value)


def test_an_overlay_given_from_the_working_directory_is_explained(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A relative overlay is inside the root; one that exists only from here says so."""
    repo = tmp_path / "repo"
    (repo / "apps").mkdir(parents=True)
    (repo / "apps/kustomization.yaml").write_text("resources: []\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError, match="the overlay is a path inside the root"):
        overlay_checksum("repo/apps", root="repo")
    assert ("apps/kustomization.yaml",) == tuple(overlay_checksum("apps", root="repo").files)
