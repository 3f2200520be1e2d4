"""
Who holds a key's file lock, and whether that holder is still there.

A `FileSyncGuard` run's start record names its holder: the lock file it
locked (device, inode: `Locked`, checked at each acquisition), its process
(pid and the process's start time, so that a reused pid is not taken for
it) and the machine's boot (Linux's ``boot_id``: a process of another boot
is gone, and a record of another boot may have lost writes). A caller that
finds a run in flight through a lock file that was removed from the path
asks `holds_elsewhere` whether to wait for it.
"""

from __future__ import annotations

import functools
import os
from typing import TYPE_CHECKING, Final, final

if TYPE_CHECKING:
    from syncsafe.guard._record import Record

__all__ = ["HELD", "Locked", "Moved", "boot_id", "holds_elsewhere", "this_process"]

_BOOT_ID: Final = "/proc/sys/kernel/random/boot_id"


@functools.cache
def boot_id() -> str:
    """This boot of the machine (Linux's ``boot_id``), or ``""`` where it cannot be told."""
    try:
        with open(_BOOT_ID, encoding="ascii") as file:  # noqa: PTH123 - one small read
            return file.read().strip()
    except (OSError, ValueError):
        return ""


HELD: Final[set[tuple[int, int]]] = set()
"""The lock files (``st_dev``, ``st_ino``) this process holds for a run, from its start on."""
_SELF: list[tuple[int, int]] = [(0, 0)]  # this process: (pid, start time), read again after a fork


def this_process() -> tuple[int, int]:
    """This process's pid and start time (0 if it cannot be told)."""
    pid = os.getpid()
    known = _SELF[0]
    if known[0] != pid:
        found = _process(pid)
        known = pid, 0 if found is None else found[1]
        _SELF[0] = known
    return known


def _process(pid: int) -> tuple[str, int] | None:
    """
    The state and start time of process *pid* (``/proc/<pid>/stat`` fields 3 and 22).

    ``None`` if there is no such process (or no ``/proc``).
    """
    try:
        with open(f"/proc/{pid}/stat", "rb") as file:  # noqa: PTH123 - one small read
            raw = file.read()
    except OSError:
        return None
    fields = raw[raw.rfind(b")") + 2 :].split()  # after the command name, which may hold anything
    try:
        return fields[0].decode("ascii"), int(fields[19])
    except (IndexError, ValueError, UnicodeDecodeError):
        return None


def holds_elsewhere(record: Record, held: tuple[int, int]) -> bool:
    """
    Whether the run in flight *record* names holds the key through a lock file other than *held*.

    That is, through a lock file that was removed from the path while it
    ran, by a process that is still alive: of this boot, its pid alive (not
    a zombie) with the start time the record gives, or, in this process, a
    run that still holds that lock file. A record that does not name its
    lock file (written before format 3), or its process's start time, names
    no such holder: its holder is taken to be gone, as before.
    """
    lock = (record.lock_dev, record.lock_ino)
    if lock in {held, (0, 0)} or not record.since:
        return False  # the file this caller holds: its holder is gone
    boot = boot_id()
    if not boot or record.boot != boot:
        return False  # every process of another boot is gone
    pid, since = this_process()
    if record.pid == pid and record.since == since:
        return lock in HELD
    found = _process(record.pid)
    return found is not None and found[0] not in {"Z", "X"} and found[1] == record.since


class Moved(Exception):
    """The locked file is no longer the one at the lock's path."""


@final
class Locked:
    """
    The check that the file just locked is the one at *path*, run at each acquisition.

    A caller that opened the lock file, then waited while the file was
    removed (a cleaner of temporary files) and another made a new one, holds
    a lock no later caller contends for: it must lock the new file instead.
    It also keeps the identity of the file locked, which a start record
    names, and `still` checks it again.
    """

    __slots__ = ("ident", "path")

    def __init__(self, path: str) -> None:
        self.path = path
        self.ident = (0, 0)
        """``(st_dev, st_ino)`` of the file last locked."""

    def __call__(self, fd: int) -> None:
        held = os.fstat(fd)
        self.ident = (held.st_dev, held.st_ino)
        if not self.still():
            raise Moved(self.path)

    def still(self) -> bool:
        """Whether the file last locked is still the one at the path."""
        try:
            here = os.stat(self.path)  # noqa: PTH116 - a str path, and a stat to compare
        except FileNotFoundError:
            return False
        return (here.st_dev, here.st_ino) == self.ident
