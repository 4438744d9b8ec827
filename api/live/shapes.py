"""Bus events as the seed shows them: SSE `data:` lines and WebSocket messages.

On the bus an event is `{"event": "<type>", "timestamp": ..., ...fields}`, which is the
SSE shape already. The WebSocket names it `type` instead, and calls `node_joined`
`device_joined`. WebSocket clients subscribe to topics: the seed's `device_status`,
`detections` and `commands`, plus `alerts`, `maintenance` and `all`, or to event types by
name.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from workflows.contracts.live import EventType

WS_NAMES = {EventType.NODE_JOINED.value: "device_joined"}
TOPICS: dict[str, frozenset[str]] = {
    "device_status": frozenset(
        {
            EventType.NODE_JOINED,
            EventType.DEVICE_PROVISIONED,
            EventType.DEVICE_ONLINE,
            EventType.DEVICE_LEFT,
            EventType.HEARTBEAT,
        }
    ),
    "detections": frozenset({EventType.DETECTION}),
    "commands": frozenset({EventType.COMMAND_SENT, EventType.COMMAND_RESULT}),
    "alerts": frozenset({EventType.ALERT}),
    "maintenance": frozenset({EventType.MAINTENANCE_STARTED, EventType.MAINTENANCE_STOPPED}),
    "all": frozenset(EventType),
}
# Event types are topics of their own too, under either name.
_BY_NAME = {event.value: frozenset({event.value}) for event in EventType}
_BY_NAME["device_joined"] = frozenset({EventType.NODE_JOINED.value})


class UnknownTopic(ValueError):
    pass


def event_types(topics: Iterable[str]) -> frozenset[str]:
    """The event types a list of topics or type names stands for."""
    wanted: set[str] = set()
    for topic in topics:
        if topic in TOPICS:
            wanted |= {str(event) for event in TOPICS[topic]}
        elif topic in _BY_NAME:
            wanted |= _BY_NAME[topic]
        else:
            raise UnknownTopic(topic)
    return frozenset(wanted)


def known_topics() -> list[str]:
    return sorted({*TOPICS, *_BY_NAME})


def websocket_message(event: dict[str, Any]) -> dict[str, Any]:
    name = str(event.get("event"))
    message = {"type": WS_NAMES.get(name, name)}
    message.update((key, value) for key, value in event.items() if key != "event")
    return message
