"""Who is on the other end of a stream, and whether they still may be.

Browsers cannot put headers on an EventSource or a WebSocket, so besides the usual
`Authorization: Bearer` and `X-API-Key` headers a stream accepts the same credential as a
query parameter: `?token=<JWT or API key>` (or `?api_key=<key>`). The API's logs redact
those parameters (api.live.redact). Any role may watch.

A stream outlives the request that opened it, so its `StreamGuard` re-checks the same
credentials every `live_recheck_seconds` (a logout, a deleted or disabled account or a
revoked key ends the stream) and ends it when the token or key expires.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime

from starlette.applications import Starlette
from starlette.requests import HTTPConnection

from api.core.audit import note_refused
from api.core.audit_slot import audit_slot
from api.core.authn import authenticate
from api.core.errors import ApiError
from api.core.principal import Principal
from api.core.state import app_sessions, app_settings


def _bearer(header: str | None) -> str | None:
    if header is None:
        return None
    scheme, _, value = header.partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None


@dataclass(frozen=True, kw_only=True)
class StreamGuard:
    app: Starlette
    principal: Principal
    bearer: str | None
    api_key: str | None

    def seconds_to_next_check(self) -> float:
        """Until the next re-check, or the expiry if that comes first."""
        wait = app_settings(self.app).live_recheck_seconds
        if self.principal.expires_at is not None:
            left = (self.principal.expires_at - datetime.now(UTC)).total_seconds()
            wait = min(wait, max(left, 0.0))
        return wait

    async def still_allowed(self) -> bool:
        expires_at = self.principal.expires_at
        if expires_at is not None and expires_at <= datetime.now(UTC):
            return False
        try:
            await _check(self.app, bearer=self.bearer, api_key=self.api_key)
        except ApiError:
            return False
        return True

    async def wait_until_revoked(self) -> None:
        """Returns once the caller may no longer watch."""
        while True:
            await asyncio.sleep(self.seconds_to_next_check())
            if not await self.still_allowed():
                return


async def _check(app: Starlette, *, bearer: str | None, api_key: str | None) -> Principal:
    settings = app_settings(app)
    async with app_sessions(app)() as session, session.begin():
        principal = await authenticate(session, settings=settings, bearer=bearer, api_key=api_key)
    if principal.role_level is None:
        raise ApiError(403, f"The role {principal.role} may not watch events")
    return principal


async def stream_guard(conn: HTTPConnection) -> StreamGuard:
    bearer = _bearer(conn.headers.get("authorization")) or conn.query_params.get("token")
    api_key = conn.headers.get("x-api-key") or conn.query_params.get("api_key")
    try:
        principal = await _check(conn.app, bearer=bearer, api_key=api_key)
    except ApiError as err:
        _note_refusal(conn, err, presented=bearer is not None or api_key is not None)
        raise
    return StreamGuard(app=conn.app, principal=principal, bearer=bearer, api_key=api_key)


def _note_refusal(conn: HTTPConnection, err: ApiError, *, presented: bool) -> None:
    """The audit log sees a refused stream as it sees a refused request: bad credentials
    once per address and minute (none at all is no refusal), a role that may not watch
    as a 403 (api.core.audit writes both when the answer or the handshake goes out)."""
    if err.status_code == 403:
        slot = audit_slot(conn.scope)
        if slot is not None:
            slot.denial = err.message
    elif presented:
        note_refused(conn, reason=err.message)
