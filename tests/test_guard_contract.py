"""
The contract every single-flight guard keeps, run on each guard alike.

In the manner of trio's ``generic_lock_test``: each test takes a
:class:`Backend` and runs the same scenario through an adapter that calls
the guard from threads, whatever the guard's own front end is.

To add a guard (the cross-host etcd guard, for one): write a factory
``make(policy, on_wait, tmp_path) -> Adapter`` (an adapter is
:class:`ThreadAdapter` for any guard whose ``run(key, fn, timeout=,
policy=)`` is called from threads; asyncio guards go through
:class:`AsyncAdapter`), and append one ``pytest.param(Backend(...),
id=...)`` to ``BACKENDS``. A backend that has no ``max_concurrent`` says so
with ``capped=False``; the cap tests then run on the others only.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dis
import sys
import threading
from collections.abc import Awaitable, Callable, Hashable, Iterator
from pathlib import Path

import attrs
import pytest

from _threads import Threads, in_run
from syncsafe import (
    AsyncSyncGuard,
    EtcdSyncGuard,
    FileSyncGuard,
    Outcome,
    ReentrantSync,
    SyncFailed,
    SyncGuard,
    SyncInProgress,
    SyncTimeout,
)
from syncsafe.guard._machine import Machine
from syncsafe.testing import EtcdCluster

pytestmark = pytest.mark.timeout(60)


class Interrupt(BaseException):
    """A BaseException, not KeyboardInterrupt nor SystemExit: an event loop survives it."""


def _ordinal(n: int) -> int:
    return n


@attrs.define
class ThreadAdapter:
    """A guard called from threads as it is: SyncGuard, FileSyncGuard."""

    guard: SyncGuard | FileSyncGuard | EtcdSyncGuard
    waits: threading.Semaphore
    closing: tuple[Callable[[], None], ...] = ()
    nth: Callable[[int], int] = _ordinal
    """The generation the nth run of the only key a test runs gets, in a fresh guard."""

    def run(
        self,
        key: str,
        fn: Callable[[], object],
        *,
        timeout: float | None = None,
        policy: str | None = None,
    ) -> Outcome[object]:
        """The guard's run."""
        return self.guard.run(key, fn, timeout=timeout, policy=policy)  # type: ignore[arg-type]

    def nested(self, outer: str, inner: str) -> object:
        """A run of *outer* that runs *inner* from inside: the inner run's value."""
        outcome = self.guard.run(outer, lambda: self.guard.run(inner, lambda: "inner").value)
        return outcome.value

    def statistics(self) -> dict[str, int]:
        """The guard's statistics, as a dict."""
        return attrs.asdict(self.guard.statistics())

    def size(self) -> int:
        """Entries the guard holds in memory: 0 when idle."""
        machine: Machine = self.guard._machine
        return machine.size()

    def close(self) -> None:
        """Stop what the guard needs (an etcd), if anything."""
        for stop in self.closing:
            stop()


@attrs.define
class AsyncAdapter:
    """An AsyncSyncGuard on an event loop of its own thread; each fn runs in a worker thread."""

    guard: AsyncSyncGuard
    waits: threading.Semaphore
    nth: Callable[[int], int] = attrs.field(default=lambda n: n)
    loop: asyncio.AbstractEventLoop = attrs.field(factory=asyncio.new_event_loop)
    thread: threading.Thread | None = None
    pool: concurrent.futures.ThreadPoolExecutor = attrs.field(
        factory=lambda: concurrent.futures.ThreadPoolExecutor(64)
    )

    def __attrs_post_init__(self) -> None:
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def _call(self, make: Callable[[], Awaitable[Outcome[object]]]) -> Outcome[object]:
        async def main() -> Outcome[object]:
            return await make()

        return asyncio.run_coroutine_threadsafe(main(), self.loop).result()

    def run(
        self,
        key: str,
        fn: Callable[[], object],
        *,
        timeout: float | None = None,
        policy: str | None = None,
    ) -> Outcome[object]:
        """The guard's run, awaited on its loop; *fn* in a worker thread."""

        async def in_worker() -> object:
            return await self.loop.run_in_executor(self.pool, fn)

        return self._call(
            lambda: self.guard.run(key, in_worker, timeout=timeout, policy=policy)  # type: ignore[arg-type]
        )

    def nested(self, outer: str, inner: str) -> object:
        """A run of *outer* that awaits a run of *inner* from inside its task."""

        async def value() -> str:
            return "inner"

        async def body() -> object:
            return (await self.guard.run(inner, value)).value

        return self._call(lambda: self.guard.run(outer, body)).value

    def statistics(self) -> dict[str, int]:
        """The guard's statistics, read on its loop."""

        async def read() -> dict[str, int]:
            return attrs.asdict(self.guard.statistics())

        return asyncio.run_coroutine_threadsafe(read(), self.loop).result()

    def size(self) -> int:
        """Entries the guard holds in memory: 0 when idle."""
        machine: Machine = self.guard._machine
        return machine.size()

    def close(self) -> None:
        """Stop the loop and the workers."""
        self.loop.call_soon_threadsafe(self.loop.stop)
        assert self.thread is not None
        self.thread.join(10)
        self.loop.close()
        self.pool.shutdown(wait=False)


