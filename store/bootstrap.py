"""First start: migrate the database and create the first admin.

`python -m store.bootstrap` is what `make run` calls before starting the stack. The admin
password comes from EDGEWRIGHT_ADMIN_PASSWORD, or is generated and printed exactly once;
only its Argon2 hash is stored. There is no built-in default password, and a configured
one must pass the same policy as any password set through the API.
"""

from __future__ import annotations

import asyncio
import secrets
import sys

from store.access.passwords import password_problem
from store.access.users import Role, count_users, create_user, is_valid_username
from store.db import create_engine, session_factory
from store.files import private_dir
from store.migrate import upgrade_async
from store.settings import Settings


class BootstrapError(Exception):
    """The configuration cannot make the first admin; the message names the variable."""


async def ensure_first_admin(settings: Settings) -> str | None:
    """Create the admin when there are no users; returns a generated password, if any."""
    engine = create_engine(settings.sqlalchemy_url)
    try:
        async with session_factory(engine)() as session, session.begin():
            if await count_users(session) > 0:
                return None
            given = settings.admin_password
            password = given.get_secret_value() if given else _generated(settings.admin_username)
            _check_admin(settings.admin_username, password)
            await create_user(
                session, username=settings.admin_username, password=password, role=Role.ADMIN
            )
            return None if given else password
    finally:
        await engine.dispose()


def _generated(username: str) -> str:
    while True:  # a random one may, very rarely, contain the username
        password = secrets.token_urlsafe(18)
        if password_problem(password, username=username) is None:
            return password


def _check_admin(username: str, password: str) -> None:
    if not is_valid_username(username):
        raise BootstrapError(
            "EDGEWRIGHT_ADMIN_USERNAME must be 1-64 letters, digits, '.', '_', '@' or '-', "
            "starting with a letter or digit"
        )
    problem = password_problem(password, username=username)
    if problem is not None:  # names the rule, never the password
        raise BootstrapError(
            f"EDGEWRIGHT_ADMIN_PASSWORD {problem}. Set a stronger one, or unset it to have "
            "one generated and printed once"
        )


async def bootstrap(settings: Settings) -> None:
    private_dir(settings.data_dir)
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
    try:
        asyncio.run(bootstrap(Settings()))
    except BootstrapError as err:
        print(f"store bootstrap: {err}", file=sys.stderr)
        sys.exit(2)
