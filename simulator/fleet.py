"""A fleet of simulated devices in one asyncio process, and the topic that steers it.

Devices are `{prefix}{n:04d}` on nodes `{node_prefix}{n:04d}`. They connect at a bounded
rate (a broker accepts a connect storm of thousands, but not instantly), each on its own
MQTT connection so each has its own last will. Tests drive devices directly; other
processes steer them over MQTT with a JSON message on `edgewright/simulator/{device_id}/control`
(or `.../all/control`): `{"mode": "normal|fail|hang", "answer_delay": 2.5,
"drop": true, "back": true, "detect": {"object": "person", "confidence": 0.9}}`; with a
workload reporter (simulator.workloads), `{"workloads": "fail|hold|ok", "image": "..."}`
steers the workloads of the device's node.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from collections.abc import Iterable
from dataclasses import dataclass, field

import paho.mqtt.client as mqtt

from adapters.mqtt.client import AsyncMqttClient, MiscTicker
from adapters.mqtt.credentials import MqttCredentials
from simulator.device import DeviceSpec, Mode, SimulatedDevice, Timing
from simulator.enroll import EdgecoreRole
from simulator.workloads import WorkloadReporter

log = logging.getLogger(__name__)

CONTROL_PREFIX = "edgewright/simulator"
MIXED_TYPES = ("camera", "sensor", "gateway")


def control_topic(target: str) -> str:
    """`target` is a device ID or `all`."""
    return f"{CONTROL_PREFIX}/{target}/control"


@dataclass(kw_only=True)
class FleetConfig:
    devices: int
    mqtt_host: str = "127.0.0.1"
    mqtt_port: int = 1883
    start: int = 1
    prefix: str = "sim-device-"
    node_prefix: str = "sim-node-"
    device_type: str = "mixed"  # or one type for every device
    timing: Timing = field(default_factory=Timing)
    fail_fraction: float = 0.0
    hang_fraction: float = 0.0
    connects_per_second: float = 500.0
    seed: int = 0
    # The services' account: the steering client's, and that of devices without their own
    # (not joined through the API: put into the inventory directly, as tests do).
    credentials: MqttCredentials | None = None


def device_specs(config: FleetConfig) -> list[DeviceSpec]:
    specs = []
    for n in range(config.start, config.start + config.devices):
        kind = config.device_type
        if kind == "mixed":
            kind = MIXED_TYPES[(n - 1) % len(MIXED_TYPES)]
        specs.append(
            DeviceSpec(
                device_id=f"{config.prefix}{n:04d}",
                node_name=f"{config.node_prefix}{n:04d}",
                device_type=kind,
            )
        )
    return specs


class Fleet:
    def __init__(
        self,
        *,
        config: FleetConfig,
        edgecore: EdgecoreRole | None = None,
        workloads: WorkloadReporter | None = None,
    ) -> None:
        self.config = config
        self._edgecore = edgecore
        self.workloads = workloads
        self._ticker = MiscTicker(interval=2.0)
        self._rng = random.Random(config.seed)  # noqa: S311 (which devices misbehave)
        self.devices: dict[str, SimulatedDevice] = {}
        self._control: AsyncMqttClient | None = None
        self._tasks: list[asyncio.Task[None]] = []

    def device(self, device_id: str) -> SimulatedDevice:
        return self.devices[device_id]

    async def start(self) -> None:
        """Enrol (sandbox) and connect every device; returns once all have been started."""
        await self._start_control()
        specs = device_specs(self.config)
        interval = 1.0 / self.config.connects_per_second
        pending: list[asyncio.Task[None]] = []
        for index, spec in enumerate(specs):
            pending.append(asyncio.create_task(self._start_device(spec, index)))
            await asyncio.sleep(interval)
        await asyncio.gather(*pending)
        if self._edgecore is not None:
            self._tasks.append(asyncio.create_task(self._edgecore.keep_ready(self._nodes)))
        if self.workloads is not None:
            self._tasks.append(asyncio.create_task(self.workloads.run(self._nodes)))
        log.info("simulated fleet: %d devices started", len(self.devices))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*(device.stop() for device in self.devices.values()))
        if self._control is not None:
            await self._control.close()

    async def drop(self, device_id: str) -> None:
        device = self.devices[device_id]
        device.drop()
        if self._edgecore is not None:
            await self._edgecore.report(device.spec.node_name, ready=False)

    async def come_back(self, device_id: str) -> None:
        device = self.devices[device_id]
        if self._edgecore is not None:
            await self._edgecore.report(device.spec.node_name, ready=True)
        device.come_back()

    def _nodes(self) -> Iterable[tuple[str, bool]]:
        return ((d.spec.node_name, d.online) for d in self.devices.values())

    async def _start_device(self, spec: DeviceSpec, index: int) -> None:
        credentials = self.config.credentials
        if self._edgecore is not None:
            try:
                enrolled = await self._edgecore.enroll(spec)
            except Exception:
                log.exception("enrolment of %s failed", spec.device_id)
                return
            if enrolled is None:
                return
            if enrolled.credentials is not None:
                credentials = enrolled.credentials
            else:
                log.warning(
                    "%s has no MQTT account of its own: using the services'", spec.device_id
                )
        device = SimulatedDevice(
            spec=spec,
            host=self.config.mqtt_host,
            port=self.config.mqtt_port,
            ticker=self._ticker,
            timing=Timing(**vars(self.config.timing)),
            credentials=credentials,
            mode=self._mode(),
            seed=self.config.seed * 1_000_003 + index,
        )
        self.devices[spec.device_id] = device
        await device.start()

    def _mode(self) -> Mode:
        draw = self._rng.random()
        if draw < self.config.fail_fraction:
            return Mode.FAIL
        if draw < self.config.fail_fraction + self.config.hang_fraction:
            return Mode.HANG
        return Mode.NORMAL

    # --- steering over MQTT -------------------------------------------------------------

    async def _start_control(self) -> None:
        control = AsyncMqttClient(
            host=self.config.mqtt_host,
            port=self.config.mqtt_port,
            client_id=f"simulator-control-{self.config.prefix}{self.config.start}",
            ticker=self._ticker,
            credentials=self.config.credentials,
        )
        control.on_connect = lambda: control.subscribe([(control_topic("+"), 1)])
        control.on_message = self._steer
        self._control = control
        await control.start()

    def _steer(self, message: mqtt.MQTTMessage) -> None:
        target = message.topic.split("/")[2]
        try:
            order = json.loads(message.payload)
        except ValueError:
            return
        if not isinstance(order, dict):
            return
        devices = list(self.devices.values()) if target == "all" else []
        if target in self.devices:
            devices = [self.devices[target]]
        for device in devices:
            self._apply(device, order)

    def _apply(self, device: SimulatedDevice, order: dict[str, object]) -> None:
        with contextlib.suppress(ValueError):
            if "mode" in order:
                device.mode = Mode(str(order["mode"]))
        delay = order.get("answer_delay")
        if isinstance(delay, int | float):
            device.timing.answer_delay = float(delay)
        if order.get("drop"):
            self._tasks.append(asyncio.create_task(self.drop(device.spec.device_id)))
        if order.get("back"):
            self._tasks.append(asyncio.create_task(self.come_back(device.spec.device_id)))
        if "workloads" in order and self.workloads is not None:
            self.workloads.steer(device.spec.node_name, order)
        detect = order.get("detect")
        if isinstance(detect, dict):
            confidence = detect.get("confidence")
            device.detect(
                obj=str(detect.get("object") or "person"),
                confidence=float(confidence) if isinstance(confidence, int | float) else None,
            )