Adapter = ThreadAdapter | AsyncAdapter


@attrs.frozen
class Backend:
    """How to make one kind of guard for a test, and what it supports."""

    make: Callable[[str, Path], Adapter]
    capped: bool = True
    """Whether the guard takes ``max_concurrent``."""


def _counter() -> tuple[threading.Semaphore, Callable[[Hashable], None]]:
    waits = threading.Semaphore(0)

    def on_wait(_key: Hashable) -> None:
        waits.release()

    return waits, on_wait


def _sync_guard(policy: str, _tmp: Path) -> Adapter:
    waits, on_wait = _counter()
    return ThreadAdapter(SyncGuard(policy, on_wait=on_wait), waits)  # type: ignore[arg-type]


def _async_guard(policy: str, _tmp: Path) -> Adapter:
    waits, on_wait = _counter()
    return AsyncAdapter(AsyncSyncGuard(policy, on_wait=on_wait), waits)  # type: ignore[arg-type]


def _file_guard(policy: str, tmp: Path) -> Adapter:
    waits, on_wait = _counter()
    return ThreadAdapter(FileSyncGuard(tmp, policy, on_wait=on_wait), waits)  # type: ignore[arg-type]


def _etcd_guard(policy: str, tmp: Path) -> Adapter:
    waits, on_wait = _counter()
    cluster = EtcdCluster(tmp / f"etcd-{len(list(tmp.glob('etcd-*')))}", 1)
    cluster.start()
    guard = EtcdSyncGuard(cluster.endpoints, ttl=2, policy=policy, on_wait=on_wait)  # type: ignore[arg-type]
    # An etcd generation is the revision the take committed at: in a fresh etcd
    # (revision 1), each run of one key takes one revision and its end another.
    return ThreadAdapter(guard, waits, (guard.close, cluster.close), lambda n: 2 * n)


BACKENDS = [
    pytest.param(Backend(_sync_guard), id="SyncGuard"),
    pytest.param(Backend(_async_guard), id="AsyncSyncGuard"),
    pytest.param(Backend(_file_guard, capped=False), id="FileSyncGuard"),
    pytest.param(Backend(_etcd_guard, capped=False), id="EtcdSyncGuard", marks=pytest.mark.etcd),
]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> Backend:
    """Each guard in turn."""
    made: Backend = request.param
    return made


@pytest.fixture
def make(backend: Backend, tmp_path: Path) -> Iterator[Callable[..., Adapter]]:
    """A factory of adapters of the backend under test, closed at the end."""
    adapters: list[Adapter] = []

    def build(policy: str = "coalesce") -> Adapter:
        adapter = backend.make(policy, tmp_path)
        adapters.append(adapter)
        return adapter

    yield build
    for adapter in adapters:
        adapter.close()


def waited(adapter: Adapter, times: int = 1) -> None:
    """Wait until *times* more callers of *adapter* are about to block."""
    for _ in range(times):
        assert adapter.waits.acquire(timeout=20), "a caller never blocked"


IDLE = {"in_flight": 0, "waiting": 0, "keys": 0}


def test_an_uncontended_run_leads_a_fresh_run(make: Callable[..., Adapter]) -> None:
    """A caller alone runs its function and gets the first generation, leader and fresh."""
    guard = make()
    assert Outcome("v", guard.nth(1), True, True, 0) == guard.run("app", lambda: "v")  # noqa: FBT003
    expected = {"runs": 1, "coalesced": 0, "rejected": 0, "timed_out": 0, **IDLE}
    assert expected == guard.statistics()
    assert Outcome("w", guard.nth(2), True, True, 0) == guard.run("app", lambda: "w")  # noqa: FBT003
    assert 0 == guard.size()


