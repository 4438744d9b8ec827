"""This replica's subscription to the event bus (`edgewright/events/#` on the broker).

A plain subscription, never a shared one: every API replica must see every event. The
client runs on the API's event loop and hands each decoded event straight to the hub;
with no broker (yet) it keeps reconnecting in the background and the API runs on.
"""

from __future__ import annotations

import json
import logging
import uuid

import paho.mqtt.client as mqtt

from adapters.mqtt.client import AsyncMqttClient, MiscTicker
from adapters.mqtt.credentials import MqttCredentials
from api.live.hub import EventHub
from workflows.contracts.live import EVENTS_TOPIC_PREFIX

log = logging.getLogger(__name__)

KEEPALIVE_SECONDS = 30
# A long-lived service connection: retry every 1 s, then back off to 10 s.
RECONNECT_MIN_DELAY = 1.0
RECONNECT_MAX_DELAY = 10.0


class EventFeed:
    def __init__(
        self, *, host: str, port: int, hub: EventHub, credentials: MqttCredentials | None
    ) -> None:
        self._host, self._port = host, port
        self._hub = hub
        self._mqtt = AsyncMqttClient(
            host=host,
            port=port,
            client_id=f"edgewright-api-{uuid.uuid4().hex[:12]}",
            ticker=MiscTicker(),
            credentials=credentials,
            keepalive=KEEPALIVE_SECONDS,
            reconnect_min_delay=RECONNECT_MIN_DELAY,
            reconnect_max_delay=RECONNECT_MAX_DELAY,
        )
        self._mqtt.on_connect = self._subscribe
        self._mqtt.on_message = self._message

    @property
    def connected(self) -> bool:
        return self._mqtt.is_connected

    async def start(self) -> None:
        await self._mqtt.start()

    async def stop(self) -> None:
        await self._mqtt.close()

    def _subscribe(self) -> None:
        self._mqtt.subscribe([(f"{EVENTS_TOPIC_PREFIX}/#", 0)])
        log.info(
            "live events: subscribed to %s/# on %s:%d", EVENTS_TOPIC_PREFIX, self._host, self._port
        )

    def _message(self, message: mqtt.MQTTMessage) -> None:
        try:
            body = json.loads(message.payload)
        except ValueError:
            return
        # One event, or a batch of them (`{"events": [...]}`, as the bridge sends them).
        batch = body.get("events") if isinstance(body, dict) else None
        found = batch if isinstance(batch, list) else [body]
        for event in found:
            if isinstance(event, dict) and isinstance(event.get("event"), str):
                self._hub.publish(event)
