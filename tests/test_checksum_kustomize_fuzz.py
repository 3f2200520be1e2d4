"""
A fuzzer over generated kustomizations: only declared syncsafe errors ever escape.

Each example writes a small repository — an overlay ``o``, bases ``b`` and
``c``, a plugin config file, a plain file, a directory without a
kustomization, an escaping link, a looping link, a FIFO — whose kustomization
files are YAML dumped from generated values (fields kustomize knows, values
of every shape, paths of every kind) or raw text with YAML's odd corners
(merge keys, anchors, tags, several documents, control bytes). Whatever the
input, ``overlay_checksum`` returns a checksum or raises a
:class:`~syncsafe.SyncsafeError`; anything else is a bug.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from syncsafe import SyncsafeError, overlay_checksum

pytestmark = pytest.mark.property

# Each example writes a repository of about ten entries: bounded to run in seconds.
FUZZ = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# Against a reader expected to fail: the first failure is the answer; no shrinking.
FIRST = settings(
    FUZZ, max_examples=50, phases=[Phase.generate], report_multiple_bugs=False, database=None
)

FIELDS = [
    "resources",
    "bases",
    "components",
    "generators",
    "transformers",
    "validators",
    "patches",
    "patchesStrategicMerge",
    "patchesJson6902",
    "replacements",
    "openapi",
    "crds",
    "configurations",
    "configMapGenerator",
    "secretGenerator",
    "helmGlobals",
    "helmCharts",
    "helmChartInflationGenerator",
    "namePrefix",
]
KEYS = [
    "path",
    "paths",
    "patch",
    "name",
    "files",
    "envs",
    "env",
    "repo",
    "version",
    "valuesFile",
    "additionalValuesFiles",
    "chartHome",
    "chartName",
    "values",
    "apiVersion",
    "kind",
    "metadata",
    "replacements",
    "annotations",
    "config.kubernetes.io/function",
    "<<",
]
PATHS = [
    "a.yaml",
    "missing.yaml",
    "cfg.yaml",
    "../b",
    "../c",
    "b",
    "d",
    "..",
    ".",
    "up",
    "up/x",
    "loop",
    "a.yaml/x",
    "fifo",
    "/etc/passwd",
    "a\0b",
    "github.com/org/repo//x?ref=v1",
    "https://example.com/x",
    "x" * 300,
    " ",
    "{a: b}",
    "{apiVersion: builtin, kind: PatchTransformer, path: a.yaml}",
    "apiVersion: builtin\nkind: ConfigMapGenerator\nfiles: [missing.yaml]\n",
    "builtin",
    "example.com/v1",
    "PatchTransformer",
    "HelmChartInflationGenerator",
    "ConfigMapGenerator",
    "NoSuchKind",
    "container:\n  image: x\n",
]
RAW = [
    "<<: 1\n",
    "<<: [1]\n",
    "a: &x {resources: [a.yaml]}\n<<: *x\n",
    "resources: [*undefined]\n",
    "resources: [\n",
    "resources: !!binary aGk=\n",
    "resources:\n- !!python/object:os.system {}\n",
    "? [a]\n: b\n",
    "%YAML 1.1\n---\nresources: []\n",
    "a: 1\n---\nb: 2\n",
    "\t- a\n",
    "resources: [a.yaml]\nresources: [b]\n",
    "\x00",
    "\x85",
]

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-2, 2), st.sampled_from(PATHS), st.text(max_size=5)
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(KEYS), inner, max_size=4),
    ),
    max_leaves=12,
)
kustomizations = st.dictionaries(
    st.sampled_from(FIELDS), st.one_of(values, st.lists(st.sampled_from(PATHS), max_size=3))
)
configs = st.dictionaries(
    st.sampled_from(KEYS),
    values,
    max_size=5,
).map(lambda d: {"apiVersion": "builtin", "kind": "PatchTransformer", **d})


def _text(doc: dict[str, Any], raw: list[str]) -> bytes:
    text = yaml.safe_dump(doc, allow_unicode=True) if doc else ""
    return (text + "".join(raw)).encode("utf-8", "surrogatepass")


texts = st.builds(_text, kustomizations, st.lists(st.sampled_from(RAW), max_size=2))
config_texts = st.builds(_text, configs, st.lists(st.sampled_from(RAW), max_size=1))


def _write(root: Path, overlay: bytes, bases: list[bytes], config: bytes, *, fifo: bool) -> None:
    for directory in ("o", "b", "c", "o/d"):
        (root / directory).mkdir(parents=True)
    (root / "o/kustomization.yaml").write_bytes(overlay)
    (root / "b/kustomization.yaml").write_bytes(bases[0])
    (root / "c/kustomization.yaml").write_bytes(bases[1])
    (root / "o/cfg.yaml").write_bytes(config)
    (root / "o/a.yaml").write_bytes(b"kind: ConfigMap\n")
    (root / "o/up").symlink_to("../..")
    (root / "o/loop").symlink_to("loop")
    if fifo:
        os.mkfifo(root / "o/fifo")


Checksummer = Callable[[Path], object]


def _only_declared_errors(
    fn: Checksummer, *, fifo: bool, run: settings = FUZZ
) -> Callable[[], None]:
    @run
    @given(texts, st.lists(texts, min_size=2, max_size=2), config_texts)
    def check(overlay: bytes, bases: list[bytes], config: bytes) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp) / "repo"
            _write(root, overlay, bases, config, fifo=fifo)
            try:
                fn(root)
            except SyncsafeError:
                pass
            except Exception as exc:  # the property: nothing else may escape
                msg = f"an undeclared error escaped: {exc!r}"
                raise AssertionError(msg) from exc

    return check


def _syncsafe(root: Path) -> object:
    return overlay_checksum(root / "o", root=root, allow_remote=True)


def _naive(root: Path) -> object:
    """A reader that trusts its input, as the incident's did."""
    data = yaml.safe_load((root / "o/kustomization.yaml").read_text())
    for reference in (data or {}).get("resources", []):
        (root / "o" / reference / "kustomization.yaml").read_bytes()
    return data


@pytest.mark.timeout(120)
def test_overlay_checksum_raises_only_declared_errors() -> None:
    """Over generated kustomizations, overlay_checksum returns or raises a SyncsafeError."""
    _only_declared_errors(_syncsafe, fifo=True)()


@pytest.mark.timeout(120)
def test_the_fuzzer_catches_a_reader_that_leaks_raw_errors() -> None:
    """The same fuzzer finds a raw error in a naive reader: it can fail."""
    with pytest.raises(AssertionError, match="an undeclared error escaped"):
        _only_declared_errors(_naive, fifo=False, run=FIRST)()