def test_generations_strictly_increase_per_key(make: Callable[..., Adapter]) -> None:
    """Each run of a key gets a generation above the one before, across idle periods."""
    guard = make()
    generations = [guard.run(k, lambda: None).generation for k in ["a", "b", "a", "a", "b"]]
    for key in "ab":
        mine = [g for g, k in zip(generations, "abaab", strict=True) if k == key]
        assert mine == sorted(set(mine))


def test_a_caller_that_waited_and_led_is_not_coalesced(make: Callable[..., Adapter]) -> None:
    """A runs; B arrives with coalesce and leads the next run: runs=2, coalesced=0, everywhere."""
    guard = make()
    threads, release = in_run(guard.run)
    threads.start("b", lambda: guard.run("app", lambda: "b"))
    waited(guard)
    release.set()
    results = threads.join()
    assert guard.nth(1) == results["first"].generation  # type: ignore[attr-defined]
    assert Outcome("b", guard.nth(2), True, True, 0) == results["b"]  # noqa: FBT003
    expected = {"runs": 2, "coalesced": 0, "rejected": 0, "timed_out": 0, **IDLE}
    assert expected == guard.statistics()


def test_coalesce_serves_callers_who_arrived_mid_run_with_one_later_run(
    make: Callable[..., Adapter],
) -> None:
    """Two callers arriving during a run share the one next run; one leads, one is coalesced."""
    guard = make()
    threads, release = in_run(guard.run)
    runs: list[str] = []

    def sync(name: str) -> Callable[[], str]:
        def run() -> str:
            runs.append(name)
            return name

        return run

    threads.start("second", lambda: guard.run("app", sync("second")))
    waited(guard)
    threads.start("third", lambda: guard.run("app", sync("third")))
    waited(guard)
    assert 2 == guard.statistics()["waiting"]
    assert 1 == guard.statistics()["in_flight"]
    release.set()
    results = threads.join()
    assert ["second"] == runs  # the first to arrive leads
    assert Outcome("first", guard.nth(1), True, True, 0) == results["first"]  # noqa: FBT003
    leader, follower = (
        (results["second"], results["third"])
        if runs == ["second"]
        else (results["third"], results["second"])
    )
    assert Outcome(runs[0], guard.nth(2), True, True, 1) == leader  # noqa: FBT003
    assert Outcome(runs[0], guard.nth(2), False, True, 1) == follower  # noqa: FBT003
    expected = {"runs": 2, "coalesced": 1, "rejected": 0, "timed_out": 0, **IDLE}
    assert expected == guard.statistics()


def test_share_joins_the_run_in_flight(make: Callable[..., Adapter]) -> None:
    """A share caller gets the running run's outcome, marked not fresh, and is coalesced."""
    guard = make("share")
    threads, release = in_run(guard.run)
    threads.start("joiner", lambda: guard.run("app", lambda: "never"))
    waited(guard)
    release.set()
    results = threads.join()
    assert Outcome("first", guard.nth(1), False, False, 1) == results["joiner"]  # noqa: FBT003
    assert Outcome("first", guard.nth(1), True, True, 1) == results["first"]  # noqa: FBT003
    assert 1 == guard.statistics()["coalesced"]


def test_reject_raises_sync_in_progress(make: Callable[..., Adapter]) -> None:
    """A reject caller during a run gets SyncInProgress naming the key; counted once."""
    guard = make()
    threads, release = in_run(guard.run)
    # Not the run's generation in every backend: EtcdSyncGuard's in-process
    # refusal names the machine's count, not the etcd generation.
    with pytest.raises(SyncInProgress, match=r"'app' rejected: run \d+ is in progress") as raised:
        guard.run("app", lambda: "never", policy="reject")
    assert "app" == raised.value.key
    release.set()
    threads.join()
    assert 1 == guard.statistics()["rejected"]
    assert guard.nth(2) == guard.run("app", lambda: None, policy="reject").generation


