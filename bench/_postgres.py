"""A throwaway PostgreSQL server for a benchmark, as the tests start one
(tests/support/store_fixtures.py): `initdb` into a temporary directory, `pg_ctl start` on a
free loopback port, trust authentication, stopped and removed on exit."""

from __future__ import annotations

import asyncio
import glob
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from workers.processes import LOOPBACK, free_port


def _pg_bin(name: str) -> str:
    found = shutil.which(name) or next(
        iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))), None
    )
    if found is None:
        raise RuntimeError(f"PostgreSQL's {name} is missing: run `make system-deps`")
    return found


def _as_postgres(cmd: list[str]) -> list[str]:
    # PostgreSQL refuses to run as root: drop to the postgres user there.
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


async def _run(cmd: list[str], *, check: bool) -> None:
    await asyncio.to_thread(subprocess.run, _as_postgres(cmd), check=check, capture_output=True)


def available() -> bool:
    try:
        _pg_bin("initdb")
    except RuntimeError:
        return False
    return True


@asynccontextmanager
async def postgres_database() -> AsyncIterator[str]:
    """A fresh database on a server of its own: its `postgresql+asyncpg://` URL."""
    root = Path(tempfile.mkdtemp(prefix="edgewright-bench-pg-"))
    data = root / "data"
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    port = free_port()
    initdb = [_pg_bin("initdb"), "-D", str(data), "-U", "edgewright", "--auth=trust", "-E", "UTF8"]
    await _run(initdb, check=True)
    options = f"-c listen_addresses={LOOPBACK} -p {port} -k {root}"
    start = [_pg_bin("pg_ctl"), "-D", str(data), "-o", options, "-w", "-l", str(root / "log")]
    await _run([*start, "start"], check=True)
    try:
        name = f"bench_{uuid.uuid4().hex[:8]}"
        createdb = [_pg_bin("createdb"), "-h", LOOPBACK, "-p", str(port), "-U", "edgewright"]
        await _run([*createdb, name], check=True)
        yield f"postgresql+asyncpg://edgewright@{LOOPBACK}:{port}/{name}"
    finally:
        stop = [_pg_bin("pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"]
        await _run(stop, check=False)
        shutil.rmtree(root, ignore_errors=True)
