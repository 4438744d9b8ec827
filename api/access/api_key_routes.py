"""API keys for scripts and SDKs (`X-API-Key`): created, listed and revoked by admins.

The key itself is in the creation answer and nowhere else, ever: the store keeps its
sha256, listings show only its public id (`key_id`), and logs name only that id.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Request, status
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy.ext.asyncio import AsyncSession

from api.core.audit import record_audit_event
from api.core.deps import AdminUser, SessionDep
from api.core.envelopes import CloudCoreError
from api.core.errors import ApiError
from api.core.pagination import PageDep, Pagination, pagination
from store.access.api_keys import (
    ApiKeyStatus,
    create_api_key,
    get_api_key,
    key_status,
    list_api_keys,
    numeric_id,
    revoke_api_key,
)
from store.access.users import Role
from store.audit import AuditEvent
from store.models import MAX_ROW_ID, ApiKey, utcnow
from workflows.contracts.common import PrintableText

logger = logging.getLogger(__name__)
router = APIRouter(prefix="/api/auth", tags=["api keys"])

MAX_DAYS = 3650
_ERRORS: dict[int | str, dict[str, object]] = {
    403: {"model": CloudCoreError, "description": "The admin role is needed"},
    404: {"model": CloudCoreError, "description": "No such API key"},
}


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: PrintableText = Field(min_length=1, max_length=100, description="What the key is for")
    role: Role = Role.VIEWER
    expires_at: AwareDatetime | None = Field(
        default=None, description=f"Default: never; at most {MAX_DAYS} days ahead"
    )
    expires_in_days: int | None = Field(default=None, ge=1, le=MAX_DAYS)

    @field_validator("expires_at")
    @classmethod
    def _within_range(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        try:  # 9999-12-31T23:00-12:00 is past year 9999 in UTC: no datetime holds it
            in_utc = value.astimezone(UTC)
        except OverflowError:
            raise ValueError(f"must be at most {MAX_DAYS} days ahead") from None
        if in_utc <= utcnow():
            raise ValueError("must be in the future")
        if in_utc > utcnow() + timedelta(days=MAX_DAYS):
            raise ValueError(f"must be at most {MAX_DAYS} days ahead")
        return in_utc

    @model_validator(mode="after")
    def _one_expiry(self) -> ApiKeyCreate:
        if self.expires_at is not None and self.expires_in_days is not None:
            raise ValueError("give expires_at or expires_in_days, not both")
        return self

    def expiry(self) -> datetime | None:
        if self.expires_in_days is not None:
            return utcnow() + timedelta(days=self.expires_in_days)
        return self.expires_at


class ApiKeyOut(BaseModel):
    id: int
    key_id: str = Field(description="Public part of the key, the start of the key itself")
    name: str
    role: str
    status: ApiKeyStatus
    created_by: str | None
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, row: ApiKey) -> ApiKeyOut:
        return cls(
            id=row.id,
            key_id=row.key_id,
            name=row.name,
            role=row.role,
            status=key_status(row),
            created_by=row.created_by,
            created_at=row.created_at,
            expires_at=row.expires_at,
            last_used_at=row.last_used_at,
            revoked_at=row.revoked_at,
        )


class ApiKeyCreated(BaseModel):
    status: Literal["success"] = "success"
    message: str
    key: str = Field(description="The API key. Shown only in this answer: store it now")
    api_key: ApiKeyOut


class ApiKeyList(BaseModel):
    count: int = Field(description="Keys in this page")
    api_keys: list[ApiKeyOut]
    pagination: Pagination


class Revoked(BaseModel):
    status: Literal["success"] = "success"
    message: str


@router.post("/api-keys", status_code=status.HTTP_201_CREATED, responses=_ERRORS)
async def create(
    body: ApiKeyCreate, request: Request, session: SessionDep, admin: AdminUser
) -> ApiKeyCreated:
    minted = await create_api_key(
        session, name=body.name, role=body.role, created_by=admin.username, expires_at=body.expiry()
    )
    logger.info("API key %s (%s) created by %s", minted.row.key_id, body.role, admin.username)
    await record_audit_event(
        request,
        session,
        event=AuditEvent.API_KEY_CREATED,
        target=f"api_key:{minted.row.key_id}",
        details={
            "key_id": minted.row.key_id,
            "name": minted.row.name,
            "role": minted.row.role,
            "expires_at": minted.row.expires_at,
        },
    )
    return ApiKeyCreated(
        message="API key created. Store it now: it cannot be shown again",
        key=minted.secret,
        api_key=ApiKeyOut.of(minted.row),
    )


@router.get("/api-keys", responses=_ERRORS)
async def list_all(session: SessionDep, page: PageDep, _admin: AdminUser) -> ApiKeyList:
    rows, total = await list_api_keys(session, offset=page.offset, limit=page.limit)
    return ApiKeyList(
        count=len(rows),
        api_keys=[ApiKeyOut.of(row) for row in rows],
        pagination=pagination(page, total=total),
    )


@router.delete("/api-keys/{key}", responses=_ERRORS)
async def revoke(
    key: Annotated[str, Path(max_length=64, description="The key's id, or its key_id")],
    request: Request,
    session: SessionDep,
    admin: AdminUser,
) -> Revoked:
    row = await _existing(session, key)
    if not revoke_api_key(row):
        return Revoked(message=f"API key {row.key_id} was already revoked")
    logger.info("API key %s revoked by %s", row.key_id, admin.username)
    await record_audit_event(
        request,
        session,
        event=AuditEvent.API_KEY_REVOKED,
        target=f"api_key:{row.key_id}",
        details={"key_id": row.key_id, "name": row.name, "role": row.role},
    )
    return Revoked(message=f"API key {row.key_id} revoked")


async def _existing(session: AsyncSession, ref: str) -> ApiKey:
    key_id = numeric_id(ref)
    if key_id is not None and not 1 <= key_id <= MAX_ROW_ID:
        raise ApiError(
            400,
            f"An API key id is between 1 and {MAX_ROW_ID}",
            details={"key": f"must be between 1 and {MAX_ROW_ID}, or a key_id"},
        )
    row = await get_api_key(session, ref=ref)
    if row is None:
        # A full key pasted here by mistake must not come back in the answer.
        raise ApiError(404, f"No API key {ref!r}" if len(ref) <= 16 else "No such API key")
    return row
