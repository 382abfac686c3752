"""One daemon per data folder: the folder made ready (0700, writable, no leftovers), an OS lock
held for the life of the process, and a discovery file (0600) that tells the CLI where the
running daemon is and how to reach it.

Exit codes (also in the README): 3 when the data folder cannot be created or written, 4 when
another daemon already holds it.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import sys
import tempfile
from pathlib import Path
from typing import Any

from adapters.private_files import write_private_json

EXIT_DATA_DIR = 3
EXIT_ALREADY_RUNNING = 4
LOCK_NAME = "daemon.lock"
DISCOVERY_NAME = "daemon.json"
TEMP_GLOB = ".*.tmp"  # what an interrupted atomic write leaves (adapters.private_files)


class DataDirError(Exception):
    """The data folder cannot be created or written; the message says which and why."""


class AlreadyRunning(Exception):
    """Another daemon holds this data folder."""

    def __init__(self, data_dir: Path, running: dict[str, Any] | None) -> None:
        where = ""
        if running:
            where = f" (pid {running.get('pid')}, {running.get('url')})"
        super().__init__(f"another daemon is already running on {data_dir}{where}")
        self.running = running


def prepare_data_dir(data_dir: Path) -> list[Path]:
    """Create the folder 0700 (or make an existing one 0700), prove it writable, and remove temp
    files that interrupted writes left behind (they may hold keys). Returns what it removed."""
    try:
        data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        if stat.S_IMODE(data_dir.stat().st_mode) != 0o700:
            data_dir.chmod(0o700)
        fd, probe = tempfile.mkstemp(dir=data_dir, prefix=".write-probe.", suffix=".tmp")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise DataDirError(
            f"the data folder {data_dir} cannot be used ({reason}); choose another with "
            "KATA_PROVIDERS_HOME, or fix its permissions"
        ) from exc
    removed = []
    for leftover in data_dir.glob(TEMP_GLOB):
        with contextlib.suppress(OSError):
            leftover.unlink()
            removed.append(leftover)
    return removed


class InstanceLock:
    """An exclusive OS lock on `<data_dir>/daemon.lock`, released when the process ends (even
    when it is killed), so a stale lock can never keep a daemon from starting."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock, or raise AlreadyRunning naming the daemon that holds it."""
        fd = os.open(self.data_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            _lock(fd)
        except OSError:
            os.close(fd)
            raise AlreadyRunning(self.data_dir, read_discovery(self.data_dir)) from None
        self._fd = fd

    def release(self) -> None:
        """Remove the discovery file and drop the lock."""
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            (self.data_dir / DISCOVERY_NAME).unlink()
        os.close(self._fd)
        self._fd = None

    def publish(self, info: dict[str, Any]) -> None:
        """Write the discovery file (0600, atomic) for the CLI."""
        write_private_json(self.data_dir / DISCOVERY_NAME, info)


def _lock(fd: int) -> None:
    if sys.platform == "win32":
        import msvcrt

        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
    else:
        import fcntl

        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)


def read_discovery(data_dir: Path) -> dict[str, Any] | None:
    """The running daemon's discovery file; None when there is none or its pid is gone."""
    try:
        info = json.loads((data_dir / DISCOVERY_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(info, dict) or not alive(info.get("pid")):
        return None
    return info


def alive(pid: object) -> bool:
    """Whether a process with this pid exists (one we may not signal counts)."""
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
