"""Per-node join tokens, kept as sha256 hashes with their node, device and expiry."""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import JoinToken, utcnow
from store.upsert import upsert


def token_hash(token: str) -> str:
    # Join tokens carry 256 bits of HMAC output, so a plain sha256 cannot be brute-forced.
    return hashlib.sha256(token.encode()).hexdigest()


async def record_token(
    session: AsyncSession,
    *,
    token_id: str,
    token: str,
    node_name: str,
    device_id: str | None,
    expires_at: datetime,
    description: str | None = None,
) -> None:
    """Idempotent on token_id: a retried issue records the same token once."""
    values = {
        "token_id": token_id,
        "token_hash": token_hash(token),
        "node_name": node_name,
        "device_id": device_id,
        "expires_at": expires_at,
        "description": description,
        "created_at": utcnow(),
    }
    await upsert(session, model=JoinToken, values=values, key="token_id")


async def get_token(session: AsyncSession, *, token_id: str) -> JoinToken | None:
    return await session.scalar(select(JoinToken).where(JoinToken.token_id == token_id))


async def find_by_token(session: AsyncSession, *, token: str) -> JoinToken | None:
    return await session.scalar(select(JoinToken).where(JoinToken.token_hash == token_hash(token)))


async def revoke_token(session: AsyncSession, *, token_id: str) -> bool:
    """Revoke unless already revoked; True when this call changed something."""
    result = await session.execute(
        update(JoinToken)
        .where(JoinToken.token_id == token_id, JoinToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def mark_used(session: AsyncSession, *, token_id: str) -> bool:
    result = await session.execute(
        update(JoinToken)
        .where(JoinToken.token_id == token_id, JoinToken.used_at.is_(None))
        .values(used_at=utcnow())
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]
