"""Who is on the other end of a stream.

Browsers cannot put headers on an EventSource or a WebSocket, so besides the usual
`Authorization: Bearer` and `X-API-Key` headers a stream accepts the same credential as a
query parameter: `?token=<JWT or API key>` (or `?api_key=<key>`). The API's logs redact
those parameters (api.live.redact). Any role may watch.
"""

from __future__ import annotations

from starlette.requests import HTTPConnection

from api.core.authn import authenticate
from api.core.errors import ApiError
from api.core.principal import Principal
from api.core.state import app_sessions, app_settings


def _bearer(header: str | None) -> str | None:
    if header is None:
        return None
    scheme, _, value = header.partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None


async def stream_principal(conn: HTTPConnection) -> Principal:
    bearer = _bearer(conn.headers.get("authorization")) or conn.query_params.get("token")
    api_key = conn.headers.get("x-api-key") or conn.query_params.get("api_key")
    settings = app_settings(conn.app)
    async with app_sessions(conn.app)() as session, session.begin():
        principal = await authenticate(session, settings=settings, bearer=bearer, api_key=api_key)
    if principal.role_level is None:
        raise ApiError(403, f"The role {principal.role} may not watch events")
    return principal
