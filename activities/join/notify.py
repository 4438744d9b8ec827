"""notify_device_provisioned: tell the event bus a device is provisioned."""

from __future__ import annotations

from datetime import UTC, datetime

from temporalio import activity

from adapters.mqtt.publisher import MqttPublisher, event_topic
from workflows.contracts.common import DeviceRef
from workflows.contracts.join import JoinActivity


class NotifyActivities:
    def __init__(self, *, publisher: MqttPublisher) -> None:
        self._publisher = publisher

    @activity.defn(name=JoinActivity.NOTIFY_DEVICE_PROVISIONED)
    def notify_device_provisioned(self, inp: DeviceRef) -> None:
        """Tell the event bus (and so SSE, WebSocket and webhooks) a device is provisioned."""
        self._publisher.publish(
            event_topic("device_provisioned"),
            {
                "event": "device_provisioned",
                "device_id": inp.device_id,
                "node_name": inp.node_name,
                "timestamp": datetime.now(UTC).isoformat(),
            },
        )
