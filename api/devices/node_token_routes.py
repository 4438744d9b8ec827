"""Edge API contract: node security tokens (`/api/v1/security/tokens`).

A token stands for one node (api.devices.node_tokens): with it the node may read its own record
and report its status, nothing else. Issuing and revoking are for admins; validating is
for any caller with a login or API key.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Request, status
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from api.core.audit import record_audit_event
from api.core.deps import AdminUser, SessionDep, SettingsDep, ViewerUser
from api.core.errors import ApiError
from api.devices import node_tokens
from store.audit import AuditEvent
from store.devices import inventory as devices
from store.devices import node_tokens as token_store
from store.models import utcnow

router = APIRouter(prefix="/api/v1/security", tags=["security"])

TokenText = Annotated[str, StringConstraints(min_length=1, max_length=4096)]


def _lifetime(value: str) -> str:
    node_tokens.parse_lifetime(value)
    return value


class IssueRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    node_id: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    expiration: Annotated[str, AfterValidator(_lifetime)] = Field(
        default="24h", description="Lifetime: a number and s, m, h or d (1m to 365d)"
    )


class Issued(BaseModel):
    token: str
    expires_at: datetime
    # ours
    token_id: str
    node_id: str


class TokenBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: TokenText


class Validation(BaseModel):
    valid: bool
    node_id: str | None
    expires_at: datetime | None
    reason: str | None = Field(default=None, description="Why the token is not valid")


class Revoked(BaseModel):
    success: bool = True
    message: str


@router.post(
    "/tokens",
    response_model=Issued,
    status_code=status.HTTP_201_CREATED,
    responses={404: {"description": "No such node"}},
)
async def issue(
    body: IssueRequest,
    request: Request,
    user: AdminUser,
    session: SessionDep,
    settings: SettingsDep,
) -> Issued:
    if await devices.get_by_node_id(session, node_id=body.node_id) is None:
        raise ApiError(404, f"No node {body.node_id}", details={"node_id": body.node_id})
    now = utcnow().replace(microsecond=0)
    expires_at = now + node_tokens.parse_lifetime(body.expiration)
    token_id = uuid.uuid4().hex
    token = node_tokens.mint(
        settings=settings,
        node_id=body.node_id,
        token_id=token_id,
        issued_at=now,
        expires_at=expires_at,
    )
    await token_store.record_node_token(
        session,
        token_id=token_id,
        token=token,
        node_id=body.node_id,
        expires_at=expires_at,
        created_by=user.username,
        now=now,
    )
    await record_audit_event(
        request,
        session,
        event=AuditEvent.TOKEN_ISSUED,
        target=f"node:{body.node_id}",
        details={
            "token_kind": "node",
            "token_id": token_id,
            "node_id": body.node_id,
            "expires_at": expires_at,
        },
    )
    return Issued(token=token, expires_at=expires_at, token_id=token_id, node_id=body.node_id)


@router.post("/tokens/validate", response_model=Validation)
async def validate(
    body: TokenBody, _user: ViewerUser, session: SessionDep, settings: SettingsDep
) -> Validation:
    """200 either way: the request is fine even when the token is not (`valid: false`)."""
    try:
        claims, _ = await node_tokens.verify(session, settings=settings, token=body.token)
    except node_tokens.NodeTokenInvalid as err:
        return Validation(valid=False, node_id=None, expires_at=None, reason=str(err))
    return Validation(valid=True, node_id=claims.node_id, expires_at=claims.expires_at)


@router.post(
    "/tokens/revoke",
    response_model=Revoked,
    responses={404: {"description": "Not a node token issued here"}},
)
async def revoke(
    body: TokenBody,
    request: Request,
    _user: AdminUser,
    session: SessionDep,
    settings: SettingsDep,
) -> Revoked:
    try:
        claims = node_tokens.decode(settings=settings, token=body.token, allow_expired=True)
    except node_tokens.NodeTokenInvalid as err:
        raise ApiError(404, "Unknown token: not a node token issued here") from err
    row = await token_store.find_node_token(session, token=body.token)
    if row is None or row.token_id != claims.token_id:
        raise ApiError(404, "Unknown token: not a node token issued here")
    await token_store.revoke_node_token(session, token_id=row.token_id, now=utcnow())
    await record_audit_event(
        request,
        session,
        event=AuditEvent.TOKEN_REVOKED,
        target=f"node:{claims.node_id}",
        details={"token_kind": "node", "token_id": row.token_id, "node_id": claims.node_id},
    )
    return Revoked(message="Token successfully revoked")