def test_an_exception_reaches_every_caller_of_the_run(make: Callable[..., Adapter]) -> None:
    """The leader gets the exception unchanged; a follower gets SyncFailed caused by it."""
    guard = make()
    threads, release = in_run(guard.run)
    boom = ValueError("boom")

    def fail() -> object:
        raise boom

    threads.start("leader", lambda: guard.run("app", fail))
    waited(guard)
    threads.start("follower", lambda: guard.run("app", fail))
    waited(guard)
    release.set()
    results = threads.join()
    errors = [results["leader"], results["follower"]]
    assert boom in errors
    (failed,) = [e for e in errors if e is not boom]
    assert isinstance(failed, SyncFailed)
    assert failed.__cause__ is boom
    assert guard.nth(2) == failed.generation
    assert f"sync of 'app' failed: run {guard.nth(2)} raised ValueError('boom')" == str(failed)
    assert 0 == guard.size()
    assert guard.nth(3) == guard.run("app", lambda: None).generation  # the key is not stuck


@pytest.mark.parametrize("error", [Interrupt, KeyboardInterrupt, SystemExit])
def test_a_base_exception_never_leaves_the_key_stuck(
    make: Callable[..., Adapter], backend: Backend, error: type[BaseException]
) -> None:
    """A BaseException from the function reaches its caller; the key runs again afterwards."""
    if backend.make is _async_guard and error is not Interrupt:
        error = Interrupt  # KeyboardInterrupt and SystemExit stop an event loop, by design
    guard = make()

    def interrupted() -> object:
        raise error

    with pytest.raises(error):
        guard.run("app", interrupted)
    assert 0 == guard.size()
    assert "again" == guard.run("app", lambda: "again").value
    assert IDLE.items() <= guard.statistics().items()


@pytest.mark.parametrize("error", [Interrupt, KeyboardInterrupt, SystemExit])
def test_a_base_exception_reaches_a_waiter_as_sync_failed(
    make: Callable[..., Adapter], backend: Backend, error: type[BaseException]
) -> None:
    """The leader gets the BaseException; a waiter that joined gets SyncFailed caused by it."""
    if backend.make is _async_guard and error is not Interrupt:
        error = Interrupt  # KeyboardInterrupt and SystemExit stop an event loop, by design
    guard = make("share")
    started = threading.Event()
    release = threading.Event()

    def interrupted() -> object:
        started.set()
        assert release.wait(20)
        raise error

    threads = Threads()
    threads.start("leader", lambda: guard.run("app", interrupted))
    assert started.wait(20)
    threads.start("waiter", lambda: guard.run("app", lambda: "next"))
    waited(guard)
    release.set()
    results = threads.join()
    assert isinstance(results["leader"], error)
    assert isinstance(results["waiter"], SyncFailed)
    assert isinstance(results["waiter"].__cause__, error)
    assert 0 == guard.size()
    assert "again" == guard.run("app", lambda: "again").value


def test_a_waiter_times_out_without_cancelling_the_run(make: Callable[..., Adapter]) -> None:
    """SyncTimeout for the waiter; the run goes on and its caller gets its value."""
    guard = make()
    threads, release = in_run(guard.run)
    threads.start("patient", lambda: guard.run("app", lambda: "patient"))
    waited(guard)
    with pytest.raises(SyncTimeout) as raised:
        guard.run("app", lambda: "impatient", timeout=0.01)
    assert isinstance(raised.value, TimeoutError)
    expected = "sync of 'app': no run served this call within 0.01 s (the run in flight goes on)"
    assert expected == str(raised.value)
    release.set()
    results = threads.join()
    assert Outcome("first", guard.nth(1), True, True, 0) == results["first"]  # noqa: FBT003
    assert Outcome("patient", guard.nth(2), True, True, 0) == results["patient"]  # noqa: FBT003
    stats = guard.statistics()
    assert (1, 2, 0) == (stats["timed_out"], stats["runs"], stats["coalesced"])
    assert 0 == guard.size()


def test_the_only_waiter_timing_out_drops_the_next_run(make: Callable[..., Adapter]) -> None:
    """A next run whose every caller gave up never starts."""
    guard = make()
    threads, release = in_run(guard.run)
    with pytest.raises(SyncTimeout):
        guard.run("app", lambda: "never", timeout=0)
    release.set()
    threads.join()
    assert 1 == guard.statistics()["runs"]
    assert 0 == guard.size()


def test_an_unknown_policy_is_refused_per_call(make: Callable[..., Adapter]) -> None:
    """A call naming an unknown policy is a ValueError naming it; nothing runs."""
    guard = make()
    with pytest.raises(ValueError, match="policy='never'"):
        guard.run("app", lambda: "ran", policy="never")
    assert 0 == guard.statistics()["runs"]
    assert 0 == guard.size()


