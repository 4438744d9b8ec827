"""Dependencies that route functions declare by type.

    async def handler(session: SessionDep, user: OperatorUser, temporal: TemporalDep): ...

Every alias resolves from what the lifespan put on `app.state` (api.state); nothing here
reads the environment or builds a client.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client

from api.auth import TokenError, decode_token
from api.errors import ApiError
from api.state import app_sessions, app_settings, app_temporal
from store.models import User
from store.settings import Settings
from store.users import Role, get_user


def _settings(request: Request) -> Settings:
    return app_settings(request.app)


SettingsDep = Annotated[Settings, Depends(_settings)]


async def _session(request: Request) -> AsyncIterator[AsyncSession]:
    # One transaction per request: committed when the route returns, rolled back when it
    # raises (an ApiError included).
    async with app_sessions(request.app)() as session, session.begin():
        yield session


# scope="function" commits before the response is sent, so a client that reads right
# after a successful write sees it, and a failed commit becomes an error response.
SessionDep = Annotated[AsyncSession, Depends(_session, scope="function")]


def _temporal(request: Request) -> Client:
    client = app_temporal(request.app).client
    if client is None:
        raise ApiError(
            503,
            "Temporal is not reachable yet; the API keeps reconnecting, retry shortly",
            headers={"Retry-After": "5"},
        )
    return client


TemporalDep = Annotated[Client, Depends(_temporal)]

_bearer = HTTPBearer(
    auto_error=False,  # we answer missing credentials ourselves, in the contract's envelope
    description="JWT from POST /api/auth/login",
)
_CHALLENGE = {"WWW-Authenticate": "Bearer"}
_INVALID = {"WWW-Authenticate": 'Bearer error="invalid_token"'}


async def current_user(
    session: SessionDep,
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> User:
    if credentials is None:
        raise ApiError(401, "Missing bearer token", headers=_CHALLENGE)
    try:
        claims = decode_token(settings=settings, token=credentials.credentials)
    except TokenError as err:
        raise ApiError(401, str(err), headers=_INVALID) from err
    user = await get_user(session, user_id=claims.user_id)
    if user is None or user.disabled:
        raise ApiError(401, "The account behind this token is gone or disabled", headers=_INVALID)
    return user


CurrentUser = Annotated[User, Depends(current_user)]


def user_role(user: User) -> Role | None:
    try:
        return Role(user.role)
    except ValueError:  # a role this version does not know grants nothing
        return None


def require_role(role: Role) -> Callable[[User], Awaitable[User]]:
    """A dependency giving the current user if their role is at least `role`, else 403."""

    async def dependency(user: CurrentUser) -> User:
        held = user_role(user)
        if held is None or not held.allows(role):
            raise ApiError(
                403,
                f"This needs the {role.value} role; you are {user.role}",
                details={"required_role": role.value, "role": user.role},
            )
        return user

    dependency.__name__ = f"require_{role.value}"
    return dependency


ViewerUser = Annotated[User, Depends(require_role(Role.VIEWER))]
OperatorUser = Annotated[User, Depends(require_role(Role.OPERATOR))]
AdminUser = Annotated[User, Depends(require_role(Role.ADMIN))]
