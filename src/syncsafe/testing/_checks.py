"""
Conformance checks: run syncsafe's own properties against *your* implementation.

Each check drives the properties that syncsafe's test suite proves of its own
primitive — over the same corpora and the same Hypothesis strategies — and
fails with a [`ConformanceError`][syncsafe.testing._checks.ConformanceError] (an ``AssertionError``,
so pytest reports it as a test failure) that names the counterexample. syncsafe's own
tests run every check against the matching ``syncsafe.buggy`` variant, which
fails it, and against syncsafe's primitive, which passes.

Hypothesis and the corpora load when a check runs, not when this module is
imported.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Hashable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, final

if TYPE_CHECKING:
    from hypothesis import settings as Settings  # noqa: N812

    from syncsafe.testing._trees import TreeSpec

__all__ = [
    "ConformanceError",
    "check_checksum",
    "check_path_confinement",
    "check_single_flight",
]


@final
class ConformanceError(AssertionError):
    """An implementation broke a property that a syncsafe conformance check drives."""


ReadTree = Callable[[Path], Iterable[bytes]]
"""Read a tree as the build would: return the content of every file it would use."""

ChecksumFn = Callable[[Path, Path], Hashable]
"""Checksum the tree at ``path``, following symlinks that stay inside ``root``."""


@contextmanager
def _built(spec: TreeSpec) -> Iterator[Path]:
    from syncsafe.testing._trees import build_tree  # noqa: PLC0415

    with tempfile.TemporaryDirectory(prefix="syncsafe-check-") as base:
        yield build_tree(spec, Path(base))


def _settings(given: Settings | None) -> Settings:
    from hypothesis import HealthCheck, settings  # noqa: PLC0415

    if given is not None:
        return given
    # No example database: a check runs in other teams' projects and must not
    # leave a .hypothesis folder behind.
    return settings(
        max_examples=50,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


def _describe(spec: TreeSpec) -> str:
    from syncsafe.testing._trees import Symlink  # noqa: PLC0415

    links = ", ".join(f"{e.path} -> {e.target}" for e in spec.entries if isinstance(e, Symlink))
    return f"{spec.name} ({spec.kind}; links: {links or 'none'})"


# ------------------------------------------------------------ confinement


def _reads_outside(read_tree: ReadTree, spec: TreeSpec) -> str | None:
    """Why reading *spec* through *read_tree* broke confinement, or None."""
    from syncsafe.testing._trees import SECRET  # noqa: PLC0415

    with _built(spec) as root:
        try:
            contents = list(read_tree(root))
        except Exception:  # noqa: BLE001 - refusing the tree is the safe answer
            return None
    if SECRET in contents:
        return f"{_describe(spec)}: read the content of a file outside the root"
    return None


def _misses_inside(read_tree: ReadTree, spec: TreeSpec) -> str | None:
    """Why reading the benign *spec* failed (refused, or files missed), or None."""
    from syncsafe.testing._trees import File  # noqa: PLC0415

    with _built(spec) as root:
        try:
            contents = set(read_tree(root))
        except Exception as exc:  # noqa: BLE001 - reported, not raised
            return f"{_describe(spec)}: refused a benign tree: {type(exc).__name__}: {exc}"
    missed = sorted(
        e.path for e in spec.entries if isinstance(e, File) and e.content not in contents
    )
    if missed:
        return f"{_describe(spec)}: did not read {', '.join(missed)}"
    return None


def check_path_confinement(
    read_tree: ReadTree,
    *,
    corpus: Iterable[TreeSpec] | None = None,
    benign: Iterable[TreeSpec] | None = None,
    settings: Settings | None = None,
) -> None:
    """
    Check that *read_tree* never reads outside the root, and reads every file inside.

    *read_tree(root)* reads the tree at *root* the way your build or hook
    does and returns the content of every file it would use (``bytes``). To
    refuse a tree it raises any exception. The check:

    1. builds every malicious tree of the attack corpus
       ([`attack_corpus`][syncsafe.testing._trees.attack_corpus], or *corpus*) — escapes
       through relative and absolute links, chains of links that each look
       inbound, links through symlinked directories, sibling directories that
       share the root's name as a prefix, loops — and fails if *read_tree*
       returns the content of the file planted outside the root;
    2. builds every benign tree ([`benign_corpus`][syncsafe.testing._trees.benign_corpus], or
       *benign*) and fails if *read_tree* refuses it or misses a file in it;
    3. draws random trees with an escaping link
       ([`syncsafe.strategies.symlink_trees`][syncsafe.strategies.symlink_trees] with
       ``escaping=True``) and fails if any outside content is read (Hypothesis, *settings*).

    Raises [`ConformanceError`][syncsafe.testing._checks.ConformanceError] naming every tree that
    failed.

    !!! note "Added in version 0.1.0"
    """
    from hypothesis import given  # noqa: PLC0415

    from syncsafe.strategies import symlink_trees  # noqa: PLC0415
    from syncsafe.testing._trees import attack_corpus, benign_corpus  # noqa: PLC0415

    attacks = attack_corpus() if corpus is None else tuple(corpus)
    goods = benign_corpus() if benign is None else tuple(benign)
    problems = [p for spec in attacks if (p := _reads_outside(read_tree, spec))]
    problems += [p for spec in goods if (p := _misses_inside(read_tree, spec))]
    if problems:
        total = len(attacks) + len(goods)
        raise ConformanceError(
            f"path confinement: {len(problems)} of {total} trees failed:\n  "
            + "\n  ".join(problems)
        )

    @_settings(settings)
    @given(symlink_trees(escaping=True))
    def never_reads_outside(spec: TreeSpec) -> None:
        problem = _reads_outside(read_tree, spec)
        if problem:
            raise ConformanceError(f"path confinement: {problem}")

    never_reads_outside()


# --------------------------------------------------------------- checksum


def _write(root: Path, relative: str, content: bytes) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)


def _nested_overlay(base: Path) -> tuple[Path, Path]:
    """The incident's layout: an overlay whose ``base`` is a symlink to a shared base."""
    root = base / "repo"
    _write(root, "bases/prod-east/kustomization.yaml", b"resources:\n- ingress.yaml\n")
    _write(root, "bases/prod-east/ingress.yaml", b"kind: Ingress\nmetadata:\n  name: payments\n")
    _write(root, "overlays/prod/east/kustomization.yaml", b"resources:\n- base\n")
    (root / "overlays/prod/east/base").symlink_to("../../../bases/prod-east")
    return root / "overlays/prod/east", root


