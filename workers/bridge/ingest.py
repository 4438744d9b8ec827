"""Route each device message: status → presence, result → its workflow, detection → bus.

Two connections bring them (workers.bridge.durable): each replica's live one, a clean
session sharing the group's load, takes heartbeats and detections, which may be lost;
the group's durable one, which one replica holds, takes results and last wills, which
must not. Messages arrive on the event loop (adapters.mqtt.client) and are handled
without blocking it: heartbeats only update the batcher's dict, results are delivered
in tasks (at most `max_results_in_flight` at once) and acknowledged when done. A result larger
than `max_result_bytes` is passed on as a failure with a short preview instead: a
workflow signal cannot carry it, and an answer that can never be delivered must not sit
unacknowledged in the broker's window, holding up every message behind it.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import paho.mqtt.client as mqtt
from pydantic import TypeAdapter, ValidationError

from adapters.mqtt.client import AsyncMqttClient
from adapters.mqtt.events import EventSink
from workers.bridge.names import NodeNames
from workers.bridge.presence import Departure, PresenceBatcher
from workers.bridge.signals import WorkflowSignals
from workflows.contracts.commands import CommandId, DeviceResult
from workflows.contracts.common import DNS1123_LABEL
from workflows.contracts.live import DEVICE_TOPIC_PREFIX, DeviceTopic, EventType

log = logging.getLogger(__name__)

# The live path: heartbeats and detections, QoS 0, a share of them per replica.
LIVE = {DeviceTopic.STATUS: 0, DeviceTopic.DETECTION: 0}
# The durable path: results, and status at 1 for the last wills (published at 1), which
# the durable session keeps while no replica holds it. Heartbeats come along at 0.
DURABLE = {DeviceTopic.RESULT: 1, DeviceTopic.STATUS: 1}
# How much of an oversized result the failure that replaces it shows.
PREVIEW_CHARS = 200
# Command IDs become workflow IDs: one Temporal refuses could never be delivered.
_COMMAND_ID: TypeAdapter[str] = TypeAdapter(CommandId)


def live_subscriptions(share_group: str) -> list[tuple[str, int]]:
    """`$share/{group}/cloudcore/device/+/{kind}`, or plain topics without a group."""
    prefix = f"$share/{share_group}/" if share_group else ""
    return [(f"{prefix}{DEVICE_TOPIC_PREFIX}/+/{kind.value}", qos) for kind, qos in LIVE.items()]


def durable_subscriptions() -> list[tuple[str, int]]:
    return [(f"{DEVICE_TOPIC_PREFIX}/+/{kind.value}", qos) for kind, qos in DURABLE.items()]


class Ingest:
    def __init__(
        self,
        *,
        mqtt_client: AsyncMqttClient,
        batcher: PresenceBatcher,
        signals: WorkflowSignals,
        events: EventSink,
        names: NodeNames,
        max_result_bytes: int,
        max_results_in_flight: int = 256,
    ) -> None:
        self._mqtt = mqtt_client
        self._batcher = batcher
        self._signals = signals
        self._events = events
        self._names = names
        self._max_result_bytes = max_result_bytes
        self._results = asyncio.Semaphore(max_results_in_flight)
        self._tasks: set[asyncio.Task[None]] = set()
        self.counts: Counter[str] = Counter()

    def on_message(self, message: mqtt.MQTTMessage) -> None:
        """The live path: heartbeats and detections (QoS 0: nothing to acknowledge)."""
        parsed = _parse(message)
        if parsed is None:
            self.counts["malformed"] += 1
            return
        device_id, kind, payload = parsed
        if kind is DeviceTopic.STATUS:
            if payload.get("online") is False:
                return  # a last will or goodbye: the durable path has it too
            self.counts[kind.value] += 1
            self._heartbeat(device_id, payload)
        elif kind is DeviceTopic.DETECTION:
            self.counts[kind.value] += 1
            self._batcher.detection(device_id, at=datetime.now(UTC))
            fields = {**payload, "device_id": device_id, "node_name": self._names.get(device_id)}
            self._events.emit(EventType.DETECTION, fields)

    def on_durable(self, message: mqtt.MQTTMessage, client: AsyncMqttClient) -> None:
        """The durable path: results and last wills, acknowledged on `client` once handled."""
        if message.qos == 0 and b"false" not in message.payload:
            return  # a heartbeat (the live path has it): not worth parsing twice
        parsed = _parse(message)
        if parsed is None:
            self.counts["malformed"] += 1
            client.ack(message)
            return
        device_id, kind, payload = parsed
        if kind is DeviceTopic.RESULT:
            self.counts[kind.value] += 1
            handling = self._result(device_id, payload, message, client)
            task = asyncio.get_running_loop().create_task(handling)
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            return
        if kind is DeviceTopic.STATUS and payload.get("online") is False:
            # The last will, or a device saying goodbye on its way out.
            self.counts["left"] += 1
            self._batcher.left(device_id, reason=str(payload.get("reason") or "connection_lost"))
        client.ack(message)  # heartbeats come here too, at QoS 0: the live path has them

    def on_online(self, device_ids: list[str]) -> None:
        for device_id in device_ids:
            node_name = self._names.get(device_id)
            self._events.emit(
                EventType.DEVICE_ONLINE, {"device_id": device_id, "node_name": node_name}
            )

    def on_left(self, departures: list[Departure]) -> None:
        for gone in departures:
            self._events.emit(
                EventType.DEVICE_LEFT,
                {"device_id": gone.device_id, "node_name": gone.node_name, "reason": gone.reason},
            )

    async def drain(self) -> None:
        """Wait for the results being delivered (on shutdown)."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def _heartbeat(self, device_id: str, payload: dict[str, Any]) -> None:
        usage = {key: value for key, value in payload.items() if key != "online"}
        self._batcher.heartbeat(device_id, usage=usage, at=datetime.now(UTC))
        node_name = self._names.get(device_id) or payload.get("node_name")
        self._events.emit(
            EventType.HEARTBEAT, {**usage, "device_id": device_id, "node_name": node_name}
        )

    async def _result(
        self,
        device_id: str,
        payload: dict[str, Any],
        message: mqtt.MQTTMessage,
        client: AsyncMqttClient,
    ) -> None:
        try:
            command_id = _COMMAND_ID.validate_python(payload.get("command_id"))
            result = DeviceResult.model_validate(
                {
                    "command_id": command_id,
                    "device_id": device_id,
                    "success": bool(payload.get("success")),
                    "result": payload.get("result"),
                    "error": payload.get("error"),
                    "received_at": datetime.now(UTC),
                }
            )
        except ValidationError:
            self.counts["malformed"] += 1
            client.ack(message)
            return
        size = len(message.payload)
        if size > self._max_result_bytes:
            self.counts["too_large"] += 1
            log.warning(
                "result of %s from %s is %d bytes (limit %d): passed on as a failure",
                command_id,
                device_id,
                size,
                self._max_result_bytes,
            )
            result = too_large(result, size=size, limit=self._max_result_bytes)
        async with self._results:
            await self._signals.deliver_result(result)
        client.ack(message)


def too_large(result: DeviceResult, *, size: int, limit: int) -> DeviceResult:
    """The failure that stands in for an answer too large to pass on."""
    shown = json.dumps(result.result, default=str)
    preview = shown[:PREVIEW_CHARS] + ("..." if len(shown) > PREVIEW_CHARS else "")
    return result.model_copy(
        update={
            "success": False,
            "result": {"preview": preview, "size_bytes": size},
            "error": f"result too large: {size} bytes, the limit is {limit}",
        }
    )


def _parse(message: mqtt.MQTTMessage) -> tuple[str, DeviceTopic, dict[str, Any]] | None:
    parts = message.topic.split("/")
    if len(parts) != 4 or "/".join(parts[:2]) != DEVICE_TOPIC_PREFIX:
        return None
    device_id, kind_name = parts[2], parts[3]
    if not (len(device_id) <= 63 and DNS1123_LABEL.match(device_id)):
        return None
    try:
        kind = DeviceTopic(kind_name)
        payload = json.loads(message.payload)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(payload, dict) or kind is DeviceTopic.COMMAND:
        return None
    return device_id, kind, payload
