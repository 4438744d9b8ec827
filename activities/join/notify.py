"""notify_device_provisioned: tell the event bus a device is provisioned."""

from __future__ import annotations

from datetime import UTC, datetime

from temporalio import activity

from adapters.mqtt.publisher import MqttPublisher
from workflows.contracts.common import DeviceRef
from workflows.contracts.join import JoinActivity
from workflows.contracts.live import events_topic


class NotifyActivities:
    def __init__(self, *, publisher: MqttPublisher) -> None:
        self._publisher = publisher

    @activity.defn(name=JoinActivity.NOTIFY_DEVICE_PROVISIONED)
    def notify_device_provisioned(self, inp: DeviceRef) -> None:
        """Tell the event bus (and so SSE, WebSocket and webhooks) a device is provisioned."""
        # A sync activity, on the worker's threads: the publish itself runs on its loop.
        self._publisher.publish_blocking(
            events_topic("device_provisioned"),
            {
                "event": "device_provisioned",
                "device_id": inp.device_id,
                "node_name": inp.node_name,
                "timestamp": datetime.now(UTC).isoformat(),
            },
        )
