import subprocess
import sys
from pathlib import Path

import pytest

from syncsafe._cli.run import ExitStatus, _served
from syncsafe.errors import SyncFailed
from syncsafe.testing import EtcdCluster, etcd_binary


def _syncsafe(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "syncsafe", "run", *argv],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_dir_runs_the_command_with_key_and_generation(tmp_path: Path) -> None:
    """--dir: COMMAND runs under FileSyncGuard and sees SYNCSAFE_KEY and SYNCSAFE_GENERATION."""
    locks = str(tmp_path / "locks")
    script = 'echo "$SYNCSAFE_KEY $SYNCSAFE_GENERATION"'
    first = _syncsafe("app", "--dir", locks, "--", "sh", "-c", script)
    second = _syncsafe("app", "--dir", locks, "--", "sh", "-c", script)
    assert (0, "app 1\n", "") == (first.returncode, first.stdout, first.stderr)
    assert (0, "app 2\n") == (second.returncode, second.stdout)


def test_the_commands_status_is_the_wrappers(tmp_path: Path) -> None:
    """COMMAND's exit status passes through; a signal is 128 + its number."""
    locks = str(tmp_path / "locks")
    assert 3 == _syncsafe("app", "--dir", locks, "--", "sh", "-c", "exit 3").returncode
    assert 128 + 9 == _syncsafe("app", "--dir", locks, "--", "sh", "-c", "kill -9 $$").returncode


@pytest.mark.parametrize(
    ("argv", "status", "says"),
    [
        (["app", "--dir", "{d}"], 125, "no COMMAND"),
        (["app", "--", "true"], 125, "exactly one of"),
        (["app", "--dir", "{d}", "--etcd", "http://127.0.0.1:1", "--", "true"], 125, "exactly"),
        (["app", "--dir", "{d}", "--policy", "queue", "--", "true"], 125, "invalid choice"),
        (["app", "--dir", "{d}", "--timeout", "-1", "--", "true"], 125, "--timeout"),
        (["app", "--dir", "{d}", "--", "/nonexistent/command"], 127, "/nonexistent/command"),
        (["app", "--dir", "{d}", "--", "{d}"], 126, "Permission denied"),
    ],
)
def test_the_wrappers_own_errors_take_their_own_codes(
    argv: list[str], status: int, says: str, tmp_path: Path
) -> None:
    """Usage errors are 125, a missing COMMAND 127, one that cannot run 126: one line each."""
    result = _syncsafe(*(a.replace("{d}", str(tmp_path)) for a in argv))
    assert status == result.returncode
    assert says in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.etcd
def test_etcd_runs_and_unavailable_is_75(etcd: EtcdCluster) -> None:
    """--etcd: COMMAND runs with an etcd revision as its generation; no etcd is status 75."""
    ran = _syncsafe(
        "app", "--etcd", etcd.endpoints[0], "--", "sh", "-c", "echo $SYNCSAFE_GENERATION"
    )
    assert 0 == ran.returncode
    assert int(ran.stdout) > 0
    etcd.close()
    down = _syncsafe("app", "--etcd", etcd.endpoints[0], "--", "sh", "-c", "touch ran")
    assert 75 == down.returncode
    assert "no etcd endpoint could decide" in down.stderr


def test_a_caller_served_by_another_run_exits_with_its_recorded_status(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Served by another caller's run: that run's status, and one line naming its generation."""

    def failed() -> None:
        raise SyncFailed("app", 7, repr(ExitStatus(4)))

    assert 4 == _served("app", failed)  # type: ignore[arg-type]
    assert "syncsafe run: app: served by run 7 of another caller (exit status 4)\n" == (
        capsys.readouterr().err
    )


@pytest.mark.etcd
def test_a_lost_lease_terminates_the_command_and_is_75(etcd: EtcdCluster) -> None:
    """COMMAND stops the wrapper past its lease (etcd frees the key): on waking it kills COMMAND."""
    etcdctl = f"{etcd_binary().with_name('etcdctl')} --endpoints {etcd.endpoints[0]}"
    script = (
        "kill -STOP $PPID; "
        f"while {etcdctl} get /syncsafe/holder/app | grep -q .; do sleep 0.05; done; "
        "kill -CONT $PPID; exec sleep 60"
    )
    result = _syncsafe("app", "--etcd", etcd.endpoints[0], "--ttl", "1", "--", "sh", "-c", script)
    assert 75 == result.returncode
    assert "lost its lease" in result.stderr
    assert "terminated COMMAND" in result.stderr
