"""Files and directories that hold edgewright's state, readable by their owner only.

The store, backup archives, scratch space and state files hold password and token hashes,
the inventory and, for the sandbox, a CA key. Created under the usual umask (022) they
were world-readable; here files are made 0600 and directories 0700. Every process
(store, adapters, workers, simulator) writes its state through these helpers.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path
from typing import IO

PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700


def private_dir(path: Path) -> Path:
    """Create `path` and its missing parents as 0700. A directory that already exists is
    left as it is: it may be shared (EDGEWRIGHT_BACKUP_SCRATCH_DIR=/tmp)."""
    missing = [parent for parent in (path, *path.parents) if not parent.exists()]
    for directory in reversed(missing):  # outermost first
        with contextlib.suppress(FileExistsError):  # made meanwhile by another process
            directory.mkdir(mode=PRIVATE_DIR)
    return path


def open_private(path: Path, flags: int) -> int:
    """os.open creating `path` as 0600; a file we own that was looser is tightened, since
    O_CREAT's mode applies only to a new file."""
    fd = os.open(path, flags | os.O_CREAT, PRIVATE_FILE)
    try:
        _tighten_fd(fd)
    except BaseException:
        os.close(fd)
        raise
    return fd


def open_private_binary(path: Path) -> IO[bytes]:
    """`path.open("wb")`, as a private file."""
    return os.fdopen(open_private(path, os.O_WRONLY | os.O_TRUNC), "wb")


def write_private(path: Path, data: bytes) -> None:
    with open_private_binary(path) as out:
        out.write(data)


def tighten(path: Path) -> None:
    """Make an existing file we own private; anything else is left alone."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return
    if _ours_and_loose(info):
        os.chmod(path, PRIVATE_FILE if stat.S_ISREG(info.st_mode) else PRIVATE_DIR)


def private_sqlite_file(path: Path) -> None:
    """The store's SQLite file as 0600 before SQLite opens it: SQLite creates its -wal and
    -shm files with the database file's permissions."""
    private_dir(path.parent)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE))
    for existing in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        tighten(existing)


def _tighten_fd(fd: int) -> None:
    info = os.fstat(fd)
    if _ours_and_loose(info):
        os.fchmod(fd, PRIVATE_FILE)


def _ours_and_loose(info: os.stat_result) -> bool:
    return info.st_uid == os.geteuid() and bool(info.st_mode & 0o077)
