"""Apply Alembic migrations programmatically (no alembic.ini needed).

Run `python -m store.migrate` to upgrade the configured database to the newest schema.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config

from store.files import private_dir
from store.settings import Settings

_MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url)
    return config


def upgrade(url: str) -> None:
    """Blocking; env.py runs its own event loop, so call this from a thread when async."""
    # "heads": features may add migration branches off the same parent; all get applied.
    command.upgrade(alembic_config(url), "heads")


async def upgrade_async(url: str) -> None:
    await asyncio.to_thread(upgrade, url)


if __name__ == "__main__":
    settings = Settings()
    private_dir(settings.data_dir)
    upgrade(settings.sqlalchemy_url)
