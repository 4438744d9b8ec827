"""First start: migrate the database and create the first admin.

`python -m store.bootstrap` is what `make run` calls before starting the stack. The admin
password comes from EDGEWRIGHT_ADMIN_PASSWORD, or is generated and printed exactly once;
only its Argon2 hash is stored. There is no built-in default password.
"""

from __future__ import annotations

import asyncio
import secrets

from store.access.users import Role, count_users, create_user
from store.db import create_engine, session_factory
from store.migrate import upgrade_async
from store.settings import Settings


async def ensure_first_admin(settings: Settings) -> str | None:
    """Create the admin when there are no users; returns a generated password, if any."""
    engine = create_engine(settings.sqlalchemy_url)
    try:
        async with session_factory(engine)() as session, session.begin():
            if await count_users(session) > 0:
                return None
            given = settings.admin_password
            password = given.get_secret_value() if given else secrets.token_urlsafe(18)
            await create_user(
                session, username=settings.admin_username, password=password, role=Role.ADMIN
            )
            return None if given else password
    finally:
        await engine.dispose()


async def bootstrap(settings: Settings) -> None:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    await upgrade_async(settings.sqlalchemy_url)
    generated = await ensure_first_admin(settings)
    if generated is not None:
        print(
            "\n  First admin created.\n"
            f"    username: {settings.admin_username}\n"
            f"    password: {generated}\n"
            "  Shown once: only its hash is stored. Keep it now.\n",
            flush=True,
        )


if __name__ == "__main__":
    asyncio.run(bootstrap(Settings()))
