"""The account the embedded stack's simulator joins its devices with.

`make run` has no operator at the keyboard to hand the simulator a credential, so on
first start it creates the operator user `simulator` with a random password, kept in
`DATA_DIR/simulator-credentials` (mode 0600, never logged), and logs in with it. The user
is an ordinary one: it can be disabled or deleted like any other. Elsewhere, pass
`--api-key` (an API key or a login token) instead.
"""

from __future__ import annotations

import os
import secrets

from sqlalchemy import select

from store.access.users import Role, create_user
from store.db import create_engine, session_factory
from store.files import open_private, private_dir
from store.models import User
from store.settings import Settings

USERNAME = "simulator"
CREDENTIALS_FILE = "simulator-credentials"


async def stack_login(settings: Settings) -> tuple[str, str]:
    """(username, password) of the simulator's user, created on first use."""
    path = settings.data_dir / CREDENTIALS_FILE
    if path.exists():
        return USERNAME, path.read_text(encoding="utf-8").strip()
    password = secrets.token_urlsafe(24)
    engine = create_engine(settings.sqlalchemy_url)
    try:
        async with session_factory(engine)() as session, session.begin():
            if await session.scalar(select(User.id).where(User.username == USERNAME)):
                raise RuntimeError(
                    f"user {USERNAME!r} exists but {path} is gone: delete that user, or run "
                    "the simulator with --api-key"
                )
            await create_user(session, username=USERNAME, password=password, role=Role.OPERATOR)
    finally:
        await engine.dispose()
    private_dir(path.parent)
    fd = open_private(path, os.O_WRONLY | os.O_TRUNC)
    with os.fdopen(fd, "w") as file:
        file.write(password + "\n")
    return USERNAME, password
