"""Dependencies that route functions declare by type.

    async def handler(session: SessionDep, user: OperatorUser, temporal: TemporalDep): ...

`TemporalDep` is the only way to the Temporal client: a connected client, or a 503 while
the API is still connecting. `OptionalTemporalDep` gives None instead, for reads that can
answer from the store, and for routes that must validate their body first (FastAPI runs
dependencies before it reports a bad body): they call `require_temporal` themselves.

`CurrentUser`, `ViewerUser`, `OperatorUser` and `AdminUser` give an api.core.principal.Principal:
a logged-in user or an API key, with `.role`, `.username` (safe to log) and `.kind`.
Resolving it also counts the request against the caller's rate limit (api.core.throttle).

Every alias resolves from what the lifespan put on `app.state` (api.core.state); nothing here
reads the environment or builds a client.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client

from api.core.audit import note_caller, note_refused
from api.core.authn import authenticate
from api.core.errors import ApiError
from api.core.principal import Principal
from api.core.route_facts import may_answer
from api.core.state import app_sessions, app_settings, app_state
from api.core.throttle import enforce_rate_limit
from store.access.users import Role
from store.settings import Settings


# The dependencies here are coroutines though they never wait: FastAPI runs a plain
# function in its thread pool, a thread handoff per dependency per request (on a device
# page, the pool's handoffs were about a tenth of the API's CPU under py-spy).
async def _settings(request: Request) -> Settings:
    return app_settings(request.app)


SettingsDep = Annotated[Settings, Depends(_settings)]


@may_answer(503)
async def _session(request: Request) -> AsyncIterator[AsyncSession]:
    # One transaction per request: committed when the route returns, rolled back when it
    # raises (an ApiError included). A route about to wait on something slow may commit
    # early to hand its connection back; the session begins again if used after.
    async with app_sessions(request.app)() as session:
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        await session.commit()


# scope="function" commits before the response is sent, so a client that reads right
# after a successful write sees it, and a failed commit becomes an error response.
SessionDep = Annotated[AsyncSession, Depends(_session, scope="function")]


# Not marked: reads use it to answer from the store without Temporal; writes that call
# require_temporal document 503 anyway (api.core.route_facts: maintenance).
async def _connected_temporal(request: Request) -> Client | None:
    return app_state(request.app).temporal.client


OptionalTemporalDep = Annotated[Client | None, Depends(_connected_temporal)]


def require_temporal(client: Client | None) -> Client:
    """The client, or the 503 that says the API is still connecting to Temporal."""
    if client is None:
        raise ApiError(
            503,
            "Temporal is not reachable yet; the API keeps reconnecting, retry shortly",
            headers={"Retry-After": "5"},
        )
    return client


@may_answer(503)
async def _temporal(client: OptionalTemporalDep) -> Client:
    return require_temporal(client)


TemporalDep = Annotated[Client, Depends(_temporal)]

_bearer = HTTPBearer(
    scheme_name="BearerToken",
    auto_error=False,  # we answer missing credentials ourselves, in the contract's envelope
    description="JWT from POST /api/auth/login",
)
_api_key = APIKeyHeader(
    name="X-API-Key",
    scheme_name="ApiKey",
    auto_error=False,
    description="API key from POST /api/auth/api-keys (acts with the key's own role)",
)

# For routes that authenticate only under some setting (the API's /metrics).
BearerCredentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
ApiKeyHeaderValue = Annotated[str | None, Depends(_api_key)]


@may_answer(401, 429)
async def current_user(
    request: Request,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    api_key: Annotated[str | None, Depends(_api_key)],
) -> Principal:
    """The caller (a user by JWT or an API key), counted against its rate limit."""
    # Settings read here, not declared: every dependency costs FastAPI a solve per
    # request, and this one is solved twice on most routes (the routers' gate and the
    # route's own role).
    settings = app_settings(request.app)
    bearer = credentials.credentials if credentials is not None else None
    try:
        principal = await authenticate(
            session,
            settings=settings,
            bearer=bearer,
            api_key=api_key,
            callers=app_state(request.app).callers,
        )
    except ApiError as err:
        if bearer is not None or api_key is not None:  # no credentials at all is no refusal
            note_refused(request, reason=err.message)
        raise
    note_caller(request, principal)
    await enforce_rate_limit(
        request, session=session, settings=settings, scope="caller", key=principal.rate_limit_key
    )
    return principal


CurrentUser = Annotated[Principal, Depends(current_user)]


def user_role(user: Principal) -> Role | None:
    return user.role_level


def require_role(role: Role) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency giving the caller if their role is at least `role`, else 403."""

    async def dependency(user: CurrentUser) -> Principal:
        held = user.role_level
        if held is None or not held.allows(role):
            raise ApiError(
                403,
                f"This needs the {role.value} role; you are {user.role}",
                details={"required_role": role.value, "role": user.role},
            )
        return user

    dependency.__name__ = f"require_{role.value}"
    return may_answer(403)(dependency)


ViewerUser = Annotated[Principal, Depends(require_role(Role.VIEWER))]
OperatorUser = Annotated[Principal, Depends(require_role(Role.OPERATOR))]
AdminUser = Annotated[Principal, Depends(require_role(Role.ADMIN))]