def _example_failures(checksum: ChecksumFn) -> list[str]:
    """The fixed scenarios: framing, hidden files, the symlinked nested base."""
    problems: list[str] = []
    with tempfile.TemporaryDirectory() as base:
        root = Path(base)
        _write(root, "a", b"bc")
        first = checksum(root, root)
        (root / "a").unlink()
        _write(root, "ab", b"c")
        if checksum(root, root) == first:
            problems.append("files a='bc' and ab='c' give the same digest (no framing)")
    with tempfile.TemporaryDirectory() as base:
        root = Path(base)
        _write(root, "config.env", b"LEVEL=info\n")
        _write(root, ".env", b"LEVEL=info\n")
        before = checksum(root, root)
        _write(root, ".env", b"LEVEL=warn\n")
        if checksum(root, root) == before:
            problems.append("an edit to the hidden file .env did not change the digest")
    with tempfile.TemporaryDirectory() as base:
        overlay, root = _nested_overlay(Path(base))
        before = checksum(overlay, root)
        _write(root, "bases/prod-east/ingress.yaml", b"kind: Ingress\nmetadata:\n  name: v2\n")
        if checksum(overlay, root) == before:
            problems.append(
                "an edit under the symlinked nested base overlays/prod/east/base -> "
                "../../../bases/prod-east did not change the overlay's digest"
            )
    return problems


