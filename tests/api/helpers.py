"""Small helpers shared by the API tests."""

from __future__ import annotations

import secrets
import socket
from dataclasses import dataclass
from pathlib import Path

import httpx

from store.access.users import Role
from store.models import User
from store.settings import Settings

SECRET_KEY = secrets.token_urlsafe(48)


@dataclass(frozen=True)
class ApiUser:
    id: int
    username: str
    password: str
    role: Role
    uid: str

    def model(self) -> User:
        return User(id=self.id, uid=self.uid, username=self.username, role=self.role.value)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def make_settings(data_dir: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "data_dir": data_dir,
        "database_url": f"sqlite+aiosqlite:///{(data_dir / 'edgewright.db').as_posix()}",
        "secret_key": SECRET_KEY,
        "temporal_address": f"127.0.0.1:{closed_port()}",
        "temporal_ui_url": "http://127.0.0.1:8233",
        **overrides,
    }
    # model_validate skips the environment and .env: a developer's EDGEWRIGHT_* variables
    # cannot leak into the tests.
    return Settings.model_validate(values)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def login(client: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    return await client.post("/api/auth/login", json={"username": username, "password": password})
