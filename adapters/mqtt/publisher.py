"""The worker's one MQTT connection: an AsyncMqttClient on its event loop, usable from threads.

Async activities await `publish` on the loop; sync ones, in the activity thread pool, call
`publish_blocking`, which hands the publish to the loop and waits; events go out with
`publish_nowait` from either side. paho itself is only ever touched on the loop's thread.
"""

from __future__ import annotations

import asyncio
import json
import logging
from functools import partial
from typing import Any

from adapters.mqtt.client import AsyncMqttClient, MiscTicker
from adapters.mqtt.credentials import MqttCredentials

log = logging.getLogger(__name__)

KEEPALIVE_SECONDS = 30
# How long a QoS 1 publish waits for a connection, and then again for the broker's PUBACK.
PUBLISH_TIMEOUT_SECONDS = 10.0
# A long-lived service connection: retry every 1 s, then back off to 10 s.
RECONNECT_MIN_DELAY = 1.0
RECONNECT_MAX_DELAY = 10.0


class MqttPublisher:
    """Publishes JSON at QoS 1 (acknowledged) or QoS 0 (events); reconnects by itself."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        client_id: str,
        credentials: MqttCredentials | None = None,
        publish_timeout: float = PUBLISH_TIMEOUT_SECONDS,
    ) -> None:
        self._host, self._port = host, port
        self._credentials = credentials
        self._client_id = client_id
        self._timeout = publish_timeout
        self._client: AsyncMqttClient | None = None

    async def start(self) -> None:
        """Connect from the running loop, which every later publish goes through."""
        client = AsyncMqttClient(
            host=self._host,
            port=self._port,
            client_id=self._client_id,
            ticker=MiscTicker(),
            credentials=self._credentials,
            keepalive=KEEPALIVE_SECONDS,
            reconnect_min_delay=RECONNECT_MIN_DELAY,
            reconnect_max_delay=RECONNECT_MAX_DELAY,
        )
        client.on_connect = lambda: log.info("MQTT connected to %s", self.address)
        client.on_disconnect = lambda: log.warning("MQTT disconnected from %s", self.address)
        self._client = client
        await client.start()

    async def stop(self) -> None:
        if self._client is not None:
            await self._client.close()

    @property
    def connected(self) -> bool:
        return self._client is not None and self._client.is_connected

    @property
    def address(self) -> str:
        return f"{self._host}:{self._port}"

    async def publish(self, topic: str, payload: dict[str, Any]) -> None:
        """Publish at QoS 1 and wait until the broker acknowledged it (on the loop)."""
        await self._publish_acked(topic, json.dumps(payload))

    def publish_blocking(self, topic: str, payload: dict[str, Any]) -> None:
        """`publish` for a thread that is not the loop's: blocks it until acknowledged."""
        if self._on_loop():
            raise RuntimeError("publish_blocking would block the event loop: await publish")
        acked = asyncio.run_coroutine_threadsafe(
            self._publish_acked(topic, json.dumps(payload)), self._started().loop
        )
        try:
            # The coroutine bounds itself; this bound is for a loop that stopped under us.
            acked.result(2 * self._timeout + 1)
        except TimeoutError:
            acked.cancel()
            raise

    def publish_nowait(self, topic: str, payload: dict[str, Any]) -> bool:
        """Publish at QoS 0 without waiting (bus events): False, and dropped, if offline."""
        if not self.connected:
            return False
        client = self._started()
        data = json.dumps(payload, default=str)  # here: the caller may change it afterwards
        if self._on_loop():
            client.publish(topic, data, qos=0)
            return True
        try:
            client.loop.call_soon_threadsafe(partial(client.publish, topic, data, qos=0))
        except RuntimeError:  # the loop closed under us while shutting down
            return False
        return True

    async def _publish_acked(self, topic: str, data: str) -> None:
        client = self._started()
        try:
            async with asyncio.timeout(self._timeout):
                await client.connected.wait()
        except TimeoutError:
            raise ConnectionError(f"MQTT broker {self.address} is not reachable") from None
        try:
            async with asyncio.timeout(self._timeout):
                await client.publish_acked(topic, data)
        except TimeoutError:
            raise TimeoutError(f"MQTT broker did not acknowledge a message on {topic}") from None

    def _started(self) -> AsyncMqttClient:
        if self._client is None:
            raise RuntimeError("MqttPublisher.start() has not run")
        return self._client

    def _on_loop(self) -> bool:
        loop = self._started().loop
        try:
            return asyncio.get_running_loop() is loop
        except RuntimeError:  # no loop in this thread
            return False
