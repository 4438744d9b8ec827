"""WebSocket subscriptions to `/ws`: `{"action": "subscribe", "topics": [...]}`, then one
`{"type": ...}` message per event (the CloudCore document's WebSocket API)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from typing import Any

from websockets.asyncio.client import ClientConnection as AsyncConnection
from websockets.asyncio.client import connect as async_connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException
from websockets.sync.client import ClientConnection, connect

from ._async.transport import AsyncTransport
from ._sync.transport import SyncTransport
from .errors import ConnectionFailed, Forbidden

# The server's own messages, not events.
CONTROL = frozenset({"welcome", "subscribed", "unsubscribed", "pong", "error"})


def _ws_url(base_url: str) -> str:
    scheme, _, rest = base_url.partition("://")
    return f"{'wss' if scheme == 'https' else 'ws'}://{rest}/ws"


def _subscribe_message(topics: Sequence[str]) -> str:
    return json.dumps({"action": "subscribe", "topics": list(topics)})


class Subscription:
    """Iterate for events (`{"type": "device_joined", "node_name": ...}`)."""

    def __init__(self, connection: ClientConnection, *, include_control: bool) -> None:
        self._connection = connection
        self._include_control = include_control

    def __iter__(self) -> Iterator[dict[str, Any]]:
        try:
            for raw in self._connection:
                message: dict[str, Any] = json.loads(raw)
                if self._include_control or message.get("type") not in CONTROL:
                    yield message
        except ConnectionClosed:
            return

    def subscribe(self, topics: Sequence[str]) -> None:
        self._connection.send(_subscribe_message(topics))


class AsyncSubscription:
    def __init__(self, connection: AsyncConnection, *, include_control: bool) -> None:
        self._connection = connection
        self._include_control = include_control

    async def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        try:
            async for raw in self._connection:
                message: dict[str, Any] = json.loads(raw)
                if self._include_control or message.get("type") not in CONTROL:
                    yield message
        except ConnectionClosed:
            return

    async def subscribe(self, topics: Sequence[str]) -> None:
        await self._connection.send(_subscribe_message(topics))


def _refused(err: WebSocketException, url: str) -> Exception:
    if isinstance(err, InvalidStatus):
        status = err.response.status_code
        return Forbidden(f"{url} refused the WebSocket ({status})", status=status)
    return ConnectionFailed(f"{url}: {err!r}")


@contextmanager
def subscribe(
    transport: SyncTransport, topics: Sequence[str] = ("all",), *, include_control: bool = False
) -> Iterator[Subscription]:
    """`with subscribe(client.transport, ["device_status"]) as events: for e in events: ...`"""
    url = _ws_url(transport.base_url)
    try:
        connection = connect(url, additional_headers=transport.auth_headers())
    except (WebSocketException, OSError) as err:
        raise (
            _refused(err, url)
            if isinstance(err, WebSocketException)
            else ConnectionFailed(f"{url}: {err!r}")
        ) from err
    with connection:
        connection.send(_subscribe_message(topics))
        yield Subscription(connection, include_control=include_control)


@asynccontextmanager
async def asubscribe(
    transport: AsyncTransport, topics: Sequence[str] = ("all",), *, include_control: bool = False
) -> AsyncIterator[AsyncSubscription]:
    url = _ws_url(transport.base_url)
    try:
        connection = await async_connect(url, additional_headers=transport.auth_headers())
    except (WebSocketException, OSError) as err:
        raise (
            _refused(err, url)
            if isinstance(err, WebSocketException)
            else ConnectionFailed(f"{url}: {err!r}")
        ) from err
    async with connection:
        await connection.send(_subscribe_message(topics))
        yield AsyncSubscription(connection, include_control=include_control)
