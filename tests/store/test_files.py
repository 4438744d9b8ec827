"""The store and state files are private: 0600 files, 0700 directories."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import text

from store.bootstrap import bootstrap
from store.db import create_engine
from store.files import open_private, private_dir, write_private
from store.settings import Settings
from tests.support.modes import mode

pytestmark = pytest.mark.usefixtures("usual_umask")


def test_directories_are_created_private_and_existing_ones_left_alone(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    shared.chmod(0o755)
    made = private_dir(shared / "a" / "b")
    assert (mode(shared / "a"), mode(made)) == (0o700, 0o700)
    assert mode(shared) == 0o755


def test_files_are_created_private_and_loose_ones_tightened(tmp_path: Path) -> None:
    fresh = tmp_path / "fresh"
    write_private(fresh, b"x")
    loose = tmp_path / "loose"
    loose.write_bytes(b"old")
    loose.chmod(0o644)
    os.close(open_private(loose, os.O_WRONLY))
    assert (mode(fresh), mode(loose)) == (0o600, 0o600)


async def test_the_sqlite_store_and_its_data_dir_are_private(tmp_path: Path) -> None:
    data_dir = tmp_path / "new" / "data"
    settings = Settings.model_validate(
        {"data_dir": data_dir, "admin_password": "correct horse battery"}
    )
    await bootstrap(settings)
    store = data_dir / "edgewright.db"
    assert (mode(tmp_path / "new"), mode(data_dir), mode(store)) == (0o700, 0o700, 0o600)

    # While a connection writes, SQLite's -wal and -shm files exist: private too.
    engine = create_engine(settings.sqlalchemy_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(text("UPDATE users SET disabled = false"))
            siblings = [data_dir / f"edgewright.db-{suffix}" for suffix in ("wal", "shm")]
            assert {path.name: mode(path) for path in siblings if path.exists()} == {
                "edgewright.db-wal": 0o600,
                "edgewright.db-shm": 0o600,
            }
    finally:
        await engine.dispose()


async def test_an_existing_world_readable_store_is_tightened(tmp_path: Path) -> None:
    store = tmp_path / "edgewright.db"
    store.write_bytes(b"")
    store.chmod(0o644)
    engine = create_engine(f"sqlite+aiosqlite:///{store}")
    await engine.dispose()
    assert mode(store) == 0o600