def check_checksum(checksum: ChecksumFn, *, settings: Settings | None = None) -> None:
    """
    Check that *checksum* is canonical and cannot miss a change.

    *checksum(path, root)* returns the digest of the tree at *path*, reading
    through symlinks that stay inside *root* (for
    [`syncsafe.checksum`][syncsafe.checksums.checksum]: ``lambda path, root: checksum(path,
    root=root).digest``). The check fails if:

    - files ``a``=``bc`` and ``ab``=``c`` give the same digest (fields not framed);
    - an edit to a hidden file (``.env``, which ``configMapGenerator`` reads)
      is missed;
    - an edit under a symlinked nested base is missed (the stale-overlay incident);
    - on random trees ([`syncsafe.strategies.file_trees`][syncsafe.strategies.file_trees], odd names
      included): the same tree at two locations gives two digests; or a
      one-byte edit, an added file, a removed file or a renamed file leaves the
      digest unchanged.

    Raises [`ConformanceError`][syncsafe.testing._checks.ConformanceError] naming the
    counterexample.

    !!! note "Added in version 0.1.0"
    """
    from hypothesis import assume, given  # noqa: PLC0415
    from hypothesis import strategies as st  # noqa: PLC0415

    from syncsafe.strategies import file_trees  # noqa: PLC0415
    from syncsafe.testing._trees import File  # noqa: PLC0415

    problems = _example_failures(checksum)
    if problems:
        raise ConformanceError("checksum:\n  " + "\n  ".join(problems))

    @_settings(settings)
    @given(file_trees(), st.data())
    def every_change_is_seen(spec: TreeSpec, data: st.DataObject) -> None:
        files = [e for e in spec.entries if isinstance(e, File)]
        assume(files)
        target = data.draw(st.sampled_from(files), label="file changed")
        change = data.draw(st.sampled_from(["edit", "add", "remove", "rename"]), label="change")
        with _built(spec) as one, _built(spec) as two:
            digest = checksum(one, one)
            if checksum(two, two) != digest:
                msg = f"checksum: the same tree at {one} and {two} gives two digests"
                raise ConformanceError(msg)
            path = one / target.path
            if change == "edit":
                content = path.read_bytes() or b"\0"
                path.write_bytes(bytes([content[0] ^ 0x01]) + content[1:])
            elif change == "add":
                _write(one, target.path + ".new", b"added")
            elif change == "remove":
                path.unlink()
            else:
                path.rename(path.with_name(path.name + ".renamed"))
            if checksum(one, one) == digest:
                msg = f"checksum: {change} of {target.path!r} did not change the digest"
                raise ConformanceError(msg)

    every_change_is_seen()


# ------------------------------------------------------------ single flight


class _Runs:
    """A ledger of the runs a guard executes: ticks, concurrency, what each caller got."""

    def __init__(self) -> None:
        import threading  # noqa: PLC0415

        self.lock = threading.Lock()
        self.tick = 0
        self.active: dict[object, int] = {}
        self.started: dict[int, int] = {}  # run id -> tick it started at
        self.problems: list[str] = []

    def now(self) -> int:
        with self.lock:
            self.tick += 1
            return self.tick

    def body(self, key: object, wait: Callable[[], None] | None = None) -> Callable[[], int]:
        """A function for ``guard.run``: it records its run and returns the run's id."""

        def run() -> int:
            with self.lock:
                self.tick += 1
                run_id = len(self.started) + 1
                self.started[run_id] = self.tick
                self.active[key] = self.active.get(key, 0) + 1
                if self.active[key] > 1:
                    self.problems.append(
                        f"{self.active[key]} runs of key {key!r} at once (run {run_id} started "
                        "while another was in flight)"
                    )
            try:
                if wait is not None:
                    wait()
            finally:
                with self.lock:
                    self.active[key] -= 1
            return run_id

        return run


def _value(result: object) -> object:
    """The run's value from what ``run`` returned: an Outcome-like ``.value``, or itself."""
    return getattr(result, "value", result)


def _waiting_signal(guard: object) -> Callable[[], bool] | None:
    """
    How to tell that a caller of *guard* waits: its ``on_wait`` hook, else ``statistics().waiting``.

    ``None`` if the guard offers neither.
    """
    import threading  # noqa: PLC0415

    target = getattr(guard, "guard", guard) if isinstance(guard, _AsyncRunner) else guard
    if hasattr(target, "on_wait"):
        waiting = threading.Event()
        previous = target.on_wait

        def on_wait(key: object) -> None:
            waiting.set()
            if callable(previous):
                previous(key)

        target.on_wait = on_wait
        return waiting.is_set
    statistics = getattr(target, "statistics", None)
    if callable(statistics) and isinstance(getattr(statistics(), "waiting", None), int):
        return lambda: bool(statistics().waiting)
    return None


def _overlap_scenario(guard: _Guard, timeout: float) -> list[str]:
    """A caller arrives while a run is in flight: it must be served by a later run."""
    import threading  # noqa: PLC0415

    runs = _Runs()
    running, released, follower_done = threading.Event(), threading.Event(), threading.Event()
    got: object = None
    arrived: list[int] = []
    waits = _waiting_signal(guard)

    def hold() -> None:
        running.set()
        # A safety net against a hang, well past the wait for the second caller
        # below: that wait must always end first, or a guard without a waiting
        # signal would be judged by which of two equal timeouts fired first.
        if not released.wait(4 * timeout):
            runs.problems.append("the first run was never released (the check timed out)")

    def lead() -> None:
        guard.run("app", runs.body("app", hold))

    def follow() -> None:
        nonlocal got
        arrived.append(runs.now())
        try:
            got = _value(guard.run("app", runs.body("app")))
        except Exception as exc:  # noqa: BLE001 - what the caller got is the finding
            got = exc
        finally:
            follower_done.set()

    first = threading.Thread(target=lead, daemon=True)
    second = threading.Thread(target=follow, daemon=True)
    first.start()
    if not running.wait(timeout):
        return ["the first caller's run never started"]
    second.start()
    # The second caller either returns at once (a guard that refuses, shares
    # or does not guard) or waits, which the guard itself says: no sleep.
    if not _second_settled(waits, follower_done, timeout):
        released.set()
        return [_NO_SIGNAL.format(timeout=timeout)]
    released.set()
    for thread in (first, second):
        thread.join(timeout)
        if thread.is_alive():
            return [f"a caller was still waiting {timeout} s after the run ended (a hang)"]
    problem = _judge(runs, "a caller that arrived while a run was in flight", arrived[0], got)
    return runs.problems + ([problem] if problem else [])


