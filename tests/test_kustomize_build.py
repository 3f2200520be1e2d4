"""syncsafe.testing.Kustomize: the real kustomize that the differential tests build with."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import yaml

from syncsafe.errors import KustomizeBuildFailed, KustomizeUnavailable
from syncsafe.testing import KUSTOMIZE_LIBRARY_VARIABLE, Kustomize

_CONFIG_MAP = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: plain\ndata:\n  a: '1'\n"


def _write(root: Path, files: dict[str, str]) -> None:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_the_library_is_kustomize(kustomize: Kustomize) -> None:
    """The loaded library is pykustomize 0.1.4's build of kustomize."""
    assert "pykustomize-v0.1.4" == kustomize.version


def test_a_build_prints_what_kustomize_prints(kustomize: Kustomize, tmp_path: Path) -> None:
    """A resource and a generated config map (its name hashed), in kustomize's legacy order."""
    _write(
        tmp_path,
        {
            "kustomization.yaml": (
                "resources: [cm.yaml]\nconfigMapGenerator:\n- name: gen\n  literals: [k=v]\n"
            ),
            "cm.yaml": _CONFIG_MAP,
        },
    )
    generated, plain = yaml.safe_load_all(kustomize.build(tmp_path))
    assert ("plain", {"a": "1"}) == (plain["metadata"]["name"], plain["data"])
    assert {"k": "v"} == generated["data"]
    assert generated["metadata"]["name"].startswith("gen-")


def test_root_only_refuses_a_file_outside_and_none_reads_it(
    kustomize: Kustomize, tmp_path: Path
) -> None:
    """The load restrictor reaches kustomize: root-only names the file, none builds."""
    _write(
        tmp_path,
        {
            "k/kustomization.yaml": "configMapGenerator:\n- name: gen\n  files: [../out.txt]\n",
            "out.txt": "outside",
        },
    )
    with pytest.raises(KustomizeBuildFailed) as info:
        kustomize.build(tmp_path / "k")
    assert str(tmp_path / "k") == info.value.path
    assert f"security; file '{tmp_path}/out.txt' is not in or below" in info.value.message
    assert {"out.txt": "outside"} == yaml.safe_load(
        kustomize.build(tmp_path / "k", load_restrictor="none")
    )["data"]


def test_a_failed_build_keeps_kustomize_message(kustomize: Kustomize, tmp_path: Path) -> None:
    """A directory without a kustomization: kustomize's own words, the directory named."""
    with pytest.raises(KustomizeBuildFailed) as info:
        kustomize.build(tmp_path)
    assert "unable to find one of 'kustomization.yaml'" in str(info.value)
    assert str(tmp_path) in str(info.value)
    clone = pickle.loads(pickle.dumps(info.value))  # noqa: S301 - our own data
    assert (info.value.path, info.value.message) == (clone.path, clone.message)


def test_a_missing_library_is_an_error_naming_it_and_the_fix(tmp_path: Path) -> None:
    """No library where one was expected: an error naming the path and 'make kustomize'."""
    missing = tmp_path / "libpykustomize.so"
    with pytest.raises(KustomizeUnavailable) as info:
        Kustomize(missing)
    assert str(missing) in str(info.value)
    assert "make kustomize" in str(info.value)


def test_a_file_that_is_no_library_is_an_error(tmp_path: Path) -> None:
    """A file that is not a shared object: the loader's reason, the file named."""
    bogus = tmp_path / "libpykustomize.so"
    bogus.write_text("not ELF")
    with pytest.raises(KustomizeUnavailable) as info:
        Kustomize(bogus)
    assert (str(bogus), True) == (info.value.library, bool(info.value.problem))


def test_the_variable_wins_over_the_default(
    kustomize: Kustomize, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """$SYNCSAFE_KUSTOMIZE_LIBRARY is used before the default; without both, an error."""
    monkeypatch.setenv(KUSTOMIZE_LIBRARY_VARIABLE, kustomize.library)
    assert kustomize.library == Kustomize.from_environment(tmp_path / "nothing").library
    monkeypatch.delenv(KUSTOMIZE_LIBRARY_VARIABLE)
    with pytest.raises(KustomizeUnavailable) as info:
        Kustomize.from_environment()
    assert f"${KUSTOMIZE_LIBRARY_VARIABLE}" in str(info.value)
