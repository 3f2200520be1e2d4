"""The nested-overlay edit: the stale-overlay incident's checksum, buggy vs fixed."""

from __future__ import annotations

import tempfile
from pathlib import Path

from syncsafe._demo._table import Row
from syncsafe.buggy import checksum as buggy
from syncsafe.checksums import checksum, overlay_checksum

INCIDENT = "nested-overlay edit"
KEY = "fluxcd.io/checksum"
OVERLAY = "overlays/prod/east"
EDITED = "bases/prod-east/ingress.yaml"

# The checkout: the prod-east overlay reaches its base through a symlink,
# as in the incident's repository.
FILES = {
    f"{OVERLAY}/kustomization.yaml": "resources:\n- base\npatches:\n- path: replicas.yaml\n",
    f"{OVERLAY}/replicas.yaml": (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: payments}\nspec: {replicas: 6}\n"
    ),
    "bases/prod-east/kustomization.yaml": "resources:\n- ingress.yaml\n",
    "bases/prod-east/README.md": "The prod-east base.\n",
    EDITED: (
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: payments\n"
        "  annotations: {nginx.ingress.kubernetes.io/backend-protocol: HTTP}\n"
    ),
}
LINK = (f"{OVERLAY}/base", "../../../bases/prod-east")
NEW_INGRESS = FILES[EDITED].replace("HTTP}", "HTTPS}")


def _write(repo: Path) -> None:
    for path, text in FILES.items():
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        (repo / path).write_text(text)
    (repo / LINK[0]).symlink_to(LINK[1])


def _verdict(changed: bool) -> str:  # noqa: FBT001
    return "changed: sync applies the edit" if changed else "unchanged: sync skipped, stale config"


def run() -> list[Row]:
    """Edit the symlinked base, then ask each checksum whether the overlay changed."""
    with tempfile.TemporaryDirectory(prefix="syncsafe-demo-") as tmp:
        repo = Path(tmp) / "repo"
        _write(repo)
        overlay = repo / OVERLAY
        buggy_before = buggy.checksum(overlay, KEY)
        tree_before = checksum(overlay, root=repo, annotation_key=KEY)
        closure_before = overlay_checksum(overlay, root=repo, annotation_key=KEY)
        (repo / EDITED).write_text(NEW_INGRESS)
        buggy_changed = buggy.checksum(overlay, KEY) != buggy_before
        tree_diff = tree_before.diff(checksum(overlay, root=repo, annotation_key=KEY))
        closure_diff = closure_before.diff(overlay_checksum(overlay, root=repo, annotation_key=KEY))
    return [
        Row(
            INCIDENT,
            "buggy",
            "calculateChecksum",
            f"edited {EDITED}: sha256 {_verdict(buggy_changed)}",
            buggy_changed,
        ),
        Row(
            INCIDENT,
            "fixed",
            "checksum",
            f"{_verdict(bool(tree_diff))}; modified: {', '.join(tree_diff.modified)}",
            tree_diff.modified == (f"{OVERLAY}/base/ingress.yaml",),
        ),
        Row(
            INCIDENT,
            "fixed",
            "overlay_checksum",
            f"{_verdict(bool(closure_diff))}; modified: {', '.join(closure_diff.modified)}",
            closure_diff.modified == (EDITED,),
        ),
    ]
