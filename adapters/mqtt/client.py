"""Paho MQTT clients driven by the asyncio event loop instead of a thread each.

The simulator holds thousands of connections (one per device, each with its own last
will) and the bridge one or a few; a network thread per paho client would not scale, so
the loop watches each socket (`add_reader`/`add_writer`) and calls paho's
`loop_read`/`loop_write`, the way aiomqtt does. Keepalive pings (`loop_misc`) run from one
shared `MiscTicker` for all clients of a process rather than a timer per client. The TCP
connection itself is opened by the loop too (adapters.mqtt.tcp), so no connect blocks it.

Everything here must be used from the event loop's thread; adapters.mqtt.publisher is the
thread-safe face of one client for code that runs in threads.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from adapters.mqtt.credentials import MqttCredentials
from adapters.mqtt.tcp import open_tcp

log = logging.getLogger(__name__)

MessageHandler = Callable[[mqtt.MQTTMessage], None]


@dataclass(frozen=True, kw_only=True)
class Will:
    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = False


class MiscTicker:
    """Calls `loop_misc` (keepalive pings, ping timeouts) on every registered client."""

    def __init__(self, *, interval: float = 1.0) -> None:
        self._interval = interval
        self._clients: set[mqtt.Client] = set()
        self._task: asyncio.Task[None] | None = None

    def add(self, client: mqtt.Client) -> None:
        self._clients.add(client)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="mqtt-misc")

    def discard(self, client: mqtt.Client) -> None:
        self._clients.discard(client)

    async def _run(self) -> None:
        while self._clients:
            await asyncio.sleep(self._interval)
            for client in list(self._clients):
                client.loop_misc()


class _Paho(mqtt.Client):
    """paho, connecting over the socket `open_tcp` opened (paho's own connect blocks).

    `_create_socket_connection` is paho's private hook (2.x, pinned by the lock file);
    everything after it (CONNECT, the session's resends) stays paho's.
    """

    opened: socket.socket | None = None

    def _create_socket_connection(self) -> socket.socket:
        sock, self.opened = self.opened, None
        if sock is None:
            raise ConnectionError("no socket was opened for this connect")
        return sock


class AsyncMqttClient:
    """One MQTT 3.1.1 connection that reconnects by itself until `close()`.

    `on_connect` runs after every (re)connect: subscribe there, since a clean session
    forgets subscriptions. QoS 1 publishes made while disconnected are kept by paho and
    sent after the reconnect.
    """

    def __init__(
        self,
        *,
        host: str,
        port: int,
        client_id: str,
        ticker: MiscTicker,
        credentials: MqttCredentials | None = None,
        clean_session: bool = True,
        keepalive: int = 60,
        will: Will | None = None,
        manual_ack: bool = False,
        reconnect_min_delay: float = 0.2,
        reconnect_max_delay: float = 10.0,
    ) -> None:
        self._host, self._port = host, port
        self._client_id = client_id
        self._ticker = ticker
        self._reconnect_min_delay = reconnect_min_delay
        self._reconnect_max_delay = reconnect_max_delay
        self._loop = asyncio.get_running_loop()
        self._closing = False
        self._reconnect_task: asyncio.Task[None] | None = None
        self._acks: dict[int, asyncio.Future[None]] = {}
        self.connected = asyncio.Event()
        self.on_message: MessageHandler | None = None
        self.on_connect: Callable[[], None] | None = None
        self.on_disconnect: Callable[[], None] | None = None
        self.on_subscribed: Callable[[], None] | None = None  # on each SUBACK
        self.on_refused: Callable[[str], None] | None = None  # CONNACK said no (and why)
        # Asked before every reconnect: False keeps the client away until it says True.
        self.may_reconnect: Callable[[], bool] | None = None

        client = _Paho(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=mqtt.MQTTv311,
            clean_session=clean_session,
        )
        # Unbounded queues in memory are what the device would do while offline; the
        # inflight window lets a bridge keep many QoS 1 acks outstanding at once.
        client.max_inflight_messages_set(1000)
        client.manual_ack_set(manual_ack)
        if credentials is not None:
            client.username_pw_set(credentials.username, credentials.password)
        if will is not None:
            client.will_set(will.topic, will.payload, qos=will.qos, retain=will.retain)
        client.on_socket_open = self._socket_open
        client.on_socket_close = self._socket_close
        client.on_socket_register_write = self._register_write
        client.on_socket_unregister_write = self._unregister_write
        client.on_connect = self._connected
        client.on_disconnect = self._disconnected
        client.on_message = self._message
        client.on_publish = self._published
        client.on_subscribe = self._suback
        client.connect_async(host, port, keepalive=keepalive)  # only records where to
        self._client = client

    @property
    def client_id(self) -> str:
        return self._client_id

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The loop this client lives on: the only thread that may call it."""
        return self._loop

    @property
    def is_connected(self) -> bool:
        return self.connected.is_set()

    async def start(self) -> None:
        """First connection attempt; on failure keep trying in the background."""
        self._ticker.add(self._client)
        if not await self._connect():
            self._schedule_reconnect()

    def subscribe(self, topics: list[tuple[str, int]]) -> None:
        if topics:
            self._client.subscribe(topics)

    def publish(
        self, topic: str, payload: bytes | str, *, qos: int = 0, retain: bool = False
    ) -> mqtt.MQTTMessageInfo:
        """Queue a message; QoS 1 ones survive a reconnect (kept in paho's session)."""
        return self._client.publish(topic, payload, qos=qos, retain=retain)

    async def publish_acked(
        self, topic: str, payload: bytes | str, *, retain: bool = False
    ) -> None:
        """Publish at QoS 1 and wait for the broker's PUBACK (callers bound the wait)."""
        future: asyncio.Future[None] = self._loop.create_future()
        info = self._client.publish(topic, payload, qos=1, retain=retain)
        self._acks[info.mid] = future
        try:
            await future
        finally:
            self._acks.pop(info.mid, None)

    def ack(self, message: mqtt.MQTTMessage) -> None:
        """With `manual_ack`, acknowledge a QoS 1 message once it has been handled."""
        if message.qos > 0:
            self._client.ack(message.mid, message.qos)

    def drop(self) -> None:
        """Lose the connection without a DISCONNECT, so the broker sends the last will."""
        self._closing = True
        sock = self._client.socket()
        if isinstance(sock, socket.socket):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self._client._sock_close()  # paho has no public "lose the connection"
        self.connected.clear()

    def resume(self) -> None:
        """Reconnect after `drop()`."""
        self._closing = False
        self._schedule_reconnect(now=True)

    async def close(self) -> None:
        """Disconnect cleanly: the broker discards the last will."""
        self._closing = True
        if self._reconnect_task is not None:
            self._reconnect_task.cancel()
        if self.connected.is_set():
            self._client.disconnect()
            # Send the DISCONNECT now (a few bytes on a non-blocking socket), before the
            # socket goes: without it the broker would publish the last will.
            self._client.loop_write()
        self._client._sock_close()
        self._ticker.discard(self._client)
        self.connected.clear()

    # --- paho callbacks (run inside loop_read/loop_write, on the loop thread) --------

    def _socket_open(self, client: mqtt.Client, userdata: Any, sock: Any) -> None:
        self._loop.add_reader(sock, self._read)

    def _socket_close(self, client: mqtt.Client, userdata: Any, sock: Any) -> None:
        self._loop.remove_reader(sock)
        self._loop.remove_writer(sock)

    def _register_write(self, client: mqtt.Client, userdata: Any, sock: Any) -> None:
        self._loop.add_writer(sock, self._write)

    def _unregister_write(self, client: mqtt.Client, userdata: Any, sock: Any) -> None:
        self._loop.remove_writer(sock)

    def _read(self) -> None:
        self._client.loop_read(max_packets=100)

    def _write(self) -> None:
        self._client.loop_write()

    def _connected(
        self, client: mqtt.Client, userdata: Any, flags: Any, rc: Any, props: Any
    ) -> None:
        if rc.is_failure:
            log.warning("MQTT broker refused %s: %s", self.client_id, rc)
            if self.on_refused is not None:
                self.on_refused(str(rc))
            return
        self.connected.set()
        if self.on_connect is not None:
            self.on_connect()

    def _disconnected(
        self, client: mqtt.Client, userdata: Any, flags: Any, rc: Any, props: Any
    ) -> None:
        was_connected = self.connected.is_set()
        self.connected.clear()
        if was_connected and self.on_disconnect is not None:
            self.on_disconnect()
        if not self._closing:
            self._schedule_reconnect()

    def _message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        if self.on_message is not None:
            self.on_message(message)

    def _suback(self, client: mqtt.Client, userdata: Any, mid: int, rcs: Any, props: Any) -> None:
        if self.on_subscribed is not None:
            self.on_subscribed()

    def _published(self, client: mqtt.Client, userdata: Any, mid: int, rc: Any, props: Any) -> None:
        future = self._acks.pop(mid, None)
        if future is not None and not future.done():
            future.set_result(None)

    # --- reconnects -----------------------------------------------------------------

    def _schedule_reconnect(self, *, now: bool = False) -> None:
        if self._reconnect_task is None or self._reconnect_task.done():
            self._reconnect_task = self._loop.create_task(self._reconnect(now=now))

    async def _reconnect(self, *, now: bool) -> None:
        delay = 0.0 if now else self._reconnect_min_delay
        while not self._closing:
            # Jitter spreads thousands of simulated devices over the broker's restart.
            await asyncio.sleep(delay * random.uniform(0.5, 1.5))  # noqa: S311
            if self.may_reconnect is not None and not self.may_reconnect():
                delay = max(delay, self._reconnect_min_delay)
                continue
            if await self._connect():
                return
            delay = min(max(delay * 2, self._reconnect_min_delay), self._reconnect_max_delay)

    async def _connect(self) -> bool:
        """One attempt: open the socket, send CONNECT. False if worth another try."""
        try:
            sock = await open_tcp(self._host, self._port)
        except OSError as err:
            log.debug("MQTT connect of %s failed: %s", self.client_id, err)
            return False
        if self._closing:  # closed or dropped while the socket was opening
            sock.close()
            return True
        self._client.opened = sock
        try:
            self._client.reconnect()
        except OSError as err:
            log.debug("MQTT connect of %s failed: %s", self.client_id, err)
            return False
        return True