_NO_SIGNAL = (
    "the second caller was still blocked after {timeout} s, and the guard offers no way to "
    "tell that a caller waits (an on_wait hook, or statistics().waiting): the check cannot "
    "tell waiting from hanging without one"
)


def _second_settled(waits: Callable[[], bool] | None, done: object, timeout: float) -> bool:
    """
    Wait until the second caller returned (*done*) or the guard says it waits (*waits*).

    False if neither came within *timeout* and the guard offers no signal.
    """
    import threading  # noqa: PLC0415
    import time  # noqa: PLC0415

    assert isinstance(done, threading.Event)  # noqa: S101 - the follower's event
    if waits is None:
        return done.wait(timeout)
    deadline = time.monotonic() + timeout
    while not done.is_set() and not waits() and time.monotonic() < deadline:
        done.wait(0.001)  # a poll of the guard's own signal, not a guess at timing
    return True


def _judge(runs: _Runs, who: str, arrived: int, value: object) -> str | None:
    """What is wrong with *value* as the result of a call made at tick *arrived*, if anything."""
    if isinstance(value, BaseException):
        return f"{who} was refused: {type(value).__name__}: {value} — the update it carried is lost"
    started = runs.started.get(value) if isinstance(value, int) else None
    if started is None:
        return f"{who} got {value!r}, which is not the value of any run"
    if started <= arrived:
        return (
            f"{who} (at tick {arrived}) got the result of run {value}, which started at tick "
            f"{started}: not a run that started after it asked"
        )
    return None


_RAISED = object()


def _failure_scenario(guard: _Guard) -> list[str]:
    """An exception in the run reaches its caller, and the key is not left stuck."""
    runs = _Runs()

    def boom() -> int:
        msg = "the sync failed"
        raise ValueError(msg)

    try:
        result = guard.run("failing", boom)
    except Exception:  # noqa: BLE001 - any exception type satisfies the property
        result = _RAISED
    if result is not _RAISED:
        return [f"the run raised ValueError but its caller got {result!r}"]
    try:
        again = _value(guard.run("failing", runs.body("failing")))
    except Exception as exc:  # noqa: BLE001
        return [f"after a failed run, the key stayed stuck: {type(exc).__name__}: {exc}"]
    if again != 1:
        return [f"after a failed run, the next call got {again!r}, not a fresh run"]
    return []


class _Guard:
    """What the check needs of a guard: ``run(key, fn)`` returning the value or an Outcome."""

    def run(self, key: str, fn: Callable[[], int]) -> object:  # pragma: no cover - protocol
        raise NotImplementedError


