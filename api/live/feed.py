"""This replica's subscription to the event bus (`edgewright/events/#` on the broker).

A plain subscription, never a shared one: every API replica must see every event. The
paho client runs its own network thread and hands each decoded event to the event loop;
with no broker (yet) it keeps reconnecting in the background and the API runs on.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import uuid
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from api.live.hub import EventHub
from workflows.contracts.live import EVENTS_TOPIC_PREFIX

log = logging.getLogger(__name__)


class EventFeed:
    def __init__(self, *, host: str, port: int, hub: EventHub) -> None:
        self._host, self._port = host, port
        self._hub = hub
        self._loop = asyncio.get_running_loop()
        self.connected = False
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"edgewright-api-{uuid.uuid4().hex[:12]}",
            protocol=mqtt.MQTTv311,
        )
        client.on_socket_open = _nodelay
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.reconnect_delay_set(min_delay=1, max_delay=10)
        self._client = client

    def start(self) -> None:
        self._client.connect_async(self._host, self._port, keepalive=30)
        self._client.loop_start()

    def stop(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    # --- paho thread --------------------------------------------------------------------

    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, rc: Any, props: Any
    ) -> None:
        if rc.is_failure:
            return
        self.connected = True
        client.subscribe(f"{EVENTS_TOPIC_PREFIX}/#", qos=0)
        log.info(
            "live events: subscribed to %s/# on %s:%d", EVENTS_TOPIC_PREFIX, self._host, self._port
        )

    def _on_disconnect(
        self, client: mqtt.Client, userdata: Any, flags: Any, rc: Any, props: Any
    ) -> None:
        self.connected = False

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        try:
            body = json.loads(message.payload)
        except ValueError:
            return
        # One event, or a batch of them (`{"events": [...]}`, as the bridge sends them).
        batch = body.get("events") if isinstance(body, dict) else None
        found = batch if isinstance(batch, list) else [body]
        events = [e for e in found if isinstance(e, dict) and isinstance(e.get("event"), str)]
        if not events:
            return
        try:
            self._loop.call_soon_threadsafe(self._publish, events)
        except RuntimeError:  # the loop closed under us while shutting down
            return

    def _publish(self, events: list[dict[str, Any]]) -> None:
        for event in events:
            self._hub.publish(event)


def _nodelay(client: mqtt.Client, userdata: Any, sock: Any) -> None:
    if isinstance(sock, socket.socket):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
