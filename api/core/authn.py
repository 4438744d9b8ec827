"""Turn the credentials of a request into a Principal, or a 401.

Two kinds of credentials are accepted on every protected route: a login JWT
(`Authorization: Bearer <jwt>`) and an API key (`X-API-Key: <key>`; also accepted as
`Authorization: Bearer <key>`, for clients that only know bearer tokens). Every check
re-reads the store, so a deleted user, a logged-out token or a revoked key stops working
with the next request; except that a caller may pass a CallerCache, which reuses a login
token's store check for a couple of seconds (api.core.caller_cache says how stale it gets).
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from api.core.auth import TokenClaims, TokenError, decode_token
from api.core.caller_cache import CallerCache
from api.core.errors import ApiError
from api.core.principal import Principal
from store.access.api_keys import (
    ApiKeyStatus,
    find_api_key,
    key_status,
    looks_like_api_key,
    note_use,
)
from store.access.revoked_tokens import token_holder
from store.settings import Settings

_CHALLENGE = {"WWW-Authenticate": "Bearer"}
_INVALID = {"WWW-Authenticate": 'Bearer error="invalid_token"'}


async def authenticate(
    session: AsyncSession,
    *,
    settings: Settings,
    bearer: str | None,
    api_key: str | None,
    callers: CallerCache | None = None,
) -> Principal:
    if bearer is not None and api_key is not None:
        # Two identities in one request: refuse rather than guess which role applies.
        raise ApiError(
            401, "Send either a bearer token or an X-API-Key header, not both", headers=_CHALLENGE
        )
    if api_key is not None:
        return await _by_api_key(session, secret=api_key)
    if bearer is None:
        raise ApiError(401, "Missing bearer token", headers=_CHALLENGE)
    if looks_like_api_key(bearer):
        return await _by_api_key(session, secret=bearer)
    return await _by_token(session, settings=settings, token=bearer, callers=callers)


async def _by_token(
    session: AsyncSession, *, settings: Settings, token: str, callers: CallerCache | None
) -> Principal:
    try:
        claims = decode_token(settings=settings, token=token)  # expiry always (api.core.auth)
    except TokenError as err:
        raise ApiError(401, str(err), headers=_INVALID) from err
    if callers is None:
        return await _token_holder(session, claims=claims)
    key = (claims.user_uid, claims.jti, claims.username)
    cached = callers.get(key)
    if cached is not None:
        return cached
    generation = callers.generation
    principal = await _token_holder(session, claims=claims)
    callers.put(key, principal, generation=generation)
    return principal


async def _token_holder(session: AsyncSession, *, claims: TokenClaims) -> Principal:
    user, revoked = await token_holder(session, uid=claims.user_uid, jti=claims.jti)
    if revoked:
        raise ApiError(401, "Token has been revoked (logged out); log in again", headers=_INVALID)
    # The username must match too: the token was issued to that account under that name.
    if user is None or user.disabled or user.username != claims.username:
        raise ApiError(401, "The account behind this token is gone or disabled", headers=_INVALID)
    return Principal.for_user(user, token=claims)


async def _by_api_key(session: AsyncSession, *, secret: str) -> Principal:
    row = await find_api_key(session, secret=secret)
    if row is None:
        raise ApiError(401, "Invalid API key", headers=_INVALID)
    status = key_status(row)
    if status is not ApiKeyStatus.ACTIVE:
        raise ApiError(401, f"API key {row.key_id} is {status.value}", headers=_INVALID)
    await note_use(session, row)
    return Principal.for_api_key(row)
