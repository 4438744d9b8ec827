"""One simulated edge device speaking the MQTT topic contract.

It connects with a persistent session and a last will (`{"online": false}` on its status
topic), reports a heartbeat on connect and then every `heartbeat_interval`, answers its
commands (and broadcasts to its type) after `answer_delay`, and, if it is a camera, emits
detections. It can be told to fail its commands, to hang (never answer), to hold its
answers until told otherwise, or to drop off the network (the broker then publishes its
last will) and come back.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections import Counter, deque
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import paho.mqtt.client as mqtt

from adapters.mqtt.client import AsyncMqttClient, MiscTicker, Will
from adapters.mqtt.credentials import MqttCredentials
from simulator.answers import Answer, answer, usage
from workflows.contracts.live import BROADCAST_TOPIC, DeviceTopic, device_topic

log = logging.getLogger(__name__)

DETECTABLE = ("person", "car", "bicycle", "forklift", "helmet")
# Command IDs remembered to drop QoS 1 redeliveries and repeated publishes.
SEEN_COMMANDS = 1000


class Mode(StrEnum):
    NORMAL = "normal"
    FAIL = "fail"  # answers every command with success: false
    HANG = "hang"  # receives commands and never answers
    HOLD = "hold"  # receives commands and answers them once set back to another mode


@dataclass(frozen=True, kw_only=True)
class DeviceSpec:
    device_id: str
    node_name: str
    device_type: str | None = None


@dataclass(kw_only=True)
class Timing:
    heartbeat_interval: float = 15.0
    detection_interval: float = 0.0  # 0: no detections on their own
    answer_delay: float = 0.05


class SimulatedDevice:
    def __init__(
        self,
        *,
        spec: DeviceSpec,
        host: str,
        port: int,
        ticker: MiscTicker,
        timing: Timing,
        credentials: MqttCredentials | None = None,
        mode: Mode = Mode.NORMAL,
        seed: int | None = None,
    ) -> None:
        self.spec = spec
        self.username = credentials.username if credentials is not None else None
        self.timing = timing
        self._released = asyncio.Event()
        self.mode = mode
        self.counts: Counter[str] = Counter()
        self._rng = random.Random(seed)  # noqa: S311 (simulated readings, not secrets)
        self._seen: deque[str] = deque(maxlen=SEEN_COMMANDS)
        self._tasks: set[asyncio.Task[None]] = set()
        self._loops: list[asyncio.Task[None]] = []
        self._status_topic = device_topic(spec.device_id, DeviceTopic.STATUS)
        self.mqtt = AsyncMqttClient(
            host=host,
            port=port,
            client_id=spec.device_id,
            ticker=ticker,
            # Its own account once joined (user name and client ID: its device ID).
            credentials=credentials,
            # Persistent: QoS 1 commands sent while it reconnects are kept by the broker.
            clean_session=False,
            keepalive=60,
            will=Will(topic=self._status_topic, payload=b'{"online": false}', qos=1),
        )
        self.mqtt.on_connect = self._connected
        self.mqtt.on_message = self._message

    @property
    def online(self) -> bool:
        return self.mqtt.is_connected

    async def start(self) -> None:
        await self.mqtt.start()
        self._loops.append(asyncio.create_task(self._heartbeats(), name="heartbeats"))
        if self.timing.detection_interval > 0 and self.spec.device_type == "camera":
            self._loops.append(asyncio.create_task(self._detections(), name="detections"))

    async def stop(self) -> None:
        """Leave for good: say so on the status topic, then disconnect cleanly."""
        for task in self._loops:
            task.cancel()
        if self.mqtt.is_connected:
            self.mqtt.publish(self._status_topic, b'{"online": false, "reason": "shutdown"}', qos=1)
        await self.mqtt.close()

    def drop(self) -> None:
        """Vanish from the network: no DISCONNECT, so the broker sends the last will."""
        self.mqtt.drop()

    def come_back(self) -> None:
        self.mqtt.resume()

    def heartbeat(self) -> None:
        if not self.mqtt.is_connected:
            return
        payload = {
            "online": True,
            **usage(self._rng),
            "node_name": self.spec.node_name,
            "device_type": self.spec.device_type,
            "apps": [],
        }
        self.mqtt.publish(self._status_topic, json.dumps(payload))
        self.counts["heartbeats"] += 1

    def detect(self, *, obj: str | None = None, confidence: float | None = None) -> None:
        if not self.mqtt.is_connected:
            return
        payload = {
            "object": obj or self._rng.choice(DETECTABLE),
            "confidence": confidence
            if confidence is not None
            else round(self._rng.uniform(0.5, 1), 2),
            "timestamp": datetime.now(UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
        }
        topic = device_topic(self.spec.device_id, DeviceTopic.DETECTION)
        self.mqtt.publish(topic, json.dumps(payload))
        self.counts["detections"] += 1

    # --- MQTT ------------------------------------------------------------------------

    def _connected(self) -> None:
        self.mqtt.subscribe(
            [(device_topic(self.spec.device_id, DeviceTopic.COMMAND), 1), (BROADCAST_TOPIC, 1)]
        )
        self.heartbeat()  # online at once, not a heartbeat interval later

    @property
    def mode(self) -> Mode:
        return self._mode

    @mode.setter
    def mode(self, mode: Mode) -> None:
        self._mode = mode
        if mode is Mode.HOLD:
            self._released.clear()
        else:
            self._released.set()

    def _message(self, message: mqtt.MQTTMessage) -> None:
        try:
            command = json.loads(message.payload)
        except ValueError:
            return
        if not isinstance(command, dict) or not isinstance(command.get("command_id"), str):
            return
        if message.topic == BROADCAST_TOPIC:
            wanted = command.get("device_type")
            if wanted not in (None, "", "all", self.spec.device_type):
                return
        command_id = command["command_id"]
        if command_id in self._seen:
            self.counts["duplicates"] += 1
            return
        self._seen.append(command_id)
        self.counts["commands"] += 1
        if self.mode is Mode.HANG:
            return
        task = asyncio.get_running_loop().create_task(self._answer(command))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _answer(self, command: dict[str, Any]) -> None:
        await asyncio.sleep(self.timing.answer_delay)
        await self._released.wait()  # HOLD: a test faults the network meanwhile
        if self.mode is Mode.HANG:  # told to hang while the answer was pending
            return
        parameters = command.get("parameters") or {}
        if self.mode is Mode.FAIL:
            outcome = Answer(success=False, error="simulated failure")
        else:
            outcome = answer(
                str(command.get("command")),
                parameters if isinstance(parameters, dict) else {},
                device_id=self.spec.device_id,
                device_type=self.spec.device_type,
                rng=self._rng,
            )
        payload = {
            "command_id": command["command_id"],
            "success": outcome.success,
            "result": outcome.result,
            "error": outcome.error,
        }
        # QoS 1: kept by paho while disconnected and sent after the reconnect.
        topic = device_topic(self.spec.device_id, DeviceTopic.RESULT)
        self.mqtt.publish(topic, json.dumps(payload), qos=1)
        self.counts["answers"] += 1

    async def _heartbeats(self) -> None:
        # A random phase spreads a fleet's heartbeats evenly instead of in bursts.
        await asyncio.sleep(self._rng.uniform(0, self.timing.heartbeat_interval))
        while True:
            self.heartbeat()
            await asyncio.sleep(self.timing.heartbeat_interval)

    async def _detections(self) -> None:
        while True:
            await asyncio.sleep(self._rng.expovariate(1 / self.timing.detection_interval))
            self.detect()
