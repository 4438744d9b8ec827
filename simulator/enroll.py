"""Enrolment of simulated devices in the sandbox: joined once, remembered in a state file.

On first start each device is joined through the API and its token validated (see
simulator.edgecore); the state file then remembers it, so a restart goes straight to
reporting its Node Ready and connecting, as a joined edgecore would after a reboot.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from adapters.mqtt.credentials import MqttCredentials
from simulator.device import DeviceSpec
from simulator.edgecore import ApiJoiner, JoinRefused, NodeRegistry
from store.files import private_dir, write_private

log = logging.getLogger(__name__)


class JoinedDevices:
    """device_id -> node_name of the devices joined so far, in a JSON file."""

    def __init__(self, path: Path | None) -> None:
        self._path = path
        self._joined: dict[str, str] = {}
        if path is not None and path.exists():
            self._joined = dict(json.loads(path.read_text(encoding="utf-8"))["joined"])

    def __contains__(self, device_id: object) -> bool:
        return device_id in self._joined

    def add(self, spec: DeviceSpec) -> None:
        self._joined[spec.device_id] = spec.node_name
        if self._path is None:
            return
        private_dir(self._path.parent)
        partial = self._path.with_name(self._path.name + ".partial")
        document = json.dumps({"joined": self._joined}, indent=1, sort_keys=True)
        write_private(partial, document.encode())
        os.replace(partial, self._path)


@dataclass(frozen=True, kw_only=True)
class Enrolled:
    # The device's own MQTT account; None when it has none (joined before devices had).
    credentials: MqttCredentials | None


class EdgecoreRole:
    def __init__(
        self,
        *,
        registry: NodeRegistry,
        state: JoinedDevices,
        joiner: ApiJoiner | None,
        ready_interval: float = 60.0,
        concurrency: int = 8,
    ) -> None:
        self._registry = registry
        self._state = state
        self._joiner = joiner
        self._ready_interval = ready_interval
        self._slots = asyncio.Semaphore(concurrency)

    async def enroll(self, spec: DeviceSpec) -> Enrolled | None:
        """Joined (now or before) and its Node Ready, with its MQTT account; None when
        refused or not joinable."""
        async with self._slots:
            credentials = None
            if spec.device_id not in self._state:
                if self._joiner is None:
                    log.warning("%s is not joined and no API access was given", spec.device_id)
                    return None
                answer = await self._joiner.join(spec)
                if answer.token is not None:
                    try:
                        await self._joiner.validate(spec, answer.token)
                    except JoinRefused as refused:
                        log.warning("%s", refused)
                        return None
                credentials = answer.mqtt
                self._state.add(spec)
                log.info("%s joined as node %s", spec.device_id, spec.node_name)
            if credentials is None:
                credentials = await self._registry.mqtt_account(spec.node_name)
            await self._registry.report(spec.node_name, ready=True)
            return Enrolled(credentials=credentials)

    async def keep_ready(self, nodes: Callable[[], Iterable[tuple[str, bool]]]) -> None:
        """Every `ready_interval`, report each (node, online) pair: Ready while online."""
        while True:
            await asyncio.sleep(self._ready_interval)
            for node_name, online in list(nodes()):
                try:
                    await self._registry.report(node_name, ready=online)
                except Exception:  # the sandbox restarting must not stop the loop
                    log.exception("could not report node %s", node_name)

    async def report(self, node_name: str, *, ready: bool) -> None:
        await self._registry.report(node_name, ready=ready)
