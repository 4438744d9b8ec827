"""Report what the worker sees of Kubernetes and MQTT into the store, for /api/health."""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from activities.join.kubernetes import KubeActivities
from adapters.kubernetes.client import KubeTarget
from adapters.mqtt.publisher import MqttPublisher
from store.health import record_health

log = logging.getLogger(__name__)
INTERVAL_SECONDS = 15.0


async def report_once(
    *,
    sessions: async_sessionmaker[AsyncSession],
    target: KubeTarget,
    kube: KubeActivities,
    publisher: MqttPublisher,
) -> None:
    try:
        version = await asyncio.to_thread(kube.ping)
        kube_status, kube_detail = "connected", f"{target.description}; server {version}"
    except Exception as err:  # any failure means "not reachable" for a health report
        kube_status, kube_detail = "disconnected", f"{target.description}; {err}"
    mqtt_status = "connected" if publisher.connected else "disconnected"
    async with sessions() as session, session.begin():
        await record_health(
            session, name="kubernetes", status=kube_status, mode=target.mode, detail=kube_detail
        )
        await record_health(
            session, name="mqtt", status=mqtt_status, mode=None, detail=publisher.address
        )


async def report_forever(
    *,
    sessions: async_sessionmaker[AsyncSession],
    target: KubeTarget,
    kube: KubeActivities,
    publisher: MqttPublisher,
) -> None:
    while True:
        try:
            await report_once(sessions=sessions, target=target, kube=kube, publisher=publisher)
        except Exception:
            log.exception("could not record component health")
        await asyncio.sleep(INTERVAL_SECONDS)
