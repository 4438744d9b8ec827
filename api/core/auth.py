"""Login tokens: HS256 JWTs signed with a key derived from EDGEWRIGHT_SECRET_KEY.

Tokens are stateless; what they grant is re-checked against the store on every request
(the user must still exist and be enabled, and the stored role wins over the one in the
token), so disabling a user or changing a role takes effect at once. A token names its
account by `users.uid`, random and never reused, together with the username: a deleted
account's token can never come to stand for another account.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache

import jwt

from store.models import User
from store.settings import Settings

ISSUER = "edgewright"
ALGORITHM = "HS256"
# Several API replicas never agree on the time to the second.
_LEEWAY = timedelta(seconds=10)
_REQUIRED = ["exp", "iat", "sub", "iss", "jti", "username"]
# Token strings whose signature this process verified, newest kept (a few hundred bytes
# each, under 1 MB in all): more than the callers of a few minutes.
VERIFIED_TOKENS = 1024


class TokenError(Exception):
    """The bearer token cannot be used; the message is safe to show the caller."""


class TokenExpired(TokenError):
    pass


@dataclass(frozen=True, kw_only=True)
class IssuedToken:
    token: str
    jti: str  # the token's id: safe to log, it grants nothing on its own
    expires_at: datetime
    expires_in: int  # seconds


@dataclass(frozen=True, kw_only=True)
class TokenClaims:
    user_uid: str
    username: str
    role: str
    jti: str
    expires_at: datetime


def issue_token(*, settings: Settings, user: User, now: datetime | None = None) -> IssuedToken:
    issued_at = (now or datetime.now(UTC)).replace(microsecond=0)
    jti = secrets.token_urlsafe(16)
    lifetime = timedelta(minutes=settings.jwt_ttl_minutes)
    expires_at = issued_at + lifetime
    claims = {
        "sub": user.uid,
        "username": user.username,
        "role": user.role,
        "iat": issued_at,
        "exp": expires_at,
        "jti": jti,
        "iss": ISSUER,
    }
    token = jwt.encode(claims, settings.jwt_key, algorithm=ALGORITHM)
    return IssuedToken(
        token=token, jti=jti, expires_at=expires_at, expires_in=int(lifetime.total_seconds())
    )


def decode_token(*, settings: Settings, token: str, now: datetime | None = None) -> TokenClaims:
    """The claims of a token signed with this API's key, not expired at `now`; else
    TokenError (TokenExpired once past its expiry and the leeway).

    The signature of a token string is verified once per process: the same bytes under
    the same key verify the same way every time, so a token seen before is looked up
    (`_verified`), and only its expiry is checked again. Verifying it (PyJWT) was the
    largest part of authenticating a request that the caller cache answers.
    """
    claims = _verified(settings.jwt_key, token)
    moment = now or datetime.now(UTC)
    if claims.expires_at <= moment - _LEEWAY:  # PyJWT's test, with the same leeway
        raise TokenExpired("Token has expired; log in again")
    return claims


@lru_cache(maxsize=VERIFIED_TOKENS)
def _verified(key: bytes, token: str) -> TokenClaims:
    # A refused token raises, and lru_cache keeps no exception: it is checked every time.
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],  # pinned: never let the token pick its algorithm
            issuer=ISSUER,
            leeway=_LEEWAY,
            options={"require": _REQUIRED},
        )
    except jwt.ExpiredSignatureError as err:
        raise TokenExpired("Token has expired; log in again") from err
    except jwt.PyJWTError as err:
        raise TokenError("Invalid token") from err
    try:
        return TokenClaims(
            user_uid=str(claims["sub"]),
            username=str(claims["username"]),
            role=str(claims.get("role", "")),
            jti=str(claims["jti"]),
            expires_at=datetime.fromtimestamp(int(claims["exp"]), UTC),
        )
    except (TypeError, ValueError) as err:
        raise TokenError("Invalid token") from err
