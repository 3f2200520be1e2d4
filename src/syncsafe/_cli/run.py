"""
``syncsafe run KEY -- COMMAND``: run COMMAND under a guard, like ``flock(1)`` but coalescing.

A wrapper, like ``timeout(1)``: its exit status is COMMAND's when this
caller ran it, the recorded status of the run that served it otherwise, and
its own errors take codes COMMAND is unlikely to use: 75 (EX_TEMPFAIL) when
the guard cannot decide (etcd unavailable), a run is in flight under
``--policy reject``, or the lease was lost while COMMAND ran; 124 when
``--timeout`` was spent waiting; 125 for a usage or other syncsafe error;
126 when COMMAND cannot be run, 127 when it is not found.

A run records COMMAND's exit status as its error (``exit status N``), so
that a caller served by another caller's run (in another process, or on
another host) gets the same status.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Final, NoReturn

from syncsafe._cli import add_command
from syncsafe.errors import (
    GuardUnavailable,
    LeaseLost,
    SyncFailed,
    SyncInProgress,
    SyncsafeError,
    SyncTimeout,
)

if TYPE_CHECKING:
    from syncsafe.guard import Outcome

__all__ = ["register"]

TEMPFAIL: Final = 75
TIMED_OUT: Final = 124
FAILED: Final = 125
CANNOT_RUN: Final = 126
NOT_FOUND: Final = 127
_GRACE: Final = 5.0  # seconds between SIGTERM and SIGKILL when the lease is lost
_STATUS: Final = re.compile(r"ExitStatus\((-?\d+)\)")


class ExitStatus(Exception):
    """COMMAND exited with a non-zero status: raised so that the guard records it."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status

    def __repr__(self) -> str:
        return f"ExitStatus({self.status})"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``syncsafe run`` to *subparsers*."""
    parser = add_command(
        subparsers,
        "run",
        usage="syncsafe run KEY (--dir DIR | --etcd URL...) [options] -- COMMAND [ARG...]",
        help="run a command under a single-flight guard (local or across hosts)",
        description=(
            "Run COMMAND under a guard for KEY: at most one run per KEY at a time, and a "
            "caller that waits is served by the next run, which may be another caller's "
            "COMMAND: callers that share a KEY must mean the same work by it. --dir guards "
            "the processes of one host (FileSyncGuard), --etcd every host of an etcd "
            "cluster (EtcdSyncGuard). COMMAND sees SYNCSAFE_KEY and SYNCSAFE_GENERATION. "
            "Exit status: COMMAND's, or that of the run that served this call; 75 etcd "
            "unavailable, a run in flight under --policy reject, or the lease lost (COMMAND "
            "is terminated); 124 --timeout spent waiting; 125 usage or other error; 126 "
            "COMMAND cannot run; 127 COMMAND not found."
        ),
        example="syncsafe run sync-payments --etcd http://etcd-0:2379 -- ./sync.sh payments",
    )
    parser.add_argument("key", metavar="KEY", help="what the command does: the guard's key")
    parser.add_argument(
        "--etcd", action="append", default=[], metavar="URL", help="an etcd client URL (repeat)"
    )
    parser.add_argument("--dir", metavar="DIR", help="the FileSyncGuard directory (one host)")
    parser.add_argument(
        "--policy", choices=("coalesce", "share", "reject"), default="coalesce", help="the policy"
    )
    parser.add_argument(
        "--timeout", type=float, metavar="S", help="the longest to wait for a run, in seconds"
    )
    parser.add_argument(
        "--ttl", type=float, default=10.0, metavar="S", help="the etcd lease, in seconds"
    )
    parser.set_defaults(run=run)

    def usage_error(message: str) -> NoReturn:
        parser.print_usage(sys.stderr)
        print(f"syncsafe run: error: {message}", file=sys.stderr)
        raise SystemExit(FAILED)

    parser.error = usage_error  # type: ignore[method-assign]  # a wrapper's usage error is 125


def _error(message: str, status: int) -> int:
    print(f"syncsafe run: error: {message}", file=sys.stderr)
    return status


def _problem(args: argparse.Namespace, command: list[str]) -> str | None:
    if not command:
        return "no COMMAND given after --"
    if bool(args.etcd) == bool(args.dir):
        return "give exactly one of --dir DIR or --etcd URL"
    if args.timeout is not None and args.timeout < 0:
        return f"--timeout {args.timeout:g}: must be 0 or more seconds"
    return None


# What each of the wrapper's own failures exits with, first match wins.
_STATUSES: Final[tuple[tuple[type[BaseException], int], ...]] = (
    (GuardUnavailable, TEMPFAIL),
    (SyncInProgress, TEMPFAIL),
    (LeaseLost, TEMPFAIL),
    (SyncTimeout, TIMED_OUT),
    (FileNotFoundError, NOT_FOUND),
    (PermissionError, CANNOT_RUN),
)


def run(args: argparse.Namespace) -> int:
    """Run COMMAND under the guard; return the status of the run that served this call."""
    command: list[str] = list(getattr(args, "wrapped", []))
    problem = _problem(args, command)
    if problem is not None:
        return _error(problem, FAILED)
    try:
        return _guarded(args, command)
    except (SyncsafeError, OSError, ValueError, ImportError) as error:
        status = next((code for kind, code in _STATUSES if isinstance(error, kind)), FAILED)
        if isinstance(error, OSError) and status in {NOT_FOUND, CANNOT_RUN}:
            return _error(f"{command[0]}: {error.strerror}", status)
        return _error(str(error), status)


def _guarded(args: argparse.Namespace, command: list[str]) -> int:
    key: str = args.key
    if args.dir:
        from syncsafe.guard import FileSyncGuard  # noqa: PLC0415

        local = FileSyncGuard(args.dir)

        def under_file() -> None:
            # Holding the key, the state's newest start is this run's.
            _execute(key, command, local.state(key).started, None)

        return _served(
            key, lambda: local.run(key, under_file, timeout=args.timeout, policy=args.policy)
        )
    from syncsafe.guard import EtcdSyncGuard, current_run  # noqa: PLC0415

    def under_etcd() -> None:
        running = current_run()
        assert running is not None  # noqa: S101 - EtcdSyncGuard sets it for every run
        _execute(key, command, running.generation, running.check)

    with EtcdSyncGuard(args.etcd, ttl=args.ttl, policy=args.policy) as remote:
        return _served(key, lambda: remote.run(key, under_etcd, timeout=args.timeout))


def _served(key: str, call: Callable[[], Outcome[None]]) -> int:
    try:
        outcome = call()
    except ExitStatus as status:
        return status.status
    except SyncFailed as failed:
        match = _STATUS.fullmatch(failed.error)
        if match is None:
            raise
        recorded = int(match.group(1))
        _say_served(key, failed.generation, recorded)
        return recorded
    if not outcome.leader:
        _say_served(key, outcome.generation, 0)
    return 0


def _say_served(key: str, generation: int, status: int) -> None:
    print(
        f"syncsafe run: {key}: served by run {generation} of another caller (exit status {status})",
        file=sys.stderr,
    )


def _execute(
    key: str, command: list[str], generation: int, check: Callable[[], None] | None
) -> None:
    """Run *command* as this run; raise `ExitStatus` if it fails, so that it is recorded."""
    env = {**os.environ, "SYNCSAFE_KEY": key, "SYNCSAFE_GENERATION": str(generation)}
    process = subprocess.Popen(command, env=env)  # noqa: S603 - the user's own command
    status = _wait(process, check)
    if status != 0:
        raise ExitStatus(status)


def _wait(process: subprocess.Popen[bytes], check: Callable[[], None] | None) -> int:
    """Wait for *process*; if the run's lease is lost meanwhile, terminate it and raise."""
    while True:
        try:
            status = process.wait(timeout=0.1 if check is not None else None)
        except subprocess.TimeoutExpired:
            try:
                check()  # type: ignore[misc]  # set: the wait has a timeout only then
            except LeaseLost as lost:
                _terminate(process)
                print(f"syncsafe run: {lost}: terminated COMMAND", file=sys.stderr)
                raise
            continue
        return status if status >= 0 else 128 - status


def _terminate(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + _GRACE
    while process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    if process.poll() is None:
        process.kill()
    process.wait()
