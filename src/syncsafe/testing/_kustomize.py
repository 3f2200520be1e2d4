"""A small, fixed kustomize repository for tests: the stale-overlay incident's shape."""

from __future__ import annotations

from pathlib import Path
from typing import Final, final

import attrs

__all__ = ["KustomizeSample", "kustomize_sample"]

_FILES: Final[dict[str, bytes]] = {
    "README.md": b"# corp-gitops\n",
    # the shared base that the production overlay reaches through a symlink
    "bases/prod-east/kustomization.yaml": (
        b"resources:\n- ingress.yaml\n- deployment.yaml\n"
        b"configMapGenerator:\n- name: payments\n  files:\n  - config=app.properties\n"
        b"  envs:\n  - .env\n"
    ),
    "bases/prod-east/ingress.yaml": b"apiVersion: networking.k8s.io/v1\nkind: Ingress\n",
    "bases/prod-east/deployment.yaml": b"apiVersion: apps/v1\nkind: Deployment\n",
    "bases/prod-east/app.properties": b"timeout=30s\n",
    "bases/prod-east/.env": b"LOG_LEVEL=info\n",
    "bases/prod-east/README.md": b"The east production base.\n",
    "bases/prod-east/unused.yaml": b"kind: ConfigMap\n",
    # a component with a patch
    "components/tls/kustomization.yaml": (
        b"apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\n"
        b"patches:\n- path: tls-patch.yaml\n"
    ),
    "components/tls/tls-patch.yaml": b"kind: Ingress\nspec:\n  tls: []\n",
    # the overlay: a symlinked base, a component, a strategic-merge patch
    "overlays/prod/east/kustomization.yaml": (
        b"resources:\n- base\ncomponents:\n- ../../../components/tls\n"
        b"patches:\n- path: replicas.yaml\n"
    ),
    "overlays/prod/east/replicas.yaml": b"kind: Deployment\nspec:\n  replicas: 3\n",
    "overlays/prod/east/NOTES.md": b"Deployed by the platform team.\n",
    # another overlay, which no build of prod/east reads
    "overlays/dev/kustomization.yaml": b"resources:\n- ../../bases/prod-east\n",
}
_LINKS: Final[dict[str, str]] = {"overlays/prod/east/base": "../../../bases/prod-east"}
_READS: Final = frozenset(
    {
        "bases/prod-east/kustomization.yaml",
        "bases/prod-east/ingress.yaml",
        "bases/prod-east/deployment.yaml",
        "bases/prod-east/app.properties",
        "bases/prod-east/.env",
        "components/tls/kustomization.yaml",
        "components/tls/tls-patch.yaml",
        "overlays/prod/east/kustomization.yaml",
        "overlays/prod/east/replicas.yaml",
    }
)


@final
@attrs.frozen
class KustomizeSample:
    """
    A kustomize repository written under ``root``.

    ``overlay`` is the production overlay (``overlays/prod/east``), whose
    ``base`` is a symlink to ``bases/prod-east``; ``reads`` are the physical
    paths (relative to ``root``) that ``kustomize build`` of that overlay
    opens, and ``unread`` the files it does not (READMEs, notes, an unused
    file, the other overlay).
    """

    root: Path
    overlay: Path
    reads: frozenset[str]
    unread: frozenset[str]


def kustomize_sample(base: Path) -> KustomizeSample:
    """Write the sample repository under ``base/repo`` and describe it."""
    root = base / "repo"
    for relative, content in _FILES.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    for relative, target in _LINKS.items():
        (root / relative).symlink_to(target)
    return KustomizeSample(
        root=root,
        overlay=root / "overlays/prod/east",
        reads=_READS,
        unread=frozenset(_FILES) - _READS,
    )
