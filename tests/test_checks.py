"""The conformance checks pass on syncsafe's primitives and fail on the buggy variants."""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
import threading
import types
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import settings

import syncsafe
from syncsafe import AsyncSyncGuard, FileSyncGuard, SyncGuard, walk
from syncsafe.buggy import checksum as buggy_checksum
from syncsafe.buggy import paths as buggy_paths
from syncsafe.buggy.sync import App
from syncsafe.testing import (
    ConformanceError,
    File,
    Symlink,
    TreeSpec,
    attack_corpus,
    benign_corpus,
    check_checksum,
    check_path_confinement,
    check_single_flight,
)

FEW = settings(max_examples=15, deadline=None, database=None)


def _read_with_walk(root: Path) -> list[bytes]:
    contents = []
    for entry in walk(root):
        with entry.open() as f:
            contents.append(f.read())
    return contents


def _read_like_a_build(root: Path) -> list[bytes]:
    """What a build reads once its symlink check passed: every regular file, links followed."""
    contents = []
    seen: set[str] = set()
    # The check lays out the root and the outside beside it in one temporary
    # directory; a link that climbs above that (to "/") would have this
    # reader walk the machine and block on /proc/kmsg. It stays unsafe
    # within the sandbox, which is all the check needs to catch it.
    sandbox = os.path.realpath(root.parent)
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        real = os.path.realpath(dirpath)
        if real in seen or os.path.commonpath([sandbox, real]) != sandbox:
            dirnames.clear()  # a loop, a directory reached twice, or beyond the sandbox
            continue
        seen.add(real)
        for name in filenames:
            path = os.path.join(dirpath, name)  # noqa: PTH118 - os.walk speaks strings
            try:
                mode = os.stat(path).st_mode  # noqa: PTH116
            except OSError:
                continue
            if stat.S_ISREG(mode):
                contents.append(Path(path).read_bytes())
    return contents


def _after(check: Callable[[str], bytes]) -> Callable[[Path], list[bytes]]:
    def read(root: Path) -> list[bytes]:
        check(str(root))
        return _read_like_a_build(root)

    return read


def test_walk_passes_path_confinement() -> None:
    """syncsafe.walk never reads outside the root and reads every benign file."""
    check_path_confinement(_read_with_walk, settings=FEW)


@pytest.mark.parametrize("check", [buggy_paths.build, buggy_paths.fixed_build])
def test_the_buggy_builds_fail_path_confinement(check: Callable[[str], bytes]) -> None:
    """Build() and FixedBuild() each let some malicious tree's outside content through."""
    with pytest.raises(ConformanceError, match=r"path confinement: \d+ of \d+ trees failed"):
        check_path_confinement(_after(check), settings=FEW)


def test_confinement_names_the_tree_and_its_links() -> None:
    """The failure message names the tree, its kind and its links."""
    spec = TreeSpec(
        "abs-link",
        "absolute",
        (Symlink("base", "{base}/outside"),),
        outside=attack_corpus()[0].outside,
    )
    with pytest.raises(ConformanceError) as info:
        check_path_confinement(_read_like_a_build, corpus=[spec], benign=[], settings=FEW)
    assert "abs-link (absolute; links: base -> {base}/outside): read the content" in str(info.value)


def test_confinement_reports_refused_and_missed_benign_trees() -> None:
    """A reader that refuses or skips benign files fails, naming what it missed."""

    def refuse(_: Path) -> list[bytes]:
        raise OSError("no")

    with pytest.raises(ConformanceError, match="refused a benign tree: OSError: no"):
        check_path_confinement(refuse, corpus=[], benign=benign_corpus()[:1], settings=FEW)
    with pytest.raises(ConformanceError, match="did not read"):
        check_path_confinement(lambda _: [], corpus=[], settings=FEW)


def test_confinement_hypothesis_phase_catches_what_the_corpus_missed() -> None:
    """With an empty corpus, the generated escaping trees still catch an unsafe reader."""
    with pytest.raises(ConformanceError, match="read the content of a file outside"):
        check_path_confinement(_read_like_a_build, corpus=[], benign=[], settings=FEW)


