"""User accounts: `/api/auth/users` for admins, and `GET /api/auth/me` for everyone.

Neither seed names these endpoints; they answer in the CloudCore style (`status`,
`message`, lists with `count`) because they live under `/api/auth`.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Request, status
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationInfo, field_validator
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from api.core.audit import record_audit_event
from api.core.deps import AdminUser, CurrentUser, SessionDep
from api.core.envelopes import CloudCoreError
from api.core.errors import ApiError
from api.core.pagination import PageDep, Pagination, pagination
from api.core.principal import PrincipalKind
from api.core.state import app_state
from store.access.passwords import MAX_LENGTH, password_problem
from store.access.users import (
    USERNAME_PATTERN,
    Role,
    count_active_admins,
    create_user,
    delete_user,
    find_user_by_name,
    get_user,
    list_users,
)
from store.audit import AuditEvent
from store.models import MAX_ROW_ID, User

logger = logging.getLogger(__name__)
router = APIRouter(prefix="/api/auth", tags=["users"])

UserIdPath = Annotated[int, Path(ge=1, le=MAX_ROW_ID, description="The user's id")]
_ERRORS: dict[int | str, dict[str, object]] = {
    403: {"model": CloudCoreError, "description": "The admin role is needed"},
    404: {"model": CloudCoreError, "description": "No such user"},
    409: {"model": CloudCoreError, "description": "Conflicts with existing users"},
}


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(pattern=USERNAME_PATTERN, description="Letters, digits, . _ @ -")
    password: SecretStr = Field(max_length=MAX_LENGTH, description="At least 12 characters")
    role: Role = Role.VIEWER

    @field_validator("password")
    @classmethod
    def _strong_enough(cls, value: SecretStr, info: ValidationInfo) -> SecretStr:
        problem = password_problem(value.get_secret_value(), username=info.data.get("username", ""))
        if problem is not None:
            raise ValueError(f"password {problem}")
        return value


class UserOut(BaseModel):
    id: int
    username: str
    role: str
    disabled: bool
    created_at: datetime

    @classmethod
    def of(cls, user: User) -> UserOut:
        return cls(
            id=user.id,
            username=user.username,
            role=user.role,
            disabled=user.disabled,
            created_at=user.created_at,
        )


class UserCreated(BaseModel):
    status: Literal["success"] = "success"
    message: str
    user: UserOut


class UserList(BaseModel):
    count: int = Field(description="Users in this page")
    users: list[UserOut]
    pagination: Pagination


class Done(BaseModel):
    status: Literal["success"] = "success"
    message: str


class Me(BaseModel):
    kind: PrincipalKind = Field(description='"user" (logged in) or "api_key"')
    id: int = Field(description="User id, or API key id when kind is api_key")
    username: str
    role: str
    expires_at: datetime | None = Field(description="When this token or key stops working")


@router.get("/me")
async def me(principal: CurrentUser) -> Me:
    return Me(
        kind=principal.kind,
        id=principal.id,
        username=principal.username,
        role=principal.role,
        expires_at=principal.expires_at,
    )


@router.post("/users", status_code=status.HTTP_201_CREATED, responses=_ERRORS)
async def create(
    body: UserCreate, request: Request, session: SessionDep, admin: AdminUser
) -> UserCreated:
    if await find_user_by_name(session, username=body.username) is not None:
        raise ApiError(409, f"User {body.username!r} already exists")
    try:
        user = await create_user(
            session,
            username=body.username,
            password=body.password.get_secret_value(),
            role=body.role,
        )
    except IntegrityError as err:  # created by a concurrent request since the check
        raise ApiError(409, f"User {body.username!r} already exists") from err
    logger.info("user %s (%s) created by %s", user.username, user.role, admin.username)
    await record_audit_event(
        request,
        session,
        event=AuditEvent.USER_CREATED,
        target=f"user:{user.username}",
        details={"user_id": user.id, "role": user.role},
    )
    return UserCreated(message=f"User {user.username} created", user=UserOut.of(user))


@router.get("/users", responses=_ERRORS)
async def list_all(session: SessionDep, page: PageDep, _admin: AdminUser) -> UserList:
    rows, total = await list_users(session, offset=page.offset, limit=page.limit)
    return UserList(
        count=len(rows),
        users=[UserOut.of(row) for row in rows],
        pagination=pagination(page, total=total),
    )


@router.get("/users/{user_id}", responses=_ERRORS)
async def get_one(user_id: UserIdPath, session: SessionDep, principal: CurrentUser) -> UserOut:
    held = principal.role_level
    if principal.user_id != user_id and (held is None or not held.allows(Role.ADMIN)):
        raise ApiError(
            403,
            "Only admins may read other users",
            details={"required_role": Role.ADMIN.value, "role": principal.role},
        )
    return UserOut.of(await _existing(session, user_id))


@router.delete("/users/{user_id}", responses=_ERRORS)
async def delete(
    user_id: UserIdPath, request: Request, session: SessionDep, admin: AdminUser
) -> Done:
    user = await _existing(session, user_id)
    if admin.user_id == user_id:
        raise ApiError(409, "You cannot delete your own account")
    active_admin = user.role == Role.ADMIN.value and not user.disabled
    if active_admin and await count_active_admins(session) <= 1:
        raise ApiError(409, "This is the last admin; create another admin first")
    await delete_user(session, user=user)
    app_state(request.app).callers.clear()  # its tokens refused here at once
    logger.info("user %s deleted by %s", user.username, admin.username)
    await record_audit_event(
        request,
        session,
        event=AuditEvent.USER_DELETED,
        target=f"user:{user.username}",
        details={"user_id": user_id, "role": user.role},
    )
    return Done(message=f"User {user.username} deleted")


async def _existing(session: AsyncSession, user_id: int) -> User:
    user = await get_user(session, user_id=user_id)
    if user is None:
        raise ApiError(404, f"No user with id {user_id}")
    return user
