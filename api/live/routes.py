"""Live events: `GET /api/kubeedge/monitor/stream` (SSE) and the `/ws` WebSocket.

Both serve the bus events this replica receives (api.live). Authentication: the usual
headers, or `?token=` for browsers (api.live.auth), re-checked while the stream is open; a
caller whose credentials stop working, or expire, is disconnected. Each caller may hold
`live_max_streams_per_caller` streams. A slow client loses its own oldest events, and is
told how many (`events_dropped`); it never holds up anyone else.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, WebSocket, WebSocketDisconnect
from sse_starlette import EventSourceResponse, ServerSentEvent

from api.core.envelopes import CloudCoreError
from api.core.errors import ApiError
from api.live.auth import StreamGuard, stream_guard
from api.live.hub import EventHub, Subscriber, TooManyClients, TooManyStreams
from api.live.shapes import UnknownTopic, event_types, known_topics, websocket_message
from api.live.state import live, live_events

# Clients that cannot take an event for this long are disconnected.
SEND_TIMEOUT_SECONDS = 30.0
PING_SECONDS = 15


router = APIRouter(tags=["live events"], lifespan=live_events)
StreamUser = Annotated[StreamGuard, Depends(stream_guard)]
_ERROR = {"model": CloudCoreError}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _dropped_notice(count: int) -> dict[str, Any]:
    return {"event": "events_dropped", "count": count, "timestamp": _now()}


@router.get(
    "/api/kubeedge/monitor/stream",
    response_class=EventSourceResponse,
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "SSE stream"},
        400: {**_ERROR, "description": "Unknown event type or topic"},
        401: {**_ERROR, "description": "Missing or invalid credentials"},
        403: {**_ERROR, "description": "The caller's role may not watch"},
        429: {**_ERROR, "description": "The caller has its maximum of streams open"},
        503: {**_ERROR, "description": "Too many live clients on this replica"},
    },
)
async def monitor_stream(
    request: Request,
    guard: StreamUser,
    events: Annotated[
        str | None, Query(description="Comma-separated event types or topics; default all")
    ] = None,
    device_id: Annotated[str | None, Query(max_length=63)] = None,
    token: Annotated[
        str | None, Query(description="JWT or API key, for clients that cannot send headers")
    ] = None,
) -> EventSourceResponse:
    try:
        wanted = event_types(events.split(",")) if events else None
    except UnknownTopic as err:
        raise ApiError(
            400, f"Unknown event type or topic {err}", details={"events": known_topics()}
        ) from err
    hub = live(request.app).hub
    if hub.full:
        raise ApiError(503, "Too many live clients on this replica", headers={"Retry-After": "5"})
    caller = guard.principal.rate_limit_key
    if hub.caller_full(caller):
        raise ApiError(429, "Too many open streams for this caller; close one first")

    def accepts(event: dict[str, Any]) -> bool:
        if wanted is not None and event.get("event") not in wanted:
            return False
        return device_id is None or event.get("device_id") == device_id

    return EventSourceResponse(
        _sse(hub, accepts, guard=guard, caller=caller),
        ping=PING_SECONDS,
        send_timeout=SEND_TIMEOUT_SECONDS,
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


async def _sse(
    hub: EventHub, accepts: Any, *, guard: StreamGuard, caller: str
) -> AsyncIterator[ServerSentEvent]:
    try:
        with hub.subscribe(accepts, caller=caller) as subscriber:
            # A comment line: invisible to EventSource, tells a client it is subscribed.
            yield ServerSentEvent(comment="subscribed")
            for number in itertools.count(1):
                try:
                    async with asyncio.timeout(guard.seconds_to_next_check()):
                        event = await subscriber.next()
                except TimeoutError:
                    if await guard.still_allowed():
                        continue
                    yield ServerSentEvent(event="revoked", data=json.dumps(_revoked()))
                    return
                dropped = subscriber.take_dropped()
                if dropped:
                    yield ServerSentEvent(data=json.dumps(_dropped_notice(dropped)))
                yield ServerSentEvent(data=json.dumps(event, default=str), id=str(number))
    except (TooManyClients, TooManyStreams):
        return


def _revoked() -> dict[str, Any]:
    return {"event": "revoked", "reason": "credentials expired or revoked", "timestamp": _now()}


ws_router = APIRouter(tags=["live events"])


@ws_router.websocket("/ws")
async def websocket(ws: WebSocket) -> None:
    """Send `{"action": "subscribe", "topics": [...]}`; events follow as `{"type": ...}`."""
    try:
        guard = await stream_guard(ws)
    except ApiError as err:
        # Refused before the handshake completes: the client sees HTTP 403.
        await ws.close(code=1008, reason=err.message[:120])
        return
    hub = live(ws.app).hub
    if hub.full:
        await ws.close(code=1013, reason="too many live clients, retry later")
        return
    caller = guard.principal.rate_limit_key
    if hub.caller_full(caller):
        await ws.close(code=1008, reason="too many open streams for this caller")
        return
    wanted: set[str] = set()
    with hub.subscribe(lambda event: event.get("event") in wanted, caller=caller) as subscriber:
        await ws.accept()
        welcome = {"type": "welcome", "user": guard.principal.username, "topics": known_topics()}
        await ws.send_json(welcome)
        sender = asyncio.create_task(_send_events(ws, subscriber))
        receiver = asyncio.create_task(_receive_orders(ws, wanted))
        watcher = asyncio.create_task(guard.wait_until_revoked())
        tasks = (sender, receiver, watcher)
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        if watcher.done() and not watcher.cancelled() and watcher.exception() is None:
            with contextlib.suppress(Exception):
                await ws.close(code=1008, reason="credentials expired or revoked")


async def _receive_orders(ws: WebSocket, wanted: set[str]) -> None:
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            text = await ws.receive_text()
            try:
                order = json.loads(text)
                action = order.get("action") if isinstance(order, dict) else None
                topics = order.get("topics", []) if isinstance(order, dict) else []
                if not isinstance(topics, list):
                    raise ValueError("topics must be a list")
                types = event_types(str(topic) for topic in topics)
            except (ValueError, UnknownTopic) as err:
                await ws.send_json({"type": "error", "message": f"bad message: {err}"})
                continue
            if action == "subscribe":
                wanted |= types
                await ws.send_json(
                    {"type": "subscribed", "topics": topics, "events": sorted(wanted)}
                )
            elif action == "unsubscribe":
                wanted -= types
                await ws.send_json(
                    {"type": "unsubscribed", "topics": topics, "events": sorted(wanted)}
                )
            elif action == "ping":
                await ws.send_json({"type": "pong", "timestamp": _now()})
            else:
                await ws.send_json({"type": "error", "message": f"unknown action {action!r}"})


async def _send_events(ws: WebSocket, subscriber: Subscriber) -> None:
    while True:
        event = await subscriber.next()
        dropped = subscriber.take_dropped()
        try:
            async with asyncio.timeout(SEND_TIMEOUT_SECONDS):
                if dropped:
                    await ws.send_json(
                        {"type": "events_dropped", "count": dropped, "timestamp": _now()}
                    )
                await ws.send_json(websocket_message(event))
        except TimeoutError:
            await ws.close(code=1013, reason="too slow to receive events")
            return