def test_a_run_calling_run_for_its_own_key_raises(make: Callable[..., Adapter]) -> None:
    """Re-entry for the same key is ReentrantSync; another key runs."""
    guard = make()
    with pytest.raises(ReentrantSync, match="'app' called from inside its own run"):
        guard.nested("app", "app")
    assert 0 == guard.size()
    assert 0 == guard.statistics()["keys"]
    assert guard.nth(2) == guard.run("app", lambda: None).generation  # the key is free
    assert "inner" == guard.nested("app", "other")
    assert 0 == guard.size()


def test_idle_keys_leave_no_state(make: Callable[..., Adapter]) -> None:
    """After runs of many keys, returning and raising, the guard holds nothing in memory."""
    guard = make()
    for i in range(50):
        guard.run(f"k{i}", lambda: None)
        with pytest.raises(ValueError, match="x"):
            guard.run(f"k{i}", _raise_value_error)
    assert 0 == guard.size()
    assert 0 == guard.statistics()["keys"]
    assert 100 == guard.statistics()["runs"]


def _raise_value_error() -> object:
    raise ValueError("x")


def test_max_concurrent_caps_runs_across_keys(backend: Backend) -> None:
    """With a cap of 1, a second key waits for the first's run (FileSyncGuard has no cap)."""
    if not backend.capped:
        with pytest.raises(TypeError):
            FileSyncGuard(Path(), max_concurrent=1)  # type: ignore[call-arg]
        return
    waits, on_wait = _counter()
    adapter: Adapter
    if backend.make is _sync_guard:
        adapter = ThreadAdapter(SyncGuard(max_concurrent=1, on_wait=on_wait), waits)
    else:
        adapter = AsyncAdapter(AsyncSyncGuard(max_concurrent=1, on_wait=on_wait), waits)
    try:
        threads, release = in_run(adapter.run, "a")
        threads.start("b", lambda: adapter.run("b", lambda: "b"))
        waited(adapter)
        assert 1 == adapter.statistics()["in_flight"]
        release.set()
        assert "b" == threads.join()["b"].value  # type: ignore[attr-defined]
    finally:
        adapter.close()


def test_an_async_run_task_cancelled_before_its_first_step_frees_the_key() -> None:
    """Cancelling every other task (as shutdown code does) before a run steps sticks no key."""
    guard = AsyncSyncGuard()

    async def main() -> tuple[object, dict[str, int], object]:
        async def sync() -> str:
            return "ran"

        caller = asyncio.ensure_future(guard.run("app", sync))
        await asyncio.sleep(0)  # the caller arrives and launches the run's task, not yet stepped
        for task in asyncio.all_tasks():
            if task is not asyncio.current_task() and task is not caller:
                task.cancel()
        result: object
        try:
            result = await caller
        except asyncio.CancelledError as cancelled:  # the run it led was cancelled
            result = cancelled
        return result, attrs.asdict(guard.statistics()), (await guard.run("app", sync)).value

    result, stats, again = asyncio.run(main())
    assert isinstance(result, asyncio.CancelledError)
    assert IDLE.items() <= stats.items()
    assert "ran" == again


# ------------------------------------------- an exception anywhere in run()
class Injected(BaseException):
    """The exception injected between two bytecodes of a guard's own code."""


# Where CPython delivers an asynchronous exception (a signal's KeyboardInterrupt):
# after a call returns, on a backward jump, and as a function starts.
_CHECKS = frozenset({"CALL", "CALL_FUNCTION_EX", "JUMP_BACKWARD", "RESUME"})


def _injector(files: frozenset[str], at: int | None) -> tuple[Callable[..., object], list[int]]:
    """
    A trace function counting reachable boundaries in *files*, raising Injected at the *at*-th.

    A boundary is reachable where the interpreter checks for a pending
    signal: before the first instruction of a function, and after each
    call and backward jump (an interrupt cannot land, say, between the
    loads before a call). Raising from a trace function turns tracing off:
    one injection per run.
    """
    count = [0]
    previous: dict[int, str] = {}

    def local(frame: object, event: str, _arg: object) -> object:
        if event == "opcode":
            code = frame.f_code  # type: ignore[attr-defined]
            before = previous.get(id(frame), "RESUME")
            previous[id(frame)] = dis.opname[code.co_code[frame.f_lasti]]  # type: ignore[attr-defined]
            if before in _CHECKS:
                count[0] += 1
                if count[0] == at:
                    raise Injected
        elif event == "return":
            previous.pop(id(frame), None)
        return local

    def tracer(frame: object, event: str, _arg: object) -> object:
        code = frame.f_code  # type: ignore[attr-defined]
        if event == "call" and code.co_filename in files:
            frame.f_trace_opcodes = True  # type: ignore[attr-defined]
            return local
        return None

    return tracer, count


