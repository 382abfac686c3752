"""Private files: created 0600 from the start, replaced atomically, refused when others can read."""

from __future__ import annotations

import contextlib
import json
import os
import stat
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from contracts.errors import ProviderError

INSUFFICIENT_STORAGE = 507


class UnsafeFileError(Exception):
    """A secret-holding file or folder that group or others can reach, or a symlink."""

    def __init__(self, path: Path, reason: str, remediation: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason
        self.remediation = remediation


def ensure_private_dir(folder: Path) -> None:
    """Create `folder` (and parents) with mode 0700 if missing."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)


def check_private(path: Path, *, writable_only: bool = False) -> None:
    """Refuse a symlink or a file whose mode lets group or others read (or write) it."""
    info = os.stat(path, follow_symlinks=False)
    if stat.S_ISLNK(info.st_mode):
        raise UnsafeFileError(path, "is a symlink", f"Replace {path} with the real file.")
    mode = stat.S_IMODE(info.st_mode)
    mask = 0o022 if writable_only else 0o077
    if mode & mask:
        fix = "go-w" if writable_only else "600"
        raise UnsafeFileError(
            path,
            f"is accessible by group or others (mode {mode:#o})",
            f"Run `chmod {fix} {path}` and try again.",
        )
    if hasattr(os, "getuid") and info.st_uid != os.getuid():
        raise UnsafeFileError(path, "belongs to another user", f"Run `chown $USER {path}`.")


def read_private_json(path: Path) -> Any:
    """Read a JSON secret file after checking it is private. FileNotFoundError passes through."""
    check_private(path)
    return json.loads(path.read_text(encoding="utf-8"))


def write_private_json(path: Path, data: Any) -> None:
    """Write JSON to `path` atomically; the file is 0600 from its first byte. A folder that
    cannot be written is a taxonomy error naming the path (507), never a bare 500."""
    try:
        _write(path, data)
    except OSError as exc:
        # Imported here: the daemon writes its discovery file before the ready line, and the
        # contracts (pydantic, about 0.2 s) load after it.
        from contracts.errors import UnexpectedError

        raise UnexpectedError(
            f"Cannot write {path}: {exc.strerror or type(exc).__name__}.",
            f"Check that the data folder {path.parent} exists, is writable by this user and has "
            "free space, then try again.",
            status=INSUFFICIENT_STORAGE,
        ) from exc


def set_aside(path: Path) -> Path | None:
    """Move a damaged file (or whatever stands at `path`) aside as `<name>.corrupt-<time>`,
    private, so nothing is lost and nothing blocks the defaults. None if it cannot be moved."""
    aside = path.with_name(f"{path.name}.corrupt-{time.strftime('%Y%m%dT%H%M%S')}")
    try:
        os.replace(path, aside)
        os.chmod(aside, 0o700 if aside.is_dir() else 0o600)
    except OSError:
        return None
    return aside


def damaged(path: Path, reason: str, aside: Path | None, remediation: str) -> ProviderError:
    """The problem to publish for a state file that could not be used."""
    from contracts.errors import InvalidRequest

    kept = f" It was kept as {aside}." if aside else ""
    return InvalidRequest(f"{path} {reason}; defaults are in use.{kept}", remediation)


def _write(path: Path, data: Any) -> None:
    ensure_private_dir(path.parent)
    # mkstemp creates the file 0600 with O_EXCL: no window in which the umask could expose it.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2, sort_keys=True)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
