"""kustomize's load restrictor, and overlays named relative to the root."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from syncsafe import Checksum, IncomparableChecksums, MalformedKustomization, overlay_checksum
from syncsafe.strategies import FileTree

BESIDE = FileTree(
    {
        "o/kustomization.yaml": b"resources: [../shared.yaml, ../base]\n",
        "shared.yaml": b"kind: ConfigMap\n",
        "base/kustomization.yaml": b"resources: [app.yaml]\n",
        "base/app.yaml": b"kind: Deployment\n",
    }
)


def test_root_only_refuses_a_file_outside_the_kustomization_directory(tmp_path: Path) -> None:
    """The default, as kustomize's (and Argo CD's): the file and the directory are named."""
    repo = BESIDE.write(tmp_path)
    with pytest.raises(MalformedKustomization) as info:
        overlay_checksum(repo / "o", root=repo)
    assert (
        "o/kustomization.yaml:1:13: malformed kustomization: resources: security; file "
        "../shared.yaml (shared.yaml) is not in or below o: kustomize refuses it by default "
        "(load_restrictor='root-only'); Flux builds with 'none'"
    ) == str(info.value)


def test_root_only_refuses_a_link_to_outside_the_kustomization_directory(tmp_path: Path) -> None:
    """The restriction applies to where a file resolves, links followed, as kustomize's does."""
    repo = FileTree(
        {"o/kustomization.yaml": b"resources: [l.yaml]\n", "x.yaml": b""}, {"o/l.yaml": "../x.yaml"}
    ).write(tmp_path)
    with pytest.raises(MalformedKustomization, match=r"l.yaml \(x.yaml\) is not in or below o"):
        overlay_checksum(repo / "o", root=repo)


def test_none_reads_it_and_names_its_mode_in_the_digest(tmp_path: Path) -> None:
    """Flux's mode reads the file; the mode is in the header, the manifest and diff's refusal."""
    repo = BESIDE.write(tmp_path)
    result = overlay_checksum(repo / "o", root=repo, load_restrictor="none")
    assert ["base/app.yaml", "base/kustomization.yaml", "o/kustomization.yaml", "shared.yaml"] == (
        list(result.files)
    )
    assert "load-restrictor=none" == result.mode
    default_mode = Checksum.build(result.algorithm, result.files, result.remote)
    assert default_mode.digest != result.digest  # the same files, another mode: another digest
    assert result == Checksum.from_json(result.to_json())
    with pytest.raises(IncomparableChecksums, match="format 1, load-restrictor=none"):
        result.diff(default_mode)


def test_the_default_mode_keeps_its_digest_and_manifest(tmp_path: Path) -> None:
    """Root-only is the default: no mode in the manifest, the digest as before."""
    repo = FileTree(
        {"o/kustomization.yaml": b"resources: [../base]\n"}
        | {"base/kustomization.yaml": b"resources: [app.yaml]\n", "base/app.yaml": b""}
    ).write(tmp_path)
    result = overlay_checksum(repo / "o", root=repo)
    assert result.mode is None
    assert "mode" not in result.to_json()
    assert result == Checksum.build(result.algorithm, result.files, result.remote)


def test_an_unknown_load_restrictor_is_a_value_error(tmp_path: Path) -> None:
    """Only kustomize's two modes are accepted."""
    repo = BESIDE.write(tmp_path)
    with pytest.raises(ValueError, match="load_restrictor must be one of root-only, none"):
        overlay_checksum(repo / "o", root=repo, load_restrictor="rootonly")  # type: ignore[arg-type]


def test_a_relative_overlay_is_a_path_inside_the_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """overlay_checksum("o", root=repo) does not depend on the current directory."""
    repo = BESIDE.write(tmp_path / "repo")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    relative = overlay_checksum("o", root=repo, load_restrictor="none")
    assert overlay_checksum(repo / "o", root=repo, load_restrictor="none") == relative
    assert os.getcwd() == str(elsewhere)  # noqa: PTH109 - the test's own premise