def _traced(
    files: frozenset[str], at: int | None, call: Callable[[], object]
) -> tuple[object, int]:
    """What *call()* returned or raised under the injector, and how many opcodes it counted."""
    tracer, count = _injector(files, at)
    previous = sys.gettrace()  # coverage's, under make test: given back after
    sys.settrace(tracer)  # type: ignore[arg-type]
    try:
        result: object = call()
    except BaseException as exc:  # noqa: BLE001 - kept for the test
        result = exc
    finally:
        sys.settrace(previous)
    return result, count[0]


def _front_end(guard: object) -> frozenset[str]:
    """The source file of *guard*'s own front end, whose bookkeeping is injected into."""
    return frozenset({sys.modules[type(guard).__module__].__file__ or ""})


INJECTED = [
    pytest.param(_sync_guard, id="SyncGuard"),
    pytest.param(_file_guard, id="FileSyncGuard"),
]
"""
The guards whose bookkeeping survives an exception anywhere: those called
from threads. AsyncSyncGuard (its bookkeeping runs on the event loop) is
not in this list yet.
"""


def _unstuck(guard: Adapter) -> None:
    """The key is free: nothing in memory, and a new run runs."""
    assert 0 == guard.size()
    assert "again" == guard.run("app", lambda: "again").value
    assert IDLE.items() <= guard.statistics().items()


@pytest.mark.parametrize("make_guard", INJECTED)
def test_an_exception_at_any_bytecode_of_a_solo_run_leaves_no_key_stuck(
    make_guard: Callable[[str, Path], Adapter], tmp_path: Path
) -> None:
    """Injected at each opcode of run()'s own code in turn, one per run: the key is never stuck."""
    probe = make_guard("coalesce", tmp_path)
    assert isinstance(probe, ThreadAdapter)
    files = _front_end(probe.guard)
    _, total = _traced(files, None, lambda: probe.run("app", lambda: "v"))
    assert total > 5  # the trace sees run()'s bytecodes
    for at in range(1, total + 1):
        guard = make_guard("coalesce", tmp_path)
        result, _ = _traced(files, at, lambda g=guard: g.run("app", lambda: "v"))  # type: ignore[misc]
        assert isinstance(result, Injected) or "v" == result.value  # type: ignore[attr-defined]
        _unstuck(guard)


@pytest.mark.parametrize("make_guard", INJECTED)
def test_an_exception_at_any_bytecode_of_a_waiter_made_leader_leaves_no_key_stuck(
    make_guard: Callable[[str, Path], Adapter], tmp_path: Path
) -> None:
    """
    In a waiter made leader, an injection at each opcode in turn sticks neither key nor follower.

    A runs; B (traced) and C arrive and wait; A ends, B leads the next run
    with C its follower. Wherever B is interrupted, C returns (served, or
    SyncFailed), and the key runs again.
    """
    probe = make_guard("coalesce", tmp_path)
    assert isinstance(probe, ThreadAdapter)
    files = _front_end(probe.guard)

    def scenario(at: int | None) -> tuple[Adapter, object, int]:
        guard = make_guard("coalesce", tmp_path)
        threads, release = in_run(guard.run)
        traced: list[tuple[object, int]] = []
        b_done = threading.Event()

        def b() -> None:
            traced.append(_traced(files, at, lambda: guard.run("app", str)))
            b_done.set()

        threads.start("b", b)
        while not b_done.is_set() and not guard.waits.acquire(timeout=0.01):
            pass  # until B waits, or B was stopped before it could

        threads.start("c", lambda: guard.run("app", lambda: "c"))
        waited(guard)
        release.set()
        results = threads.join()  # C never hangs, wherever B stopped
        assert isinstance(results["c"], (Outcome, SyncFailed))
        ((b_result, count),) = traced
        return guard, b_result, count

    _, _, total = scenario(None)
    assert total > 5
    for at in range(1, total + 1):
        guard, _, _ = scenario(at)
        _unstuck(guard)
