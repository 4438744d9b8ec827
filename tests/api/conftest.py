"""An API app per test, against a migrated SQLite file, with Temporal unreachable.

The migrated database (with one user per role) is built once per session and copied
for each test: Alembic and Argon2 are the slow parts. Temporal's address is a closed
port, so every test sees the "Temporal disconnected" API; nothing here starts Temporal.
"""

from __future__ import annotations

import secrets
import shutil
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import httpx
import pytest
from fastapi import APIRouter, FastAPI

from api.core.auth import issue_token
from api.main import create_app
from store.access.users import Role, create_user
from store.db import create_engine, session_factory
from store.migrate import upgrade_async
from store.settings import Settings
from tests.api.helpers import ApiUser, make_settings


@pytest.fixture(scope="session")
async def template_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[ApiUser]]:
    directory = tmp_path_factory.mktemp("template")
    url = f"sqlite+aiosqlite:///{(directory / 'edgewright.db').as_posix()}"
    await upgrade_async(url)
    engine = create_engine(url)
    users: list[ApiUser] = []
    try:
        async with session_factory(engine)() as session, session.begin():
            for role in Role:
                password = secrets.token_urlsafe(12)
                user = await create_user(
                    session, username=f"{role.value}-user", password=password, role=role
                )
                users.append(ApiUser(user.id, user.username, password, role, user.uid))
    finally:
        await engine.dispose()
    return directory / "edgewright.db", users


@pytest.fixture
def users(template_db: tuple[Path, list[ApiUser]]) -> dict[Role, ApiUser]:
    return {user.role: user for user in template_db[1]}


@pytest.fixture
def settings(tmp_path: Path, template_db: tuple[Path, list[ApiUser]]) -> Settings:
    shutil.copyfile(template_db[0], tmp_path / "edgewright.db")
    return make_settings(tmp_path)


@pytest.fixture
def tokens(settings: Settings, users: dict[Role, ApiUser]) -> dict[Role, str]:
    return {
        role: issue_token(settings=settings, user=user.model()).token
        for role, user in users.items()
    }


@pytest.fixture
def extra_routers() -> Sequence[APIRouter]:
    """Test modules override this to mount test-only routes on the app."""
    return ()


@pytest.fixture
async def app(settings: Settings, extra_routers: Sequence[APIRouter]) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    for router in extra_routers:
        application.include_router(router)
    # httpx's ASGITransport does not run the lifespan; run it here.
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http
