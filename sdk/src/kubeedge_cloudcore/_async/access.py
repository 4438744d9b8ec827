"""Logins, users and API keys (CloudCore contract)."""

from __future__ import annotations

from typing import Any

from ..models import (
    ApiAccessApiKeyRoutesRevoked,
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyList,
    ApiKeyOut,
    Done,
    LoginResponse,
    LogoutResponse,
    Me,
    UserCreated,
    UserList,
    UserOut,
)
from .base import AsyncBase, body_of


class AsyncAccess(AsyncBase):
    async def login(self, username: str, password: str) -> LoginResponse:
        """Log in; this client uses the token from now on."""
        return LoginResponse.model_validate(await self._t.login(username, password))

    async def logout(self) -> LogoutResponse:
        return await self._t.send("POST", "/api/auth/logout", LogoutResponse)

    async def me(self) -> Me:
        return await self._t.send("GET", "/api/auth/me", Me)

    async def create_user(
        self, username: str, password: str, role: str | None = None
    ) -> UserCreated:
        data = body_of(None, {"username": username, "password": password, "role": role})
        return await self._t.send("POST", "/api/auth/users", UserCreated, json=data)

    async def list_users(self) -> list[UserOut]:
        return [item async for item in self._pages("/api/auth/users", UserList, "users")]

    async def get_user(self, user_id: int | str) -> UserOut:
        return await self._t.send("GET", f"/api/auth/users/{user_id}", UserOut)

    async def delete_user(self, user_id: int | str) -> Done:
        return await self._t.send("DELETE", f"/api/auth/users/{user_id}", Done)

    async def create_api_key(
        self, name: str, *, body: ApiKeyCreate | None = None, **fields: Any
    ) -> ApiKeyCreated:
        """A new API key; its secret is in the answer (`key`) and never shown again."""
        data = body_of(body, {"name": name, **fields})
        return await self._t.send("POST", "/api/auth/api-keys", ApiKeyCreated, json=data)

    async def list_api_keys(self) -> list[ApiKeyOut]:
        return [item async for item in self._pages("/api/auth/api-keys", ApiKeyList, "api_keys")]

    async def revoke_api_key(self, key: str) -> ApiAccessApiKeyRoutesRevoked:
        return await self._t.send(
            "DELETE", f"/api/auth/api-keys/{key}", ApiAccessApiKeyRoutesRevoked
        )
