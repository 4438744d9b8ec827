"""Recording security events from the API into the audit log (store.audit).

Two ways in, for every API feature:

- `record_audit_event(request, session, event=...)` appends in the request's own
  transaction, for a change the route makes in the store: the event exists exactly when
  the change committed.
- `defer_audit_event(request, event=...)` leaves the event to `AuditMiddleware`, which
  writes it in a transaction of its own when the answer starts: for what the request's
  transaction would roll back with (a failed login, a refused token) and for what
  happened outside the store (a restore started, a join token issued by a workflow).

The middleware also records every 403 answered. The actor is the authenticated caller
(`note_caller`, from `api.core.deps.current_user`); the source address is the request's
client: the peer, or the address uvicorn's `--proxy-headers` took from X-Forwarded-For
when the peer is in `--forwarded-allow-ips` (README), never the header on its own word.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import HTTPConnection, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.core.audit_slot import AuditSlot, DeferredEvent, audit_slot, install_slot
from api.core.principal import Principal
from api.core.state import app_state
from api.core.throttle import client_ip
from store.audit import AuditEvent, AuditOutcome, append_audit_event, dedupe_key

logger = logging.getLogger(__name__)


async def record_audit_event(
    request: Request,
    session: AsyncSession,
    *,
    event: AuditEvent,
    outcome: AuditOutcome = AuditOutcome.SUCCESS,
    target: str | None = None,
    details: Mapping[str, Any] | None = None,
    actor: str | None = None,
) -> None:
    """Append `event` in the request's transaction; `actor` defaults to the caller."""
    await append_audit_event(
        session,
        event=event,
        outcome=outcome,
        actor=actor if actor is not None else _caller(request),
        source_ip=client_ip(request),
        target=target,
        details=details,
    )


def defer_audit_event(
    request: HTTPConnection,
    *,
    event: AuditEvent,
    outcome: AuditOutcome = AuditOutcome.SUCCESS,
    target: str | None = None,
    details: Mapping[str, Any] | None = None,
    actor: str | None = None,
    dedupe: str | None = None,
) -> None:
    """Have `event` written in its own transaction as the answer starts, whatever it is."""
    slot = audit_slot(request.scope)
    if slot is None:
        return
    slot.deferred.append(
        DeferredEvent(
            event=event.value,
            outcome=outcome.value,
            actor=actor if actor is not None else slot.actor,
            target=target,
            details=dict(details or {}),
            dedupe=dedupe,
        )
    )


def defer_audit_event_once(
    request: HTTPConnection,
    *,
    event: AuditEvent,
    once_per: tuple[str, ...],
    outcome: AuditOutcome = AuditOutcome.SUCCESS,
    target: str | None = None,
    details: Mapping[str, Any] | None = None,
    actor: str | None = None,
) -> None:
    """`defer_audit_event`, at most once per `once_per` (e.g. a token id and a day) across
    replicas (a dedupe key in the store); a repeat on this replica costs no write at all."""
    key = dedupe_key(event.value, *once_per)
    if not app_state(request.app).audit_memo.first(key):
        return
    defer_audit_event(
        request,
        event=event,
        outcome=outcome,
        target=target,
        details=details,
        actor=actor,
        dedupe=key,
    )


def name_caller(request: Request, name: str) -> None:
    """The actor of this request's events from now on (a node token's `node:<id>`)."""
    slot = audit_slot(request.scope)
    if slot is not None:
        slot.actor = name


def note_caller(request: Request, principal: Principal) -> None:
    """The request is `principal`'s; a login token's first use per UTC day is recorded
    (a row per request would put a write on every request's path)."""
    slot = audit_slot(request.scope)
    if slot is None:
        return
    slot.actor = principal.username
    if principal.token is None:
        return  # API keys keep their own last_used_at (store.access.api_keys.note_use)
    jti = principal.token.jti
    day = datetime.now(UTC).date().isoformat()
    defer_audit_event_once(
        request,
        event=AuditEvent.TOKEN_USED,
        once_per=(jti, day),
        target=f"token:{jti}",
        details={"token_id": jti, "day": day},
    )


def note_refused(request: HTTPConnection, *, reason: str) -> None:
    """Credentials were refused: once per address and reason per minute, so a flood of
    bad tokens is a row a minute, not a write per request."""
    address = client_ip(request)
    defer_audit_event_once(
        request,
        event=AuditEvent.TOKEN_REFUSED,
        once_per=(address, reason, this_minute()),
        outcome=AuditOutcome.FAILURE,
        details={"reason": reason, "path": request.url.path},
    )


def this_minute() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M")


def _caller(request: Request) -> str | None:
    slot = audit_slot(request.scope)
    return slot.actor if slot is not None else None


class AuditMiddleware:
    """Writes a request's deferred events, and a 403's `access_denied`, as it answers.

    Only requests that have something to record write: the hot path pays a slot and a
    status check. A failed write is logged and the answer goes out regardless.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await self._websocket(scope, receive, send)
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        slot = install_slot(scope)

        async def send_recorded(message: Message) -> None:
            if message["type"] == "http.response.start":
                await _write(scope, slot, status=int(message["status"]))
            await send(message)

        await self.app(scope, receive, send_recorded)

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A WebSocket's events are written when its handshake is answered: accepted, or
        closed before it was (the client sees a 403; api.live.auth left the reason)."""
        slot = install_slot(scope)
        answered = False

        async def send_recorded(message: Message) -> None:
            nonlocal answered
            if not answered and message["type"] in ("websocket.accept", "websocket.close"):
                answered = True
                refused = message["type"] == "websocket.close" and slot.denial is not None
                await _write(scope, slot, status=403 if refused else 101)
            await send(message)

        await self.app(scope, receive, send_recorded)


async def _write(scope: Scope, slot: AuditSlot, *, status: int) -> None:
    events = list(slot.deferred)
    slot.deferred.clear()
    if status == 403:
        events.append(
            DeferredEvent(
                event=AuditEvent.ACCESS_DENIED.value,
                outcome=AuditOutcome.DENIED.value,
                actor=slot.actor,
                target=f"{scope.get('method', 'WEBSOCKET')} {scope['path']}",
                details={"reason": slot.denial} if slot.denial else {},
            )
        )
    if not events:
        return
    client = scope.get("client")
    source_ip = client[0] if client else "unknown"
    try:
        sessions = app_state(scope["app"]).sessions
        async with sessions() as session, session.begin():
            for deferred in events:
                await append_audit_event(
                    session,
                    event=AuditEvent(deferred.event),
                    outcome=AuditOutcome(deferred.outcome),
                    actor=deferred.actor,
                    source_ip=source_ip,
                    target=deferred.target,
                    details=deferred.details,
                    dedupe=deferred.dedupe,
                )
    except Exception:
        logger.exception("could not write %d audit events", len(events))
