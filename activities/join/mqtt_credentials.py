"""A device's own MQTT account: issued when it joins, revoked when it leaves.

The password is derived (HMAC) from the root secret and a per-join ID the workflow
draws, so a retried step issues the same password again. The broker gets it (the
dynamic security plugin keeps its own salted hash), the node gets it in a Secret beside
its edgecore ConfigMap, our store keeps only its sha256, and the workflow gets it sealed
(store.sealing), so Temporal history never holds it in clear. It is never logged.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from store.devices import mqtt_credentials
from store.sealing import seal
from store.settings import Settings
from workflows.contracts.join import IssuedMqttCredentials, JoinActivity, MqttCredentialsInput

PASSWORD_PURPOSE = "edgewright/mqtt-device/v1"  # noqa: S105 (a key derivation label)


class DeviceAccounts(Protocol):
    """The broker's side: adapters.mqtt.dynsec.DynsecClient."""

    async def create_device(self, device_id: str, password: str) -> None: ...

    async def delete_device(self, device_id: str) -> bool: ...


class MqttSecrets(Protocol):
    """The node's side: activities.join.kubernetes.KubeActivities (sync: run in a thread)."""

    def apply_mqtt_secret(
        self, *, namespace: str, node_name: str, device_id: str, host: str, port: int, password: str
    ) -> None: ...

    def delete_mqtt_secret(self, *, namespace: str, node_name: str) -> None: ...


def device_password(settings: Settings, *, device_id: str, credential_id: str) -> str:
    """256 bits, URL-safe: the same for the same join, unguessable without the root secret."""
    key = settings.derived_key(PASSWORD_PURPOSE)
    digest = hmac.new(key, f"{device_id}/{credential_id}".encode(), "sha256").digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


class MqttCredentialActivities:
    def __init__(
        self,
        *,
        settings: Settings,
        sessions: async_sessionmaker[AsyncSession],
        secrets: MqttSecrets,
        broker: DeviceAccounts | None,
    ) -> None:
        self._settings = settings
        self._sessions = sessions
        self._secrets = secrets
        # None: no control account is configured (amqtt), so the broker checks nothing and
        # the device's account exists only in the Secret and the store.
        self._broker = broker

    @activity.defn(name=JoinActivity.ISSUE_MQTT_CREDENTIALS)
    async def issue_mqtt_credentials(self, inp: MqttCredentialsInput) -> IssuedMqttCredentials:
        password = device_password(
            self._settings, device_id=inp.device_id, credential_id=inp.credential_id
        )
        if self._broker is not None:
            await self._broker.create_device(inp.device_id, password)
        settings = self._settings
        await asyncio.to_thread(
            self._secrets.apply_mqtt_secret,
            namespace=inp.namespace,
            node_name=inp.node_name,
            device_id=inp.device_id,
            host=settings.mqtt_device_host or settings.mqtt_host,
            port=settings.mqtt_port,
            password=password,
        )
        async with self._sessions() as session, session.begin():
            await mqtt_credentials.record(
                session, device_id=inp.device_id, username=inp.device_id, password=password
            )
        activity.logger.info("MQTT account issued for device %s", inp.device_id)
        return IssuedMqttCredentials(
            username=inp.device_id, sealed_password=seal(self._settings, password)
        )

    @activity.defn(name=JoinActivity.REVOKE_MQTT_CREDENTIALS)
    async def revoke_mqtt_credentials(self, inp: MqttCredentialsInput) -> None:
        await self.revoke(device_id=inp.device_id, node_name=inp.node_name, namespace=inp.namespace)

    async def revoke(self, *, device_id: str, node_name: str, namespace: str) -> bool:
        """Delete the broker's client (which disconnects the device), the Secret and the
        hash; True when the broker had a client to delete."""
        deleted = False
        if self._broker is not None:
            deleted = await self._broker.delete_device(device_id)
        await asyncio.to_thread(
            self._secrets.delete_mqtt_secret, namespace=namespace, node_name=node_name
        )
        async with self._sessions() as session, session.begin():
            await mqtt_credentials.forget(session, device_id=device_id)
        activity.logger.info("MQTT account of device %s revoked", device_id)
        return deleted
