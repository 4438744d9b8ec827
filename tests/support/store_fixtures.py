"""Temporary databases: a SQLite file per test, and a real PostgreSQL server per session."""

from __future__ import annotations

import asyncio
import glob
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from store.db import create_engine, session_factory
from store.migrate import upgrade_async
from tests.support.helpers import free_port


def _pg_bin(name: str) -> str:
    found = shutil.which(name) or next(
        iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))), None
    )
    if found is None:
        raise RuntimeError(f"PostgreSQL's {name} is missing: run `make system-deps`")
    return found


def _as_postgres(cmd: list[str]) -> list[str]:
    # PostgreSQL refuses to run as root; CI runs as root, so drop to the postgres user.
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


@pytest.fixture(scope="session")
def postgres_dsn() -> Iterator[str]:
    root = Path(tempfile.mkdtemp(prefix="edgewright-pg-"))
    data = root / "data"
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    port = free_port()
    subprocess.run(
        _as_postgres(
            [_pg_bin("initdb"), "-D", str(data), "-U", "edgewright", "--auth=trust", "-E", "UTF8"]
        ),
        check=True,
        capture_output=True,
    )
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {root} -c fsync=off"
    subprocess.run(
        _as_postgres(
            [
                _pg_bin("pg_ctl"),
                "-D",
                str(data),
                "-o",
                options,
                "-w",
                "-l",
                str(root / "log"),
                "start",
            ]
        ),
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgresql://edgewright@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            _as_postgres([_pg_bin("pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"]),
            check=False,
            capture_output=True,
        )
        shutil.rmtree(root, ignore_errors=True)


async def fresh_postgres_url(dsn: str, *, template: str | None = None) -> str:
    name = f"t_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(dsn)
    try:
        copy_of = f' TEMPLATE "{template}"' if template else ""
        await conn.execute(f'CREATE DATABASE "{name}"{copy_of}')
    finally:
        await conn.close()
    return dsn.replace("postgresql://", "postgresql+asyncpg://").rsplit("/", 1)[0] + f"/{name}"


# Running every migration costs about half a second of CPU, paid by most tests; so each
# process migrates one database per backend and tests start from copies of it.
_SQLITE_PREFIX = "sqlite+aiosqlite:///"
_templates: dict[str, str] = {}
_templates_lock = asyncio.Lock()


async def _template(key: str, make: Callable[[], Awaitable[str]]) -> str:
    async with _templates_lock:
        if key not in _templates:
            _templates[key] = await make()
        return _templates[key]


def _new_sqlite_file(url: str) -> Path | None:
    path = Path(url.removeprefix(_SQLITE_PREFIX))
    return path if url.startswith(_SQLITE_PREFIX) and not path.exists() else None


async def migrate(url: str) -> None:
    """Bring a test's new database to the newest schema: a new SQLite file becomes a copy
    of one migrated once per process; anything else is migrated."""
    new_file = _new_sqlite_file(url)
    if new_file is None:
        await upgrade_async(url)
        return

    async def make() -> str:
        path = Path(tempfile.mkdtemp(prefix="edgewright-migrated-")) / "edgewright.db"
        await upgrade_async(f"{_SQLITE_PREFIX}{path}")
        return str(path)

    shutil.copy(await _template("sqlite", make), new_file)  # keeps the file private


async def migrated_postgres_url(dsn: str) -> str:
    """A new PostgreSQL database at the newest schema, copied from one migrated once per
    process (CREATE DATABASE ... TEMPLATE)."""

    async def make() -> str:
        url = await fresh_postgres_url(dsn)
        await upgrade_async(url)
        return url.rsplit("/", 1)[1]

    return await fresh_postgres_url(dsn, template=await _template(f"pg:{dsn}", make))


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty database on each backend we support."""
    if request.param == "postgresql":
        return await migrated_postgres_url(request.getfixturevalue("postgres_dsn"))
    url = f"{_SQLITE_PREFIX}{tmp_path / 'edgewright.db'}"
    await migrate(url)
    return url


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(database_url)
    try:
        yield session_factory(engine)
    finally:
        await engine.dispose()
