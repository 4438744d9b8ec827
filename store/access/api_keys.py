"""API keys: minted here, shown to the caller once, kept only as a sha256.

A key reads `ewk_<12 hex>_<43 urlsafe chars>`. The first two parts are its public id
(`key_id`: shown in listings and logs, used to find the row); the rest is 256 random
bits. A plain sha256 is enough for that much entropy (there is nothing to brute-force),
and unlike a slow password hash it costs nothing per request.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from store.access.users import Role
from store.models import MAX_ROW_ID, ApiKey, utcnow

KEY_PREFIX = "ewk_"
_ID_HEX_CHARS = 12
_SECRET_BYTES = 32


class ApiKeyStatus(StrEnum):
    ACTIVE = "active"
    EXPIRED = "expired"
    REVOKED = "revoked"


@dataclass(frozen=True, kw_only=True)
class MintedKey:
    row: ApiKey
    secret: str  # the whole key; exists only in the creation answer


def looks_like_api_key(value: str) -> bool:
    return value.startswith(KEY_PREFIX)


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _split(secret: str) -> str | None:
    """The key_id of a well-formed key, else None."""
    if not looks_like_api_key(secret):
        return None
    key_id, sep, rest = secret.partition("_")[2].partition("_")
    if not sep or len(key_id) != _ID_HEX_CHARS or not rest:
        return None
    return KEY_PREFIX + key_id


def key_status(row: ApiKey, *, now: datetime | None = None) -> ApiKeyStatus:
    if row.revoked_at is not None:
        return ApiKeyStatus.REVOKED
    if row.expires_at is not None and row.expires_at <= (now or utcnow()):
        return ApiKeyStatus.EXPIRED
    return ApiKeyStatus.ACTIVE


async def create_api_key(
    session: AsyncSession,
    *,
    name: str,
    role: Role,
    created_by: str | None,
    expires_at: datetime | None,
) -> MintedKey:
    key_id = KEY_PREFIX + secrets.token_hex(_ID_HEX_CHARS // 2)
    secret = f"{key_id}_{secrets.token_urlsafe(_SECRET_BYTES)}"
    row = ApiKey(
        key_id=key_id,
        key_hash=_hash(secret),
        name=name,
        role=role.value,
        created_by=created_by,
        expires_at=expires_at,
    )
    session.add(row)
    await session.flush()
    return MintedKey(row=row, secret=secret)


async def find_api_key(session: AsyncSession, *, secret: str) -> ApiKey | None:
    """The key row whose secret this is, whatever its status; None for a wrong secret."""
    key_id = _split(secret)
    if key_id is None:
        return None
    row = await session.scalar(select(ApiKey).where(ApiKey.key_id == key_id))
    # Constant-time: a timing difference must not tell how much of a guess was right.
    if row is None or not hmac.compare_digest(row.key_hash, _hash(secret)):
        return None
    return row


async def get_api_key(session: AsyncSession, *, ref: str) -> ApiKey | None:
    """By numeric id or by public key_id, whichever the caller has at hand."""
    key_id = numeric_id(ref)
    if key_id is not None:
        return await session.get(ApiKey, key_id) if key_id <= MAX_ROW_ID else None
    return await session.scalar(select(ApiKey).where(ApiKey.key_id == ref))


def numeric_id(ref: str) -> int | None:
    """`ref` as a row id when it is one: ASCII digits only (`str.isdigit` takes '²')."""
    return int(ref) if ref.isascii() and ref.isdigit() else None


async def list_api_keys(
    session: AsyncSession, *, offset: int, limit: int
) -> tuple[list[ApiKey], int]:
    total = await session.scalar(select(func.count()).select_from(ApiKey))
    rows = await session.scalars(select(ApiKey).order_by(ApiKey.id).offset(offset).limit(limit))
    return list(rows), int(total or 0)


def revoke_api_key(row: ApiKey) -> bool:
    """Mark revoked; False when it already was (revoking twice changes nothing)."""
    if row.revoked_at is not None:
        return False
    row.revoked_at = utcnow()
    return True


async def note_use(session: AsyncSession, row: ApiKey, *, every_seconds: float = 60.0) -> None:
    """Record that the key was used, at most once a minute: a write per request would
    serialise every request of a busy key on the store.

    The write is a short transaction of its own: inside the request's transaction it
    would hold SQLite's write lock for the whole request (a join or a command waiting
    on Temporal) and stall the worker's writes meanwhile.
    """
    now = utcnow()
    if row.last_used_at is not None and (now - row.last_used_at).total_seconds() < every_seconds:
        return
    async with AsyncSession(session.bind) as own, own.begin():
        await own.execute(update(ApiKey).where(ApiKey.id == row.id).values(last_used_at=now))