def check_single_flight(
    guard_factory: Callable[[], object],
    *,
    settings: Settings | None = None,
    patience: float | None = None,
    timeout: float = 10.0,
) -> None:
    """
    Check that a guard never runs a key twice at once and never loses a request.

    *guard_factory()* returns a fresh guard: an object whose ``run(key, fn)``
    calls ``fn()`` (no arguments) under the guard and returns its value, or
    an object whose ``.value`` is the value ([`syncsafe.Outcome`][syncsafe.guard.Outcome]). The
    check uses threads, with no sleeps to provoke races:

    1. A caller arrives while another caller's run is in flight (the run
       waits on an event). It must not be refused, and the result it gets
       must come from a run that *started after it asked* — the
       ``coalesce`` rule, which the incident's ``FixedSync()`` broke by
       rejecting and Go's ``singleflight`` relaxes by sharing. The run in
       flight is held until the second caller returns or the guard says it
       waits: through its ``on_wait`` hook (every syncsafe guard has one),
       else its ``statistics().waiting``. A guard that offers neither and
       keeps the second caller blocked fails with a message saying so,
       instead of a guess at how long to wait.
    2. An exception in a run reaches its caller, and the key runs again after.
    3. (Hypothesis, *settings*) a few threads call ``run`` for one or two
       keys in random numbers: at no moment do two runs of one key overlap,
       every call returns, and every result comes from a run that started
       after the call.

    *guard_factory()* may also return an asyncio guard (``run`` a coroutine
    function, as [`syncsafe.AsyncSyncGuard`][syncsafe.guard.AsyncSyncGuard]'s): it is run on an
    event loop of its own, each ``fn`` in a worker thread.

    Every wait is bounded by *timeout*: a guard that hangs fails instead.
    Raises [`ConformanceError`][syncsafe.testing._checks.ConformanceError] naming what went wrong.

    !!! note "Added in version 0.1.0"
    !!! warning "Deprecated since version 0.2.0"
        *patience*: ignored; the check waits on the guard's own signal.
    """
    from hypothesis import given  # noqa: PLC0415
    from hypothesis import strategies as st  # noqa: PLC0415

    if patience is not None:
        import warnings  # noqa: PLC0415

        warnings.warn(
            "check_single_flight(patience=...) is ignored: the check waits on the guard's "
            "on_wait hook or statistics().waiting",
            DeprecationWarning,
            stacklevel=2,
        )
    with _made(guard_factory) as guard:
        problems = _overlap_scenario(guard, timeout)
    with _made(guard_factory) as guard:
        problems += _failure_scenario(guard)
    if problems:
        raise ConformanceError("single flight:\n  " + "\n  ".join(problems))

    @_settings(settings)
    @given(
        st.lists(st.tuples(st.sampled_from(["a", "b"]), st.integers(1, 3)), min_size=2, max_size=5)
    )
    def never_twice_never_stale(callers: list[tuple[str, int]]) -> None:
        with _made(guard_factory) as guard:
            _stress(guard, callers, timeout)

    never_twice_never_stale()


class _AsyncRunner(_Guard):
    """An asyncio guard called from threads: its own event loop, each fn in a worker thread."""

    def __init__(self, guard: object) -> None:
        import asyncio  # noqa: PLC0415
        import concurrent.futures  # noqa: PLC0415
        import threading  # noqa: PLC0415

        self.guard = guard
        self.loop = asyncio.new_event_loop()
        self.pool = concurrent.futures.ThreadPoolExecutor(16)
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, key: str, fn: Callable[[], int]) -> object:
        import asyncio  # noqa: PLC0415

        async def call() -> int:
            return await self.loop.run_in_executor(self.pool, fn)

        async def main() -> object:
            return await self.guard.run(key, call)  # type: ignore[attr-defined]

        return asyncio.run_coroutine_threadsafe(main(), self.loop).result()

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()
        self.pool.shutdown(wait=False)


@contextmanager
def _made(guard_factory: Callable[[], object]) -> Iterator[_Guard]:
    """A guard from *guard_factory*, called from threads (an asyncio one through a loop)."""
    import inspect  # noqa: PLC0415

    guard = _as_guard(guard_factory())
    if not inspect.iscoroutinefunction(guard.run):
        yield guard
        return
    runner = _AsyncRunner(guard)
    try:
        yield runner
    finally:
        runner.close()


def _as_guard(guard: object) -> _Guard:
    if not callable(getattr(guard, "run", None)):
        msg = f"guard_factory() returned {guard!r}, which has no run(key, fn) method"
        raise TypeError(msg)
    return guard  # type: ignore[return-value]


def _stress(guard: _Guard, callers: list[tuple[str, int]], timeout: float) -> None:
    import threading  # noqa: PLC0415

    runs = _Runs()
    start = threading.Barrier(len(callers))
    results: list[tuple[str, int, object]] = []

    def caller(key: str, calls: int) -> None:
        start.wait(timeout)
        for _ in range(calls):
            arrived = runs.now()
            try:
                value = _value(guard.run(key, runs.body(key)))
            except Exception as exc:  # noqa: BLE001 - reported below
                value = exc
            with runs.lock:
                results.append((key, arrived, value))

    threads = [threading.Thread(target=caller, args=c, daemon=True) for c in callers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    problems = list(runs.problems)
    if any(t.is_alive() for t in threads):
        problems.append(f"a caller was still waiting after {timeout} s (a hang)")
    expected = sum(n for _, n in callers)
    if len(results) != expected and not problems:
        problems.append(f"{expected} calls made, {len(results)} returned")
    problems += [
        p
        for key, arrived, value in results
        if (p := _judge(runs, f"a call for {key!r}", arrived, value))
    ]
    if problems:
        raise ConformanceError(f"single flight with callers {callers}:\n  " + "\n  ".join(problems))
