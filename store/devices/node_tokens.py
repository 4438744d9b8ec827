"""Edge API security tokens: one row per token, kept as its sha256, revocable."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from store.devices.tokens import token_hash
from store.models import Device, NodeToken


async def record_node_token(
    session: AsyncSession,
    *,
    token_id: str,
    token: str,
    node_id: str,
    expires_at: datetime,
    created_by: str | None,
    now: datetime,
) -> None:
    session.add(
        NodeToken(
            token_id=token_id,
            token_hash=token_hash(token),
            node_id=node_id,
            expires_at=expires_at,
            created_by=created_by,
            created_at=now,
        )
    )
    await session.flush()


async def find_node_token(session: AsyncSession, *, token: str) -> NodeToken | None:
    """The row of exactly this token: a forged token with a known jti finds nothing."""
    return await session.scalar(select(NodeToken).where(NodeToken.token_hash == token_hash(token)))


async def find_node_token_of_node(
    session: AsyncSession, *, token: str, node_id: str
) -> tuple[NodeToken, bool] | None:
    """The row of exactly this token and whether node `node_id` exists, in one statement:
    every request made with a node token needs both, and a node's metric POST, the
    busiest of them, then needs no other read before its sample is queued."""
    node_exists = select(Device.id).where(Device.node_id == node_id).exists().label("node")
    found = (
        await session.execute(
            select(NodeToken, node_exists).where(NodeToken.token_hash == token_hash(token))
        )
    ).one_or_none()
    if found is None:
        return None
    return found[0], bool(found[1])


async def revoke_node_token(session: AsyncSession, *, token_id: str, now: datetime) -> bool:
    """Revoke unless already revoked; True when this call changed something."""
    result = await session.execute(
        update(NodeToken)
        .where(NodeToken.token_id == token_id, NodeToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def revoke_tokens_of_node(session: AsyncSession, *, node_id: str, now: datetime) -> int:
    """Revoke every unexpired token of the node (expired ones cannot be used anyway)."""
    result = await session.execute(
        update(NodeToken)
        .where(
            NodeToken.node_id == node_id,
            NodeToken.revoked_at.is_(None),
            NodeToken.expires_at > now,
        )
        .values(revoked_at=now)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
