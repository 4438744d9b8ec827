"""The bridge replicas' one durable MQTT session: results and last wills, never lost.

Mosquitto hands each message of a shared subscription to the next member in turn,
connected or not: a member with a persistent session that is gone for good (scaled
down, a pod under a new hostname) keeps its share queued for ever. Clean sessions leave
the group when they disconnect, but then a message published while no replica is
connected goes nowhere. So what must not be lost (results, last wills) goes to one
persistent, non-shared session with a stable client ID per group instead, which holds
it while no replica is there, and which the replica holding a lease in the store
connects; the others stand by and take it over when the lease is released (a clean
stop) or runs out (a crash). A takeover under the same client ID gets the session with
every message queued or unacknowledged in it. What may be lost (heartbeats, detections)
stays on each replica's clean-session share of the group (workers.bridge.ingest).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import paho.mqtt.client as mqtt
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from adapters.mqtt.client import AsyncMqttClient, MiscTicker
from adapters.mqtt.credentials import service_credentials
from store import leases
from store.settings import Settings

log = logging.getLogger(__name__)

DurableHandler = Callable[[mqtt.MQTTMessage, AsyncMqttClient], None]


def durable_client_id(settings: Settings) -> str:
    group = settings.bridge_share_group or "default"
    return settings.bridge_queue_client_id or f"edgewright-bridge-queue-{group}"


class DurableSession:
    """Connects the group's durable session while this replica holds its lease."""

    def __init__(
        self,
        *,
        settings: Settings,
        sessions: async_sessionmaker[AsyncSession],
        replica: str,
        subscriptions: list[tuple[str, int]],
        on_message: DurableHandler,
    ) -> None:
        self._settings = settings
        self._sessions = sessions
        self._subscriptions = subscriptions
        self._on_message = on_message
        self.client_id = durable_client_id(settings)
        # Unique per process: a replica restarted under the same name does not take its
        # predecessor's unexpired lease for its own.
        self.holder = f"{replica}/{uuid.uuid4().hex[:8]}"
        self._ttl = settings.bridge_queue_lease_seconds
        self._client: AsyncMqttClient | None = None
        self._held_until = 0.0  # loop time; past it, this replica lets the session go
        self.subscribed = asyncio.Event()
        self.takeovers = 0

    @property
    def holding(self) -> bool:
        return self._client is not None

    @property
    def connected(self) -> bool:
        return self._client is not None and self._client.is_connected

    async def run(self) -> None:
        """Take or renew the lease every third of it; connect or let go accordingly."""
        loop = asyncio.get_running_loop()
        while True:
            try:
                async with self._sessions() as session, session.begin():
                    held = await leases.take(
                        session,
                        name=self.client_id,
                        holder=self.holder,
                        now=datetime.now(UTC),
                        ttl=timedelta(seconds=self._ttl),
                    )
            except Exception:  # the store away: keep the session only while the lease lasts
                log.exception("could not renew the lease of %s", self.client_id)
                held = False
            if held:
                # Let go a third of the lease before it runs out for the others.
                self._held_until = loop.time() + self._ttl * 2 / 3
                if self._client is None:
                    await self._connect()
            elif self._client is not None and loop.time() >= self._held_until:
                log.warning("lost the lease of %s: another replica takes over", self.client_id)
                await self._disconnect()
            await asyncio.sleep(self._ttl / 3)

    async def stop(self) -> None:
        """Disconnect cleanly (the broker keeps the session) and hand the lease back."""
        await self._disconnect()
        with contextlib.suppress(Exception):
            async with self._sessions() as session, session.begin():
                await leases.release(session, name=self.client_id, holder=self.holder)

    async def _connect(self) -> None:
        loop = asyncio.get_running_loop()
        client = AsyncMqttClient(
            host=self._settings.mqtt_host,
            port=self._settings.mqtt_port,
            client_id=self.client_id,
            ticker=MiscTicker(interval=1.0),
            credentials=service_credentials(self._settings),
            clean_session=False,
            keepalive=30,
            manual_ack=True,
        )
        # Reconnect only while the lease is ours: a replica whose lease ran out must not
        # take the session back from the one that took it over.
        client.may_reconnect = lambda: loop.time() < self._held_until
        client.on_connect = lambda: client.subscribe(self._subscriptions)
        client.on_subscribed = self._on_subscribed
        client.on_disconnect = self.subscribed.clear
        client.on_message = lambda message: self._on_message(message, client)
        self._client = client
        self.takeovers += 1
        log.info("holding the durable session %s as %s", self.client_id, self.holder)
        await client.start()

    def _on_subscribed(self) -> None:
        if not self.subscribed.is_set():  # from here on the broker queues results for us
            log.info("durable session %s subscribed", self.client_id)
        self.subscribed.set()

    async def _disconnect(self) -> None:
        client, self._client = self._client, None
        self.subscribed.clear()
        if client is not None:
            await client.close()
