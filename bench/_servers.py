"""PostgreSQL and Redis servers of a benchmark's own, in its temporary directory.

The benches' `--store postgresql` runs their store on a PostgreSQL server of their own
(what several replicas share in a cluster); the scale-out benchmark also keeps its
rate-limit counters in Redis. Both come from the system (`make
system-deps`); nothing is downloaded. PostgreSQL keeps its defaults (fsync on): the
figures are those of a server that survives a power cut.
"""

from __future__ import annotations

import asyncio
import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

from workers.processes import LOOPBACK, free_port, wait_for_port

DATABASE = "edgewright"
USER = "edgewright"


def pg_binary(name: str) -> str:
    found = shutil.which(name) or next(
        iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))), None
    )
    if found is None:
        raise FileNotFoundError(f"PostgreSQL's {name} is missing (make system-deps)")
    return found


def postgres_available() -> bool:
    try:
        pg_binary("initdb")
    except FileNotFoundError:
        return False
    return True


def _as_postgres(command: list[str]) -> list[str]:
    # PostgreSQL refuses to run as root; drop to the postgres user there.
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@contextmanager
def postgres() -> Iterator[str]:
    """A fresh cluster in a directory of its own (the postgres user must reach it when we
    run as root) with database `edgewright`; its asyncpg URL."""
    root = Path(tempfile.mkdtemp(prefix="edgewright-scale-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    data, port = root / "data", free_port()
    initdb = [pg_binary("initdb"), "-D", str(data), "-U", USER, "--auth=trust", "-E", "UTF8"]
    subprocess.run(_as_postgres(initdb), check=True, capture_output=True)
    # Enough connections for every replica's pool (SQLAlchemy's default is 5 + 10 each).
    options = f"-c listen_addresses={LOOPBACK} -p {port} -k {root} -c max_connections=300"
    pg_ctl = [pg_binary("pg_ctl"), "-D", str(data), "-w", "-l", str(root / "log")]
    subprocess.run(_as_postgres([*pg_ctl, "-o", options, "start"]), check=True, capture_output=True)
    try:
        create = [pg_binary("createdb"), "-h", LOOPBACK, "-p", str(port), "-U", USER, DATABASE]
        subprocess.run(create, check=True, capture_output=True)
        yield f"postgresql+asyncpg://{USER}@{LOOPBACK}:{port}/{DATABASE}"
    finally:
        stop = [pg_binary("pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"]
        subprocess.run(_as_postgres(stop), check=False, capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


@asynccontextmanager
async def postgres_database() -> AsyncIterator[str]:
    """`postgres()` for async benches: the server starts and stops off the event loop."""
    server = postgres()
    url = await asyncio.to_thread(server.__enter__)
    try:
        yield url
    finally:
        await asyncio.to_thread(server.__exit__, None, None, None)


@contextmanager
def redis() -> Iterator[str]:
    """Debian's redis-server on a free loopback port, counters only (nothing on disk)."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise FileNotFoundError("redis-server is not installed (make system-deps)")
    port = free_port()
    command = [binary, "--port", str(port), "--bind", LOOPBACK, "--save", "", "--appendonly", "no"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(LOOPBACK, port, timeout=30)
        yield f"redis://{LOOPBACK}:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=10)