# ------------------------------------------------------------------ checksum


def _framed_digest(path: Path, root: Path) -> str:
    """A correct reference: sorted, length-prefixed, relative, links followed inside root."""
    del root  # a plain walk of path; links are followed by the kernel
    h = hashlib.sha256()
    entries = []
    for dirpath, _, filenames in os.walk(path, followlinks=True):
        for name in filenames:
            full = Path(dirpath, name)
            rel = os.fsencode(full.relative_to(path).as_posix())
            entries.append((rel, full.read_bytes()))
    for rel, content in sorted(entries):
        for field in (rel, content):
            h.update(len(field).to_bytes(8, "big") + field)
    return h.hexdigest()


def _concatenating_digest(path: Path, root: Path) -> str:
    """The incident's shape: absolute path + content, concatenated, links not followed."""
    del root
    h = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(path):
        dirnames.sort()
        for name in sorted(filenames):
            full = os.path.join(dirpath, name)  # noqa: PTH118
            if Path(full).is_file() and not Path(full).is_symlink():
                h.update(os.fsencode(full) + Path(full).read_bytes())
    return h.hexdigest()


def test_a_framed_reference_passes_check_checksum() -> None:
    """A team's own correct checksum passes every property."""
    check_checksum(_framed_digest, settings=FEW)


def test_the_concatenating_checksum_fails_check_checksum() -> None:
    """Concatenation without framing, and links not followed, are both caught."""
    with pytest.raises(ConformanceError) as info:
        check_checksum(_concatenating_digest, settings=FEW)
    assert "a='bc' and ab='c'" in str(info.value)
    assert "symlinked nested base" in str(info.value)


def test_check_checksum_catches_location_dependence() -> None:
    """A digest that includes where the tree is fails the location property."""

    def located(path: Path, root: Path) -> str:
        return _framed_digest(path, root) + str(path)

    with pytest.raises(ConformanceError, match="gives two digests"):
        check_checksum(located, settings=FEW)


def test_check_checksum_catches_a_blind_spot() -> None:
    """A digest that never looks at file contents misses a one-byte edit."""

    def names_only(path: Path, root: Path) -> str:
        del root
        names = sorted(str(p.relative_to(path)) for p in path.rglob("*"))
        hidden = sorted((path / ".env").read_bytes()) if (path / ".env").exists() else []
        base = path / "base" / "ingress.yaml"
        return repr((names, hidden, base.read_bytes() if base.exists() else b""))

    with pytest.raises(ConformanceError, match="edit of"):
        check_checksum(names_only, settings=settings(FEW, max_examples=60))


def test_file_entries_are_exported() -> None:
    """File is the public spec entry the checks build trees from."""
    assert File("a", b"x").content == b"x"


# ------------------------------------------------------------- single flight


class _BuggyGuard:
    """The incident's App.sync / App.fixed_sync behind the guard interface: one App per key."""

    def __init__(self, method: str) -> None:
        self.method = method
        self.apps: dict[str, App] = {}
        self.local = threading.local()
        self.lock = threading.Lock()

    def run(self, key: str, fn: Callable[[], object]) -> object:
        with self.lock:
            app = self.apps.setdefault(key, App(key, work=self._work))
        self.local.fn, self.local.value = fn, None
        getattr(app, self.method)()
        return self.local.value

    def _work(self) -> None:
        self.local.value = self.local.fn()


@pytest.mark.parametrize(
    "factory",
    [
        SyncGuard,
        AsyncSyncGuard,
        lambda: FileSyncGuard(tempfile.mkdtemp(prefix="syncsafe-guard-")),
    ],
    ids=["SyncGuard", "AsyncSyncGuard", "FileSyncGuard"],
)
def test_the_guards_pass_check_single_flight(factory: Callable[[], object]) -> None:
    """The guards never run twice and serve every caller with a later run."""
    check_single_flight(factory, settings=FEW)


