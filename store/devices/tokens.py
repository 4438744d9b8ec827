"""Per-node join tokens, kept as sha256 hashes with their node, device and expiry."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import ColumnElement, and_, func, or_, select, update
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


# --- inventory views ------------------------------------------------------------------


_BATCH = 1000  # bound parameters per statement, well below every backend's limit
_CONDITION_RESOLUTION = timedelta(seconds=1)


class TokenStatus(StrEnum):
    ACTIVE = "active"
    EXPIRED = "expired"
    REVOKED = "revoked"
    USED = "used"


def token_status(row: JoinToken, *, now: datetime) -> TokenStatus:
    """Revoked wins over used, used over expired: the most deliberate fact is shown."""
    if row.revoked_at is not None:
        return TokenStatus.REVOKED
    if row.used_at is not None:
        return TokenStatus.USED
    if row.expires_at <= now:
        return TokenStatus.EXPIRED
    return TokenStatus.ACTIVE


def _with_status(status: TokenStatus, *, now: datetime) -> ColumnElement[bool]:
    """The SQL condition matching `token_status(row) == status`."""
    unrevoked, unused = JoinToken.revoked_at.is_(None), JoinToken.used_at.is_(None)
    if status is TokenStatus.REVOKED:
        return JoinToken.revoked_at.is_not(None)
    if status is TokenStatus.USED:
        return and_(unrevoked, JoinToken.used_at.is_not(None))
    if status is TokenStatus.EXPIRED:
        return and_(unrevoked, unused, JoinToken.expires_at <= now)
    return and_(unrevoked, unused, JoinToken.expires_at > now)


async def list_tokens(
    session: AsyncSession,
    *,
    offset: int,
    limit: int,
    now: datetime,
    status: TokenStatus | None = None,
    node_name: str | None = None,
) -> tuple[Sequence[JoinToken], int]:
    """Newest first, and the total matching the filters."""
    conditions: list[ColumnElement[bool]] = []
    if status is not None:
        conditions.append(_with_status(status, now=now))
    if node_name is not None:
        conditions.append(JoinToken.node_name == node_name)
    page = (
        select(JoinToken)
        .where(*conditions)
        .order_by(JoinToken.created_at.desc(), JoinToken.id.desc())
        .offset(offset)
        .limit(limit)
    )
    total = select(func.count()).select_from(JoinToken).where(*conditions)
    return (await session.scalars(page)).all(), int(await session.scalar(total) or 0)


async def revoke_active(
    session: AsyncSession, *, now: datetime, node_name: str, device_id: str | None = None
) -> int:
    """Revoke every active token of the node (and of the device, when given); how many."""
    owner = JoinToken.node_name == node_name
    if device_id is not None:
        owner = or_(owner, JoinToken.device_id == device_id)
    result = await session.execute(
        update(JoinToken)
        .where(owner, _with_status(TokenStatus.ACTIVE, now=now))
        .values(revoked_at=now)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def use_up_tokens(
    session: AsyncSession, *, now: datetime, ready_since: Sequence[tuple[str, datetime]]
) -> int:
    """A node that turned Ready has joined: its tokens issued before that are used up.

    `ready_since` pairs a node name with the time its Ready condition last turned True.
    Tokens issued later stay active: they are for the node's next registration. Active
    tokens are few (one per pending join or generated token), so they are read and
    matched here rather than by a statement per ready node.
    """
    since = dict(ready_since)
    if not since:
        return 0
    active = _with_status(TokenStatus.ACTIVE, now=now)
    rows = await session.execute(
        select(JoinToken.token_id, JoinToken.node_name, JoinToken.created_at).where(active)
    )
    # Kubernetes writes condition times in whole seconds: a token issued in the second the
    # node turned Ready counts as issued before it.
    used = [
        token_id
        for token_id, node_name, created_at in rows
        if node_name in since and created_at < since[node_name] + _CONDITION_RESOLUTION
    ]
    for start in range(0, len(used), _BATCH):
        await session.execute(
            update(JoinToken)
            .where(JoinToken.token_id.in_(used[start : start + _BATCH]), active)
            .values(used_at=now)
        )
    return len(used)
