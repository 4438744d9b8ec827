"""POST /api/auth/login: the CloudCore login, answering with a bearer JWT."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field, SecretStr

from api.auth import issue_token
from api.deps import SessionDep, SettingsDep
from api.envelopes import CloudCoreError
from api.errors import ApiError
from store.users import authenticate

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
    responses={401: {"model": CloudCoreError, "description": "Wrong username or password"}},
)
async def login(body: LoginRequest, session: SessionDep, settings: SettingsDep) -> LoginResponse:
    user = await authenticate(
        session, username=body.username, password=body.password.get_secret_value()
    )
    if user is None:
        # One message for an unknown user and a wrong password: no probing for names.
        raise ApiError(401, "Invalid username or password", headers={"WWW-Authenticate": "Bearer"})
    issued = issue_token(settings=settings, user=user)
    return LoginResponse(
        token=issued.token,
        expires_at=issued.expires_at,
        expires_in=issued.expires_in,
        user=LoginUser(id=user.id, username=user.username, role=user.role),
    )
