"""The sandbox's stand-in for edgecore: join through the API, register the Node, keep it Ready.

For a device not joined yet it asks our API to join it (`POST /api/kubeedge/device/join`,
as an operator would), takes the join token from the `keadm join` line it gets back,
and presents it to `POST /api/kubeedge/token/validate` as edgecore would to CloudCore:
an expired, revoked or already used token is refused and the device does not join.
The device's own MQTT account comes with the join answer; a device joined before reads
it from its node's Secret (`edgecore-mqtt-{node}`), as edgecore reads its configuration.
Then it registers the Node with the edge labels and reports it Ready (and refreshes
that) while the device is online; when the device drops off it reports the Node not
Ready, standing in for the node lifecycle controller the sandbox lacks.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import time
from dataclasses import dataclass
from typing import Any

import aiohttp
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from adapters.mqtt.credentials import MqttCredentials
from simulator.device import DeviceSpec
from workflows.contracts.join import edgecore_mqtt_secret_name

log = logging.getLogger(__name__)

EDGE_NODE_LABELS = {"node-role.kubernetes.io/edge": "", "node-role.kubernetes.io/agent": ""}
MERGE_PATCH = "application/merge-patch+json"
KUBELET_VERSION = "v1.30.7-kubeedge-v1.21.0"


class JoinRefused(Exception):
    """The API refused the device's join token (expired, revoked, used, not ours)."""


@dataclass(frozen=True, kw_only=True)
class ApiAccess:
    base_url: str
    # An API key or a login token, sent as a bearer token (the API takes both); or a
    # user name and password to log in with.
    credential: str | None = None
    login: tuple[str, str] | None = None


@dataclass(frozen=True, kw_only=True)
class JoinAnswer:
    token: str | None  # None: joined before (with another body), nothing to present
    mqtt: MqttCredentials | None = None


def token_of(join_command: str) -> str:
    for word in join_command.split():
        if word.startswith("--token="):
            return word.split("=", 1)[1]
    raise ValueError("the join command carries no --token")


class ApiJoiner:
    """The API calls an operator and edgecore make for one device."""

    def __init__(self, *, http: aiohttp.ClientSession, access: ApiAccess) -> None:
        self._http = http
        self._access = access
        self._token = access.credential

    async def _headers(self, *, fresh: bool = False) -> dict[str, str]:
        if self._access.login is not None and (self._token is None or fresh):
            username, password = self._access.login
            url = f"{self._access.base_url}/api/auth/login"
            body = {"username": username, "password": password}
            async with self._http.post(url, json=body) as answer:
                if answer.status != 200:
                    raise RuntimeError(f"the simulator cannot log in as {username!r}")
                self._token = (await answer.json())["token"]
        return {"Authorization": f"Bearer {self._token}"} if self._token else {}

    async def join(self, spec: DeviceSpec) -> JoinAnswer:
        """Join the device: its token (None when it already was joined) and MQTT account."""
        body: dict[str, Any] = {"node_name": spec.node_name, "device_id": spec.device_id}
        if spec.device_type:
            body["device_type"] = spec.device_type
        delay = 1.0
        fresh = False
        while True:
            url = f"{self._access.base_url}/api/kubeedge/device/join"
            headers = await self._headers(fresh=fresh)
            async with self._http.post(url, json=body, headers=headers) as answer:
                payload = await answer.json(content_type=None)
                status = answer.status
            if status == 200 and payload.get("join_command"):
                return JoinAnswer(token=token_of(payload["join_command"]), mqtt=_mqtt(payload))
            if status == 409:
                return JoinAnswer(token=None)  # joined before with another body
            if status == 401 and self._access.login is not None and not fresh:
                fresh = True  # the login token expired: log in again, once
                continue
            fresh = False
            if status in (400, 401, 403, 404):
                raise RuntimeError(f"join of {spec.device_id} refused ({status}): {payload}")
            # 202 (still provisioning), 429, 503: the same POST again picks the run up.
            await asyncio.sleep(delay)
            delay = min(delay * 2, 15.0)

    async def validate(self, spec: DeviceSpec, token: str) -> None:
        url = f"{self._access.base_url}/api/kubeedge/token/validate"
        headers = {"Authorization": f"Bearer {token}"}
        async with self._http.post(url, json={"node_name": spec.node_name}, headers=headers) as r:
            payload = await r.json(content_type=None)
            if r.status != 200:
                reason = (payload.get("details") or {}).get("reason", payload.get("message"))
                raise JoinRefused(f"{spec.device_id}: join token refused: {reason}")


def _mqtt(payload: dict[str, Any]) -> MqttCredentials | None:
    access = payload.get("mqtt")
    if not isinstance(access, dict) or not access.get("password"):
        return None
    return MqttCredentials(username=str(access["username"]), password=str(access["password"]))


class NodeRegistry:
    """The Node objects edgecore maintains, through the official client (sync, in threads)."""

    def __init__(self, *, api_client: client.ApiClient, namespace: str = "kubeedge") -> None:
        self._core = client.CoreV1Api(api_client)
        self._namespace = namespace  # of the nodes' ConfigMaps and MQTT Secrets

    async def mqtt_account(self, node_name: str) -> MqttCredentials | None:
        """The device's MQTT account from its node's Secret; None when there is none."""
        return await asyncio.to_thread(self._mqtt_account, node_name)

    def _mqtt_account(self, node_name: str) -> MqttCredentials | None:
        name = edgecore_mqtt_secret_name(node_name)
        try:
            secret = self._core.read_namespaced_secret(name, self._namespace)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
        data = secret.data or {}
        try:
            username, password = (
                base64.b64decode(data[key]).decode() for key in ("username", "password")
            )
        except (KeyError, binascii.Error, UnicodeDecodeError):
            return None
        return MqttCredentials(username=username, password=password)

    async def report(self, node_name: str, *, ready: bool) -> None:
        await asyncio.to_thread(self._report, node_name, ready)

    def _report(self, node_name: str, ready: bool) -> None:
        metadata = {"name": node_name, "labels": dict(EDGE_NODE_LABELS)}
        try:
            self._core.create_node({"apiVersion": "v1", "kind": "Node", "metadata": metadata})
        except ApiException as exc:
            if exc.status != 409:
                raise
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        condition = {
            "type": "Ready",
            "status": "True" if ready else "Unknown",
            "reason": "EdgeReady" if ready else "NodeStatusUnknown",
            "lastHeartbeatTime": now,
            "lastTransitionTime": now,
        }
        # Every field the client's NodeSystemInfo model insists on, as edgecore reports them.
        node_info = {
            "architecture": "amd64",
            "bootID": f"boot-{node_name}",
            "containerRuntimeVersion": "containerd://1.7.24",
            "kernelVersion": "6.1.0-28-amd64",
            "kubeProxyVersion": "",
            "kubeletVersion": KUBELET_VERSION,
            "machineID": f"machine-{node_name}",
            "operatingSystem": "linux",
            "osImage": "Debian GNU/Linux 12 (bookworm)",
            "systemUUID": f"uuid-{node_name}",
        }
        status = {"conditions": [condition], "nodeInfo": node_info}
        # Status is a subresource on a real API server: a create or a plain patch ignores it.
        self._core.patch_node_status(node_name, {"status": status}, _content_type=MERGE_PATCH)
