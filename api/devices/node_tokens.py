"""Edge API security tokens: JWTs that stand for one node, not for a user.

They are signed with a key of their own (derived from EDGEWRIGHT_SECRET_KEY for this one
purpose) and carry `kind: "node"`, so a node token can never pass as a login token and
the other way round. Each token is also stored (as its sha256) so it can be revoked, and
it dies with its node: removing the node revokes it, and a token whose node is gone is
refused even before that.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt
from sqlalchemy.ext.asyncio import AsyncSession

from store.devices import node_tokens
from store.models import NodeToken
from store.settings import Settings

KIND = "node"
ISSUER = "edgewright"
ALGORITHM = "HS256"
_PURPOSE = "edgewright/node-token/v1"
_LEEWAY = timedelta(seconds=10)
_REQUIRED = ["exp", "iat", "sub", "iss", "jti", "kind"]
_DURATION = re.compile(r"(\d{1,7})([smhd])")  # .fullmatch: `$` would allow a newline
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
MIN_LIFETIME = timedelta(minutes=1)
MAX_LIFETIME = timedelta(days=365)


class NodeTokenInvalid(Exception):
    """The token cannot be used; the message is safe to show the caller."""


@dataclass(frozen=True, kw_only=True)
class NodeTokenClaims:
    node_id: str
    token_id: str
    expires_at: datetime


def parse_lifetime(text: str) -> timedelta:
    """ "24h", "30m", "7d", "3600s" -> a timedelta within [1 minute, 365 days]."""
    match = _DURATION.fullmatch(text.strip())
    if match is None:
        raise ValueError('must be a number and a unit s, m, h or d, like "24h"')
    lifetime = timedelta(seconds=int(match[1]) * _UNITS[match[2]])
    if not MIN_LIFETIME <= lifetime <= MAX_LIFETIME:
        raise ValueError("must be between 1m and 365d")
    return lifetime


def mint(
    *, settings: Settings, node_id: str, token_id: str, issued_at: datetime, expires_at: datetime
) -> str:
    claims = {
        "sub": node_id,
        "kind": KIND,
        "jti": token_id,
        "iat": issued_at,
        "exp": expires_at,
        "iss": ISSUER,
    }
    return jwt.encode(claims, settings.derived_key(_PURPOSE), algorithm=ALGORITHM)


def looks_like_node_token(token: str) -> bool:
    """Cheap routing only (unverified): says which verifier to use, grants nothing."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return False
    return isinstance(claims, dict) and claims.get("kind") == KIND


def decode(*, settings: Settings, token: str, allow_expired: bool = False) -> NodeTokenClaims:
    """Verify signature, issuer and kind (and expiry unless `allow_expired`: revoking an
    expired token is harmless and lets a client clean up without special cases)."""
    try:
        claims = jwt.decode(
            token,
            settings.derived_key(_PURPOSE),
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            leeway=_LEEWAY,
            options={"require": _REQUIRED, "verify_exp": not allow_expired},
        )
    except jwt.ExpiredSignatureError as err:
        raise NodeTokenInvalid("Node token has expired") from err
    except jwt.PyJWTError as err:
        raise NodeTokenInvalid("Invalid node token") from err
    if claims.get("kind") != KIND:
        raise NodeTokenInvalid("Invalid node token")
    return NodeTokenClaims(
        node_id=str(claims["sub"]),
        token_id=str(claims["jti"]),
        expires_at=datetime.fromtimestamp(int(claims["exp"]), UTC),
    )


async def verify(
    session: AsyncSession, *, settings: Settings, token: str
) -> tuple[NodeTokenClaims, NodeToken]:
    """Signature, expiry, the stored row (not revoked) and the node itself (one read).

    Whoever holds verified claims may rely on the node having existed in this session's
    transaction: the metric POST reads it no second time."""
    claims = decode(settings=settings, token=token)
    found = await node_tokens.find_node_token_of_node(session, token=token, node_id=claims.node_id)
    if found is None or found[0].token_id != claims.token_id:
        raise NodeTokenInvalid("Unknown node token")
    row, node_exists = found
    if row.revoked_at is not None:
        raise NodeTokenInvalid("Node token has been revoked")
    if not node_exists:
        raise NodeTokenInvalid("The node of this token no longer exists")
    return claims, row
