"""A process that uses EtcdSyncGuard, driven by the etcd guard's tests (not a test module)."""

from __future__ import annotations

import json
import os
import sys
import threading

from syncsafe import EtcdSyncGuard, FencedOut, LeaseLost, current_run


def _append(log: int, line: str) -> None:
    os.write(log, (line + "\n").encode())


def storm(endpoints: list[str], log_path: str, threads: int, calls: int) -> None:
    """*threads* threads make *calls* calls each on one key, logging runs and asks with O_APPEND."""
    log = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    pid = os.getpid()
    with EtcdSyncGuard(endpoints, ttl=5, request_timeout=5.0) as guard:

        def work() -> int:
            run = current_run()
            assert run is not None
            _append(log, f"start {run.generation} {pid}")
            _append(log, f"end {run.generation} {pid}")
            return run.generation

        def caller(index: int) -> None:
            for call in range(calls):
                tag = f"{pid}-{index}-{call}"
                _append(log, f"ask {tag}")
                outcome = guard.run("app", work)
                _append(log, f"served {tag} {outcome.generation} {int(outcome.fresh)}")

        workers = [threading.Thread(target=caller, args=(i,)) for i in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    os.close(log)


def hold(endpoints: list[str], ttl: float) -> None:
    """Take the key, say so on stdout, wait for a line on stdin, write fenced, report as JSON."""
    report: dict[str, object] = {}
    with EtcdSyncGuard(endpoints, ttl=ttl, request_timeout=2.0) as guard:

        def work() -> None:
            run = current_run()
            assert run is not None
            print(json.dumps({"holding": run.generation}), flush=True)  # noqa: T201 - to the test
            sys.stdin.readline()
            try:
                run.check()
                report["check"] = "ok"
            except LeaseLost:
                report["check"] = "LeaseLost"
            try:
                run.fenced_put("/out", b"late")
                report["put"] = "accepted"
            except FencedOut:
                report["put"] = "FencedOut"

        try:
            guard.run("app", work)
            report["run"] = "ok"
        except LeaseLost:
            report["run"] = "LeaseLost"
    print(json.dumps(report), flush=True)  # noqa: T201 - to the test


if __name__ == "__main__":
    command, arguments = sys.argv[1], json.loads(sys.argv[2])
    if command == "storm":
        storm(**arguments)
    else:
        hold(**arguments)
