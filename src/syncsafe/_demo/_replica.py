"""A replica for the partition demo, in a process of its own: take the key, wait, write fenced."""

from __future__ import annotations

import sys

from syncsafe.errors import FencedOut, LeaseLost
from syncsafe.guard import EtcdSyncGuard, current_run


def main(endpoint: str) -> None:
    """Hold the app's key, say so, wait for a line on stdin, then try the (late) write."""
    with EtcdSyncGuard([endpoint], ttl=2, request_timeout=2.0) as guard:

        def sync() -> None:
            run = current_run()
            assert run is not None  # noqa: S101 - the guard sets it
            print("holding", flush=True)
            sys.stdin.readline()
            try:
                run.fenced_put("/apps/payment-service/deployed", b"replica-0 (stale)")
                print("written", flush=True)
            except FencedOut:
                print("refused", flush=True)

        try:
            guard.run("payment-service", sync)
        except LeaseLost:
            print("lease-lost", flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
