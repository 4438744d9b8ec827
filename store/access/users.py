"""Users, roles and password hashing (Argon2 via pwdlib).

Hashing takes a CPU for tens of milliseconds, so the async functions here hash in a worker
thread: on the event loop, a burst of logins would stall every other request.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from enum import StrEnum

from pwdlib import PasswordHash
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import User, new_user_uid

# Letters, digits, `. _ @ -`, starting with a letter or digit; at most 64 characters.
USERNAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$"

_hasher = PasswordHash.recommended()
# Verified against when the user does not exist, so a wrong username costs as much time
# as a wrong password and usernames cannot be probed by timing.
_DUMMY_HASH = _hasher.hash("edgewright-timing-equaliser")


class Role(StrEnum):
    """Viewer reads; operator provisions and runs commands; admin manages everything."""

    VIEWER = "viewer"
    OPERATOR = "operator"
    ADMIN = "admin"

    def allows(self, required: Role) -> bool:
        return _RANK[self] >= _RANK[required]


_RANK = {Role.VIEWER: 0, Role.OPERATOR: 1, Role.ADMIN: 2}


def is_valid_username(username: str) -> bool:
    return re.fullmatch(USERNAME_PATTERN, username) is not None


def hash_password(password: str) -> str:
    return _hasher.hash(password)


async def create_user(session: AsyncSession, *, username: str, password: str, role: Role) -> User:
    user = User(
        uid=new_user_uid(),
        username=username,
        password_hash=await asyncio.to_thread(hash_password, password),
        role=role.value,
    )
    session.add(user)
    await session.flush()
    return user


@dataclass(frozen=True, kw_only=True)
class LoginCheck:
    user: User | None
    # Why it failed, for the audit log only: the caller is told one message for all.
    reason: str | None = None


async def authenticate(session: AsyncSession, *, username: str, password: str) -> User | None:
    return (await check_login(session, username=username, password=password)).user


async def check_login(session: AsyncSession, *, username: str, password: str) -> LoginCheck:
    user = await session.scalar(select(User).where(User.username == username))
    if user is None or user.disabled:
        # The same hashing work either way, so timing tells no name from another.
        await asyncio.to_thread(_hasher.verify, password, _DUMMY_HASH)
        return LoginCheck(user=None, reason="unknown user" if user is None else "account disabled")
    valid, new_hash = await asyncio.to_thread(
        _hasher.verify_and_update, password, user.password_hash
    )
    if not valid:
        return LoginCheck(user=None, reason="wrong password")
    if new_hash is not None:  # parameters got stronger since this hash was made
        user.password_hash = new_hash
    return LoginCheck(user=user)


async def get_user(session: AsyncSession, *, user_id: int) -> User | None:
    return await session.get(User, user_id)


async def get_user_by_uid(session: AsyncSession, *, uid: str) -> User | None:
    return await session.scalar(select(User).where(User.uid == uid))


async def count_users(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(User)) or 0)


async def find_user_by_name(session: AsyncSession, *, username: str) -> User | None:
    """Case-insensitive, so "Alice" and "alice" cannot both exist and be confused."""
    return await session.scalar(
        select(User).where(func.lower(User.username) == username.lower()).limit(1)
    )


async def list_users(session: AsyncSession, *, offset: int, limit: int) -> tuple[list[User], int]:
    total = await count_users(session)
    rows = await session.scalars(select(User).order_by(User.id).offset(offset).limit(limit))
    return list(rows), total


async def count_active_admins(session: AsyncSession) -> int:
    query = select(func.count()).where(User.role == Role.ADMIN.value, User.disabled.is_(False))
    return int(await session.scalar(query) or 0)


async def delete_user(session: AsyncSession, *, user: User) -> None:
    await session.delete(user)
    await session.flush()
