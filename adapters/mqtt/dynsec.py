"""Mosquitto's dynamic security plugin: its state file, and the client of its control topic.

Every MQTT client authenticates. The services share one account (`service` role: the
device topics and the event bus) and the worker has a second one (`control` role) that
manages the broker's clients over `$CONTROL/dynamic-security/v1`. Each joined device
gets a client of its own: user name and client ID both its device ID, and the `device`
role, which lets it subscribe to command topics only. Which device topics it may publish
and receive is in deploy/mosquitto.acl, by pattern on the user name (`%u`): the plugin of
Mosquitto 2.0 has no patterns, and a role per device would double the plugin's work per
join (it rewrites its whole state file on every change).

`DynsecClient` lives on one event loop, like every AsyncMqttClient; activities await it.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import logging
import os
import uuid
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt

from adapters.mqtt.client import AsyncMqttClient, MiscTicker
from adapters.mqtt.credentials import MqttCredentials
from workflows.contracts.live import BROADCAST_TOPIC, DEVICE_TOPIC_PREFIX

log = logging.getLogger(__name__)

CONTROL_TOPIC = "$CONTROL/dynamic-security/v1"
RESPONSE_TOPIC = f"{CONTROL_TOPIC}/response"
SERVICE_ROLE = "edgewright-service"
CONTROL_ROLE = "edgewright-control"
DEVICE_ROLE = "edgewright-device"
# The plugin's own password hashing (Mosquitto 2.0: PBKDF2-SHA512, 12-byte salt).
_ITERATIONS = 101
_SALT_BYTES = 12
_HASH_BYTES = 64
# How long one control request may take before the activity that sent it retries.
REQUEST_TIMEOUT_SECONDS = 10.0
_GONE = {"Client not found"}
_EXISTS = {"Client already exists"}


class DynsecError(Exception):
    """The plugin refused a command (its answer's `error`)."""


def _acl(kind: str, topic: str, *, allow: bool = True, priority: int = 0) -> dict[str, Any]:
    return {"acltype": kind, "topic": topic, "allow": allow, "priority": priority}


def _roles() -> list[dict[str, Any]]:
    device_topics = f"{DEVICE_TOPIC_PREFIX}/#"
    # The device topics, the alerts, the event bus and the simulator's steering topics.
    service = [
        _acl(kind, topic)
        for kind in ("publishClientSend", "publishClientReceive", "subscribePattern")
        for topic in ("cloudcore/#", "edgewright/#")
    ]
    # The bridge's replicas share the device topics: `$share/{group}/...`.
    service.append(_acl("subscribePattern", f"$share/+/{device_topics}"))
    service.append(_acl("unsubscribePattern", "#"))
    control = [
        _acl(kind, f"{CONTROL_TOPIC}/#")
        for kind in ("publishClientSend", "publishClientReceive", "subscribePattern")
    ]
    control.append(_acl("publishClientSend", CONTROL_TOPIC))
    # Devices may subscribe to command topics and nothing else; which of them reach the
    # device is decided per user name in deploy/mosquitto.acl. A matching allow wins over
    # the catch-all deny because the plugin checks higher priorities first.
    device = [
        _acl("subscribePattern", f"{DEVICE_TOPIC_PREFIX}/+/command", priority=1),
        _acl("subscribeLiteral", BROADCAST_TOPIC, priority=1),
        _acl("subscribePattern", "#", allow=False),
    ]
    return [
        {"rolename": SERVICE_ROLE, "acls": service},
        {"rolename": CONTROL_ROLE, "acls": [*control, *service]},
        {"rolename": DEVICE_ROLE, "acls": device},
    ]


def _client_entry(credentials: MqttCredentials, role: str) -> dict[str, Any]:
    salt = os.urandom(_SALT_BYTES)
    digest = hashlib.pbkdf2_hmac(
        "sha512", credentials.password.encode(), salt, _ITERATIONS, _HASH_BYTES
    )
    return {
        "username": credentials.username,
        "textname": f"edgewright {role}",
        "roles": [{"rolename": role}],
        "password": base64.b64encode(digest).decode(),
        "salt": base64.b64encode(salt).decode(),
        "iterations": _ITERATIONS,
    }


def write_state(path: Path, *, service: MqttCredentials, control: MqttCredentials) -> None:
    """Create or update the plugin's state file, with the broker stopped.

    The services' two accounts and the roles are (re)written with the passwords given;
    every other client (the devices') is kept. Mode 0600: it holds password hashes.
    """
    state: dict[str, Any] = {"clients": [], "groups": [], "roles": []}
    if path.exists():
        state = json.loads(path.read_text(encoding="utf-8"))
    ours = {service.username, control.username}
    clients = [c for c in state.get("clients", []) if c.get("username") not in ours]
    clients += [_client_entry(service, SERVICE_ROLE), _client_entry(control, CONTROL_ROLE)]
    ours_roles = {SERVICE_ROLE, CONTROL_ROLE, DEVICE_ROLE}
    roles = [r for r in state.get("roles", []) if r.get("rolename") not in ours_roles]
    state.update(
        {
            # Nothing is allowed that a role does not allow.
            "defaultACLAccess": {
                "publishClientSend": False,
                "publishClientReceive": False,
                "subscribe": False,
                "unsubscribe": True,
            },
            "clients": clients,
            "roles": [*roles, *_roles()],
        }
    )
    partial = path.with_name(path.name + ".partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        json.dump(state, file, indent=1)
    os.replace(partial, path)


class DynsecClient:
    """Creates and deletes the devices' clients over the plugin's control topic."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        credentials: MqttCredentials,
        client_id: str,
        timeout: float = REQUEST_TIMEOUT_SECONDS,
    ) -> None:
        self._host, self._port = host, port
        self._credentials = credentials
        self._client_id = client_id
        self._timeout = timeout
        self._pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._mqtt: AsyncMqttClient | None = None
        self._subscribed = asyncio.Event()

    async def start(self) -> None:
        client = AsyncMqttClient(
            host=self._host,
            port=self._port,
            client_id=self._client_id,
            ticker=MiscTicker(),
            credentials=self._credentials,
            keepalive=30,
            reconnect_min_delay=1.0,
            reconnect_max_delay=10.0,
        )
        # Every replica of the worker sees every answer; correlationData picks out ours.
        client.on_connect = lambda: client.subscribe([(RESPONSE_TOPIC, 1)])
        client.on_subscribed = self._subscribed.set
        client.on_disconnect = self._subscribed.clear
        client.on_message = self._answer
        self._mqtt = client
        await client.start()

    async def stop(self) -> None:
        if self._mqtt is not None:
            await self._mqtt.close()
        for future in self._pending.values():
            future.cancel()

    async def create_device(self, device_id: str, password: str) -> None:
        """A client for the device, with this password; an existing one gets it too."""
        create = {
            "command": "createClient",
            "username": device_id,
            "password": password,
            "clientid": device_id,  # these credentials work for this client ID only
            "textname": f"device {device_id}",
            "roles": [{"rolename": DEVICE_ROLE}],
        }
        answer = await self._request(create)
        if answer.get("error") in _EXISTS:
            # A join of the same device again (or this one retried): the new password wins.
            reset = {"command": "setClientPassword", "username": device_id, "password": password}
            self._check(await self._request(reset))
            return
        self._check(answer)

    async def delete_device(self, device_id: str) -> bool:
        """Delete the device's client (the broker disconnects it); False when none was there."""
        answer = await self._request({"command": "deleteClient", "username": device_id})
        if answer.get("error") in _GONE:
            return False
        self._check(answer)
        return True

    # --- requests and answers ---------------------------------------------------------

    async def _request(self, command: dict[str, Any]) -> dict[str, Any]:
        client = self._mqtt
        if client is None:
            raise RuntimeError("DynsecClient.start() has not run")
        correlation = uuid.uuid4().hex
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[correlation] = future
        body = json.dumps({"commands": [{**command, "correlationData": correlation}]})
        try:
            async with asyncio.timeout(self._timeout):
                await self._subscribed.wait()
                client.publish(CONTROL_TOPIC, body, qos=1)
                return await future
        except TimeoutError:
            raise TimeoutError(
                f"the MQTT broker did not answer {command['command']} in {self._timeout:g}s"
            ) from None
        finally:
            self._pending.pop(correlation, None)

    def _answer(self, message: mqtt.MQTTMessage) -> None:
        with contextlib.suppress(ValueError, AttributeError, TypeError):
            for answer in json.loads(message.payload).get("responses", []):
                future = self._pending.get(str(answer.get("correlationData")))
                if future is not None and not future.done():
                    future.set_result(answer)

    @staticmethod
    def _check(answer: dict[str, Any]) -> None:
        error = answer.get("error")
        if error:
            raise DynsecError(f"{answer.get('command')}: {error}")
