"""Login tokens revoked before they expire (logout), by their `jti`.

A row is only needed until the token's own expiry: after that the signature check
refuses the token anyway. So the table stays as small as the number of tokens logged
out within one token lifetime, and expired rows are pruned whenever a logout writes.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import RevokedToken, User, utcnow
from store.upsert import upsert

# Tokens are accepted a little past `exp` (clock leeway between replicas); keep their
# revocation at least that long.
_KEEP_AFTER_EXPIRY = timedelta(minutes=5)


async def revoke_token(session: AsyncSession, *, jti: str, expires_at: datetime) -> None:
    """Idempotent: logging out twice with the same token is not an error."""
    await upsert(
        session,
        model=RevokedToken,
        values={"jti": jti, "expires_at": expires_at, "revoked_at": utcnow()},
        key="jti",
    )
    await prune_revoked_tokens(session)


async def is_token_revoked(session: AsyncSession, *, jti: str) -> bool:
    found = await session.scalar(select(RevokedToken.jti).where(RevokedToken.jti == jti))
    return found is not None


async def prune_revoked_tokens(session: AsyncSession, *, now: datetime | None = None) -> int:
    cutoff = (now or utcnow()) - _KEEP_AFTER_EXPIRY
    result = await session.execute(delete(RevokedToken).where(RevokedToken.expires_at < cutoff))
    return int(getattr(result, "rowcount", 0) or 0)


async def token_holder(session: AsyncSession, *, uid: str, jti: str) -> tuple[User | None, bool]:
    """The account a token names, and whether the token is revoked: one statement.

    Every authenticated request asks both; asked apart they were two of a page read's
    four round trips. The revocation rides on the user's row, so when there is no such
    account it is asked on its own (a refused request, rare, may cost the second trip).
    """
    revoked = select(RevokedToken.jti).where(RevokedToken.jti == jti).exists()
    row = (await session.execute(select(User, revoked).where(User.uid == uid))).first()
    if row is None:
        return None, await is_token_revoked(session, jti=jti)
    return row[0], bool(row[1])
