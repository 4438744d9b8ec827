"""What travels on the broker: the MQTT topic contract and the event bus vocabulary."""

from __future__ import annotations

from enum import StrEnum

# MQTT topic contract (docs/architecture.md). Device IDs are DNS-1123 labels, so they can never
# smuggle '/', '+' or '#' into a topic.
DEVICE_TOPIC_PREFIX = "cloudcore/device"


BROADCAST_TOPIC = "cloudcore/broadcast/command"


ALERTS_TOPIC = "cloudcore/alerts"


# The internal event bus rides on the broker so every API replica sees every event.
EVENTS_TOPIC_PREFIX = "edgewright/events"


class DeviceTopic(StrEnum):
    COMMAND = "command"  # cloud -> device
    RESULT = "result"  # device -> cloud
    STATUS = "status"  # device -> cloud: heartbeats, and the last will {online: false}
    DETECTION = "detection"  # device -> cloud


def device_topic(device_id: str, kind: DeviceTopic) -> str:
    return f"{DEVICE_TOPIC_PREFIX}/{device_id}/{kind.value}"


def events_topic(event: str) -> str:
    return f"{EVENTS_TOPIC_PREFIX}/{event}"


class EventType(StrEnum):
    """Events on the bus; the SSE stream and the WebSocket serve them (seed shapes)."""

    DEVICE_PROVISIONED = "device_provisioned"
    NODE_JOINED = "node_joined"  # the WebSocket calls it device_joined
    DEVICE_ONLINE = "device_online"
    DEVICE_LEFT = "device_left"
    HEARTBEAT = "heartbeat"
    DETECTION = "detection"
    COMMAND_SENT = "command_sent"
    COMMAND_RESULT = "command_result"
    ALERT = "alert"
    MAINTENANCE_STARTED = "maintenance_started"
    MAINTENANCE_STOPPED = "maintenance_stopped"
