"""
Every reading code path, raced against a directory swapped for a link out of the root.

One thread swaps ``repo/sub`` for a symlink to ``outside`` (absolute and
relative in turn) and back; the other runs one reader over and over: the
walk, a whole-tree and a subtree checksum, the overlay closure through each
kind of reference that can lead into ``sub`` (a file resource, a base
directory, a patch, a generator's file, a local helm chart), and scan.
``outside`` holds the same names as ``sub`` with a canary's content, and a
name of its own: no canary byte, and no name from outside, may ever reach a
digest, a manifest, a finding or an error message. The number of reader runs bounds each test.
"""

from __future__ import annotations

import ctypes
import os
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import pytest
import xxhash

from syncsafe import SyncsafeError, checksum, overlay_checksum
from syncsafe.walker import scan, walk

ATTEMPTS = 800  # reader runs per test: the bound on its time
MAX_SWAPS = 1_000_000  # the swapper stops when the reader is done, or at this
CANARY = b"# OUTSIDE: this must never be read\n"
CANARY_DIGEST = xxhash.xxh3_128_hexdigest(CANARY)
# the names sub and outside share, with sub's content; outside has CANARY in each
SHARED = {
    "app.yaml": b"kind: ConfigMap\nmetadata: {name: app}\n",
    "patch.yaml": b"kind: ConfigMap\nmetadata: {name: app}\ndata: {a: b}\n",
    "data.txt": b"inside\n",
    "kustomization.yaml": b"resources: [app.yaml]\n",
    "Chart.yaml": b"name: sub\n",
    "templates/cm.yaml": b"kind: ConfigMap\n",
}
OVERLAYS = {
    "resource": b"resources: [../sub/app.yaml]\n",
    "base": b"resources: [../sub]\n",
    "patch": b"resources: [../app.yaml]\npatches:\n- path: ../sub/patch.yaml\n",
    "generator": b"configMapGenerator:\n- name: c\n  files: [../sub/data.txt]\n",
    "chart": b"helmGlobals: {chartHome: ..}\nhelmCharts:\n- name: sub\n",
}


@pytest.fixture
def racing_repo(tmp_path: Path) -> tuple[Path, Path]:
    """repo/sub and outside/ with the same names; overlays in repo/<kind> reaching into sub."""
    root, outside = tmp_path / "repo", tmp_path / "outside"
    for name, content in SHARED.items():
        for base, data in ((root / "sub", content), (outside, CANARY)):
            (base / name).parent.mkdir(parents=True, exist_ok=True)
            (base / name).write_bytes(data)
    (outside / "only-outside.yaml").write_bytes(CANARY)
    (outside / "only-outside-dangling").symlink_to("nowhere")
    (root / "app.yaml").write_bytes(SHARED["app.yaml"])
    for kind, text in OVERLAYS.items():
        (root / kind).mkdir()
        (root / kind / "kustomization.yaml").write_bytes(text)
    return root, outside


def _exchanger() -> Callable[[Path, Path], None] | None:
    """``renameat2(RENAME_EXCHANGE)``: swap two names atomically, where libc has it."""
    libc = ctypes.CDLL(None, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:  # pragma: no cover - glibc before 2.28, other systems
        return None
    at_fdcwd, rename_exchange = -100, 2

    def exchange(a: Path, b: Path) -> None:
        if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange):
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err), str(a))

    return exchange


EXCHANGE = _exchanger()


def _swapper(root: Path, outside: Path, done: threading.Event) -> Callable[[], None]:
    """
    Swap root/sub for a symlink to outside and back until told to stop.

    With ``renameat2(RENAME_EXCHANGE)`` each swap is one atomic step, so
    ``sub`` is always either the directory or the link, each for as long as
    the other: a reader that checks the directory and then uses it is caught
    between the two. Elsewhere the swap is rename, symlink, unlink, rename.
    """
    sub, parked = root / "sub", root.parent / "parked"
    # beside the root, so that whatever is parked there is outside it
    links = (root.parent / "link.absolute", root.parent / "link.relative")
    links[0].symlink_to(outside)
    links[1].symlink_to(Path("..") / outside.name)  # relative to where it is swapped in

    def run() -> None:
        try:
            for i in range(MAX_SWAPS):
                if done.is_set():
                    return
                link = links[i % 2]
                if EXCHANGE is not None:
                    EXCHANGE(sub, link)  # sub is the link now, link the directory
                    EXCHANGE(sub, link)  # and back
                    continue
                sub.rename(parked)  # pragma: no cover - where renameat2 is missing
                sub.symlink_to(link.readlink())
                sub.unlink()
                parked.rename(sub)
        finally:
            done.set()

    return run


def _files_walked(root: Path) -> dict[str, str]:
    files = {}
    for entry in walk(root, exclude=[]):
        with entry.open() as f:
            files[entry.path] = xxhash.xxh3_128_hexdigest(f.read())
    return files


def _findings(root: Path) -> dict[str, str]:
    return {f.path: f.rule for f in scan(root, exclude=[])}


def _overlay(kind: str, root: Path) -> dict[str, str]:
    # without kustomize's load restriction: the overlays read files beside their directory
    return dict(overlay_checksum(root / kind, root=root, load_restrictor="none").files)


READERS: dict[str, Callable[[Path], dict[str, str]]] = {
    "walk": _files_walked,
    "checksum": lambda root: dict(checksum(root).files),
    "checksum-subtree": lambda root: dict(checksum(root / "sub", root=root).files),
    "scan": _findings,
}
for _kind in OVERLAYS:
    READERS[f"overlay-{_kind}"] = partial(_overlay, _kind)


@pytest.fixture
def fine_interleaving() -> Iterator[None]:
    """Switch threads every microsecond, so the swapper lands inside each reader's steps."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(before)


@pytest.mark.timeout(60)
@pytest.mark.usefixtures("fine_interleaving")
@pytest.mark.parametrize("reader", list(READERS))
def test_no_reader_ever_returns_outside_content_while_a_directory_is_swapped(
    racing_repo: tuple[Path, Path], reader: str
) -> None:
    """No digest, manifest, finding or error ever holds a canary byte or a name only outside has."""
    root, outside = racing_repo
    read = READERS[reader]
    done = threading.Event()
    swapper = threading.Thread(target=_swapper(root, outside, done))
    results: list[dict[str, str]] = []
    failed: Counter[str] = Counter()
    swapper.start()
    try:
        for _ in range(ATTEMPTS):
            try:
                results.append(read(root))
            except (SyncsafeError, OSError) as exc:  # noqa: PERF203 - one trial of the race
                failed[f"{type(exc).__name__}: {exc}"] += 1
    finally:
        done.set()
        swapper.join()
    leaked = [
        (path, value)
        for result in results
        for path, value in result.items()
        if value == CANARY_DIGEST or "only-outside" in path
    ]
    assert [] == leaked
    assert [] == [message for message in failed if "only-outside" in message]
    assert results  # the reader succeeded at least once: the race was not vacuous
    results.append(read(root))  # and once more, with the tree at rest
    assert all(value != CANARY_DIGEST for value in results[-1].values())
