"""The bridge's event sink: events go out on its own MQTT connection, QoS 0, in batches.

A heartbeat event per heartbeat is the bulk of the bus (10,000 devices: 667 a second), and
one MQTT publish each cost the bridge about half its CPU (measured with
bench.bridge_ingest). So events are collected for at most `BATCH_SECONDS` and go out as
one message on `edgewright/events/batch`: `{"events": [event, ...]}`; api.live.feed
unpacks it. Single events (from the worker) keep their own topics.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import Any

from adapters.mqtt.client import AsyncMqttClient
from adapters.mqtt.events import event_payload
from workflows.contracts.live import EventType, events_topic

BATCH_SECONDS = 0.05
BATCH_MAX = 500
BATCH_TOPIC = events_topic("batch")


class BusEvents:
    def __init__(self, *, mqtt: AsyncMqttClient) -> None:
        self._mqtt = mqtt
        self._pending: list[dict[str, Any]] = []
        self._timer: asyncio.TimerHandle | None = None
        self.published = 0

    def emit(self, event: EventType, fields: Mapping[str, Any]) -> None:
        if not self._mqtt.is_connected:
            return  # a live view: nobody is missing what the bridge could not send
        self._pending.append(event_payload(event, fields))
        self.published += 1
        if len(self._pending) >= BATCH_MAX:
            self.flush()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(BATCH_SECONDS, self.flush)

    def flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._pending:
            batch, self._pending = self._pending, []
            body = json.dumps({"events": batch}, default=str, separators=(",", ":"))
            self._mqtt.publish(BATCH_TOPIC, body)
