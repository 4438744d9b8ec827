"""A throwaway PostgreSQL server for a benchmark run: `--store postgresql` without a URL.

initdb into a temporary directory, started on a free loopback port with the server's
default durability settings (fsync on), removed when the run ends. As root (CI) it runs
as the `postgres` user, which PostgreSQL insists on.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from workers.processes import LOOPBACK, free_port


def _binary(name: str) -> str:
    found = shutil.which(name) or next(
        iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))), None
    )
    if found is None:
        raise RuntimeError(f"PostgreSQL's {name} is missing: run `make system-deps`")
    return found


def _as_postgres(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@contextlib.contextmanager
def throwaway_postgres() -> Iterator[str]:
    """Yields a postgresql+asyncpg URL of an empty database."""
    root = Path(tempfile.mkdtemp(prefix="bench-pg-"))
    data = root / "data"
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    port = free_port()
    initdb = [_binary("initdb"), "-D", str(data), "-U", "bench", "--auth=trust", "-E", "UTF8"]
    subprocess.run(_as_postgres(initdb), check=True, capture_output=True)
    options = f"-c listen_addresses={LOOPBACK} -p {port} -k {root}"
    start = [_binary("pg_ctl"), "-D", str(data), "-o", options, "-w", "-l", str(root / "log")]
    subprocess.run(_as_postgres([*start, "start"]), check=True, capture_output=True)
    try:
        yield f"postgresql+asyncpg://bench@{LOOPBACK}:{port}/postgres"
    finally:
        stop = [_binary("pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"]
        subprocess.run(_as_postgres(stop), check=False, capture_output=True)
        shutil.rmtree(root, ignore_errors=True)
