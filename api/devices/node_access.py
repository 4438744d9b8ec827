"""Who may call the Edge API's node endpoints: users and API keys by role, and a node by
its own security token, for its own node only.

`CallerDep` accepts everything `CurrentUser` accepts and, in addition, a bearer token of
kind "node" (api.devices.node_tokens). Routes then decide with `require_user` (users and keys
only, at least some role) or `require_node_or_role` (the node itself, or a user with the
role). A node token is counted against the rate limit under its node.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from api.core.audit import name_caller, note_refused
from api.core.deps import SessionDep, SettingsDep, current_user, require_role
from api.core.errors import ApiError
from api.core.principal import Principal
from api.core.route_facts import may_answer
from api.core.throttle import enforce_rate_limit
from api.devices import node_tokens
from store.access.users import Role

_bearer = HTTPBearer(
    scheme_name="BearerToken",
    auto_error=False,  # missing credentials are answered in the contract's envelope
    description="JWT from POST /api/auth/login, or a node token from POST /api/v1/security/tokens",
)
_api_key = APIKeyHeader(name="X-API-Key", scheme_name="ApiKey", auto_error=False)
_INVALID = {"WWW-Authenticate": 'Bearer error="invalid_token"'}


@dataclass(frozen=True, kw_only=True)
class NodeCaller:
    """A request made with a node's security token; made only once the token and its
    node were both found in this request's transaction (node_tokens.verify)."""

    node_id: str
    token_id: str

    @property
    def rate_limit_key(self) -> str:
        return f"node:{self.node_id}"


Caller = Principal | NodeCaller


@may_answer(401, 403, 429)
async def current_caller(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    api_key: Annotated[str | None, Depends(_api_key)],
) -> Caller:
    bearer = credentials.credentials if credentials is not None else None
    if bearer is None or api_key is not None or not node_tokens.looks_like_node_token(bearer):
        return await current_user(
            request=request,
            session=session,
            credentials=credentials,
            api_key=api_key,
        )
    try:
        claims, _ = await node_tokens.verify(session, settings=settings, token=bearer)
    except node_tokens.NodeTokenInvalid as err:
        note_refused(request, reason=str(err))
        raise ApiError(401, str(err), headers=_INVALID) from err
    caller = NodeCaller(node_id=claims.node_id, token_id=claims.token_id)
    name_caller(request, f"node:{claims.node_id}")
    await enforce_rate_limit(
        request, session=session, settings=settings, scope="caller", key=caller.rate_limit_key
    )
    return caller


CallerDep = Annotated[Caller, Depends(current_caller)]


async def require_user(caller: Caller, role: Role) -> Principal:
    """A user or API key with at least `role`; a node token is a 403 here."""
    if isinstance(caller, NodeCaller):
        raise ApiError(
            403,
            "A node token may only read and report on its own node",
            details={"node_id": caller.node_id, "required_role": role.value},
        )
    return await require_role(role)(caller)


async def require_node_or_role(caller: Caller, *, node_id: str, role: Role) -> None:
    """The node `node_id` itself, or a user or API key with at least `role`."""
    if isinstance(caller, NodeCaller):
        if caller.node_id != node_id:
            raise ApiError(
                403,
                "A node token may only act on its own node",
                details={"node_id": caller.node_id},
            )
        return
    await require_role(role)(caller)


def user_with_role(role: Role) -> Callable[[Caller], Awaitable[Principal]]:
    """`require_user` as a dependency, for routes that must refuse a node (403) before
    they need anything else, such as Temporal (503)."""

    async def dependency(caller: CallerDep) -> Principal:
        return await require_user(caller, role)

    dependency.__name__ = f"user_with_{role.value}"
    return may_answer(403)(dependency)


EdgeOperator = Annotated[Principal, Depends(user_with_role(Role.OPERATOR))]
