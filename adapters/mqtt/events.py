"""Events on the internal bus (`edgewright/events/{type}`): their shape, and a sink.

Every process that sees something happen (the worker for commands and joins, the bridge
for what devices say) publishes it on the broker, so every API replica streams every
event to its SSE and WebSocket clients. Events are QoS 0: a live view, not a record;
what must not be lost is in the store and in Temporal.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

from adapters.mqtt.publisher import MqttPublisher
from workflows.contracts.live import EventType, events_topic


class EventSink(Protocol):
    def emit(self, event: EventType, fields: Mapping[str, Any]) -> None: ...


def timestamp(at: datetime | None = None) -> str:
    """The seed's style: `2024-01-15T10:30:00.123Z`."""
    moment = (at or datetime.now(UTC)).astimezone(UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def event_payload(
    event: EventType, fields: Mapping[str, Any], *, at: datetime | None = None
) -> dict[str, Any]:
    """`{"event": ..., "timestamp": ..., **fields}`; fields that are None are left out.

    A device's own `timestamp` wins over ours; its `event`, if any, never does.
    """
    payload: dict[str, Any] = {"event": event.value, "timestamp": timestamp(at)}
    payload.update(
        (key, value) for key, value in fields.items() if value is not None and key != "event"
    )
    return payload


def encode(payload: Mapping[str, Any]) -> bytes:
    return json.dumps(payload, default=str, separators=(",", ":")).encode()


class PublisherEvents:
    """The worker's sink: its shared paho publisher, fire and forget."""

    def __init__(self, *, publisher: MqttPublisher) -> None:
        self._publisher = publisher

    def emit(self, event: EventType, fields: Mapping[str, Any]) -> None:
        self._publisher.publish_nowait(events_topic(event.value), event_payload(event, fields))
