"""Report what the worker sees of Kubernetes, CloudCore and MQTT into the store, for /api/health.

CloudCore is read where it runs: its Deployment (available replicas), pods and Service in
the KubeEdge namespace, as `GET /api/kubeedge/cloudcore/status` shows it; each report also
records that snapshot for the status endpoint, so both are fresh from the worker's start.
It also records the certificates CloudCore keeps in its Secrets (public facts only), for
`GET /api/kubeedge/security/certificates`.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from activities.certificates.observe import read_certificates
from activities.devices.sync import read_cloudcore
from activities.join.kubernetes import KubeActivities
from adapters.kubernetes.client import KubeTarget
from adapters.kubernetes.reads import KubeReader
from adapters.mqtt.publisher import MqttPublisher
from store import cloudcore as observed
from store.certificates import save_certificates
from store.health import record_health
from store.models import utcnow

log = logging.getLogger(__name__)
INTERVAL_SECONDS = 15.0
UNKNOWN = "unknown"


@dataclass(frozen=True, kw_only=True)
class HealthReporter:
    sessions: async_sessionmaker[AsyncSession]
    target: KubeTarget
    kube: KubeActivities
    publisher: MqttPublisher
    kubeedge_namespace: str

    async def report_once(self) -> None:
        target = self.target
        # Before the reads: a snapshot read later (a renewal's record) is not overwritten.
        observed_at = utcnow()
        try:
            version = await asyncio.to_thread(self.kube.ping)
            kube_status, kube_detail = "connected", f"{target.description}; server {version}"
        except Exception as err:  # any failure means "not reachable" for a health report
            kube_status, kube_detail = "disconnected", f"{target.description}; {err}"
        snapshot, cloudcore_detail = await self._read_cloudcore()
        certificates = await self._read_certificates()
        cloudcore_status = str(snapshot["status"]) if snapshot else UNKNOWN
        mqtt_status = "connected" if self.publisher.connected else "disconnected"
        async with self.sessions() as session, session.begin():
            await record_health(
                session, name="kubernetes", status=kube_status, mode=target.mode, detail=kube_detail
            )
            await record_health(
                session,
                name="cloudcore",
                status=cloudcore_status,
                mode=target.mode,
                detail=cloudcore_detail,
            )
            await record_health(
                session, name="mqtt", status=mqtt_status, mode=None, detail=self.publisher.address
            )
            if snapshot is not None:
                await observed.save_observed(
                    session, key=observed.CLOUDCORE, value=snapshot, observed_at=observed_at
                )
            if certificates is not None:
                await save_certificates(session, snapshot=certificates, observed_at=observed_at)

    async def _read_cloudcore(self) -> tuple[dict[str, Any] | None, str]:
        namespace = self.kubeedge_namespace
        where = f"Deployment {namespace}/cloudcore"
        try:
            reader = KubeReader(target=self.target)
            snapshot = await asyncio.to_thread(read_cloudcore, reader, namespace=namespace)
        except Exception as err:  # unreadable: we do not know, and say why
            return None, f"could not read {where}: {err}"
        if snapshot["status"] == "not_deployed":
            return snapshot, f"no {where}"
        detail = (
            f"{where}: {snapshot['available_replicas']} of {snapshot['replicas']} replicas "
            f"available, image {snapshot['image']}"
        )
        return snapshot, detail

    async def _read_certificates(self) -> dict[str, Any] | None:
        """None when the Secrets cannot be read now: the last snapshot stays."""
        try:
            reader = KubeReader(target=self.target)
            return await asyncio.to_thread(
                read_certificates, reader.core, namespace=self.kubeedge_namespace
            )
        except Exception as err:  # health reporting goes on; the list says when it last read
            log.warning("could not read CloudCore's certificates: %s", err)
            return None

    async def report_forever(self) -> None:
        while True:
            try:
                await self.report_once()
            except Exception:
                log.exception("could not record component health")
            await asyncio.sleep(INTERVAL_SECONDS)