@pytest.mark.parametrize(
    ("method", "message"),
    [
        ("sync", "was refused: RuntimeError: sync already in progress"),
        ("fixed_sync", "was refused: RuntimeError: sync already in progress"),
    ],
)
def test_the_buggy_syncs_fail_check_single_flight(method: str, message: str) -> None:
    """Sync() and FixedSync() both drop the request that arrives mid-sync."""
    with pytest.raises(ConformanceError, match=message):
        check_single_flight(lambda: _BuggyGuard(method), settings=FEW)


def test_sharing_the_run_in_flight_fails_the_freshness_rule() -> None:
    """Go's singleflight semantics (policy='share') hand out a result older than the request."""
    with pytest.raises(ConformanceError, match="not a run that started after it asked"):
        check_single_flight(lambda: SyncGuard(policy="share"), settings=FEW)


def test_a_guard_that_swallows_errors_or_is_not_a_guard() -> None:
    """A run's exception must reach its caller; a factory must return something with run()."""

    class Swallowing:
        def run(self, key: str, fn: Callable[[], object]) -> object:
            del key
            try:
                return fn()
            except ValueError:
                return None

    with pytest.raises(ConformanceError, match="raised ValueError but its caller got None"):
        check_single_flight(Swallowing, settings=FEW)
    with pytest.raises(TypeError, match="has no run"):
        check_single_flight(object, settings=FEW)


def test_an_unguarded_runner_fails_under_stress() -> None:
    """No guard at all: overlapping runs of one key are caught, with the callers named."""

    class Unguarded:
        def run(self, key: str, fn: Callable[[], object]) -> object:
            del key
            return fn()

    with pytest.raises(ConformanceError, match="runs of key 'app' at once"):
        check_single_flight(Unguarded, settings=FEW)


def test_syncsafe_checksum_passes_check_checksum() -> None:
    """The checksum, reading through links inside the root, passes every property."""
    check_checksum(lambda path, root: syncsafe.checksum(path, root=root).digest, settings=FEW)


def test_the_incidents_checksum_fails_check_checksum() -> None:
    """The incident's calculateChecksum misses the symlinked base and is not framed."""
    with pytest.raises(ConformanceError) as info:
        check_checksum(lambda path, _root: buggy_checksum.checksum(path), settings=FEW)
    assert "symlinked nested base" in str(info.value)


class _LockPerKey:
    """A correct guard with no signal of its own: a lock per key, every caller runs."""

    def __init__(self) -> None:
        self.lock = threading.Lock()

    def run(self, key: str, fn: Callable[[], object]) -> object:
        del key
        with self.lock:
            return fn()


class _CountingWaiters(_LockPerKey):
    """The same guard, saying through statistics().waiting how many callers wait."""

    def __init__(self) -> None:
        super().__init__()
        self.waiting = 0
        self.count = threading.Lock()

    def statistics(self) -> object:
        return types.SimpleNamespace(waiting=self.waiting)

    def run(self, key: str, fn: Callable[[], object]) -> object:
        del key
        with self.count:
            self.waiting += 1
        with self.lock:
            with self.count:
                self.waiting -= 1
            return fn()


def test_a_guard_with_no_waiting_signal_is_named_not_guessed() -> None:
    """A guard with neither on_wait nor statistics().waiting fails plainly, not by a sleep."""
    with pytest.raises(ConformanceError, match="offers no way to tell that a caller waits"):
        check_single_flight(_LockPerKey, settings=FEW, timeout=0.5)


def test_a_guard_counting_its_waiters_is_checked_on_that_count() -> None:
    """statistics().waiting is enough for the check to know the second caller waits."""
    check_single_flight(_CountingWaiters, settings=FEW)


def test_patience_is_deprecated() -> None:
    """patience= still parses, warns, and changes nothing."""
    with pytest.warns(DeprecationWarning, match="patience"):
        check_single_flight(SyncGuard, settings=FEW, patience=0.05)
