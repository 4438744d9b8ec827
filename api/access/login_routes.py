"""POST /api/auth/login (the CloudCore login, answering a bearer JWT) and /logout.

Login is public, so it is rate-limited per client IP (at most
`EDGEWRIGHT_LOGIN_RATE_LIMIT_PER_MINUTE`) to slow password guessing, and at most
`EDGEWRIGHT_LOGIN_MAX_CONCURRENT` logins hash a password at once (api.core.slots); logout
revokes the very token it is called with.

Both are in the audit log (api.core.audit): a success with the new token's id, a failure
with the name given and why (never the password), in a transaction of its own since the
401 rolls the request's back; a refused rate-limited attempt once per address a minute.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field, SecretStr

from api.core.audit import (
    defer_audit_event,
    defer_audit_event_once,
    record_audit_event,
    this_minute,
)
from api.core.auth import issue_token
from api.core.deps import CurrentUser, SessionDep, SettingsDep
from api.core.envelopes import CloudCoreError
from api.core.errors import ApiError
from api.core.state import app_state
from api.core.throttle import client_ip, enforce_rate_limit
from store.access.revoked_tokens import revoke_token
from store.access.users import check_login
from store.audit import AuditEvent, AuditOutcome

router = APIRouter(prefix="/api/auth", tags=["auth"])


class LoginRequest(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    # Bounded because Argon2 hashes whatever it is given; SecretStr keeps it out of reprs.
    password: SecretStr = Field(min_length=1, max_length=1024)


class LoginUser(BaseModel):
    id: int
    username: str
    role: str


class LoginResponse(BaseModel):
    token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth2 scheme name, not a secret
    expires_at: datetime
    expires_in: int = Field(description="seconds until expires_at")
    user: LoginUser


@router.post(
    "/login",
    responses={
        401: {"model": CloudCoreError, "description": "Wrong username or password"},
        429: {"model": CloudCoreError, "description": "Too many attempts from this address"},
        503: {
            "model": CloudCoreError,
            "description": "Too many logins in progress on this server; retry after Retry-After",
            "headers": {
                "Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}
            },
        },
    },
)
async def login(
    body: LoginRequest, request: Request, session: SessionDep, settings: SettingsDep
) -> LoginResponse:
    try:
        await enforce_rate_limit(
            request,
            session=session,
            settings=settings,
            scope="login",
            key=client_ip(request),
            cap=settings.login_rate_limit_per_minute,
        )
    except ApiError as err:
        if err.status_code == 429:
            _rate_limited(request, username=body.username)
        raise
    async with app_state(request.app).login_slots.hold("logins"):
        check = await check_login(
            session, username=body.username, password=body.password.get_secret_value()
        )
    user = check.user
    if user is None:
        defer_audit_event(
            request,
            event=AuditEvent.LOGIN_FAILED,
            outcome=AuditOutcome.FAILURE,
            actor=body.username,
            target=f"user:{body.username}",
            details={"reason": check.reason},
        )
        # One message for an unknown user and a wrong password: no probing for names.
        raise ApiError(401, "Invalid username or password", headers={"WWW-Authenticate": "Bearer"})
    issued = issue_token(settings=settings, user=user)
    await record_audit_event(
        request,
        session,
        event=AuditEvent.LOGIN_SUCCEEDED,
        actor=user.username,
        target=f"user:{user.username}",
        details={"token_id": issued.jti, "expires_at": issued.expires_at, "role": user.role},
    )
    return LoginResponse(
        token=issued.token,
        expires_at=issued.expires_at,
        expires_in=issued.expires_in,
        user=LoginUser(id=user.id, username=user.username, role=user.role),
    )


def _rate_limited(request: Request, *, username: str) -> None:
    # Once per address a minute: a guessing script must not turn each 429 into a write.
    defer_audit_event_once(
        request,
        event=AuditEvent.LOGIN_FAILED,
        once_per=("rate-limited", client_ip(request), this_minute()),
        outcome=AuditOutcome.DENIED,
        actor=username,
        target=f"user:{username}",
        details={"reason": "too many attempts from this address"},
    )


class LogoutResponse(BaseModel):
    status: Literal["success"] = "success"
    message: str


@router.post(
    "/logout",
    responses={400: {"model": CloudCoreError, "description": "Called with an API key"}},
)
async def logout(principal: CurrentUser, session: SessionDep, request: Request) -> LogoutResponse:
    if principal.token is None:
        raise ApiError(
            400,
            "Logout ends a login token; revoke an API key with DELETE /api/auth/api-keys/{id}",
        )
    await revoke_token(session, jti=principal.token.jti, expires_at=principal.token.expires_at)
    app_state(request.app).callers.clear()  # refused here at once, not after the cache TTL
    await record_audit_event(
        request,
        session,
        event=AuditEvent.LOGOUT,
        target=f"token:{principal.token.jti}",
        details={"token_id": principal.token.jti},
    )
    return LogoutResponse(message="Logged out; this token no longer works")
