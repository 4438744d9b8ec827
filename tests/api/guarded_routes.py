"""Test-only routes behind the auth dependencies, one per role level and contract."""

# No `from __future__ import annotations` here: the role annotation below names a local
# variable, which FastAPI could not resolve from a string.
from typing import Annotated

from fastapi import APIRouter, Depends

from api.core.deps import CurrentUser, require_role
from store.access.users import Role
from store.models import User

probe = APIRouter()


@probe.get("/api/kubeedge/_probe/me")
async def whoami(user: CurrentUser) -> dict[str, str]:
    return {"username": user.username}


def _level_route(level: Role, prefix: str) -> None:
    @probe.get(f"{prefix}/_probe/{level.value}")
    async def level_only(user: Annotated[User, Depends(require_role(level))]) -> dict[str, str]:
        return {"ok": user.username}


for _level in Role:
    _level_route(_level, "/api/kubeedge")
_level_route(Role.ADMIN, "/api/v1")
