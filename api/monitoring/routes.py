"""CloudCore contract: the fleet's figures (`GET /api/kubeedge/metrics`).

Everything comes from the store: devices and their presence, today's detection counts,
the commands' round trips, the store's and the backups' sizes, the firing alerts.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi import APIRouter
from pydantic import BaseModel, Field

from api.core.deps import SessionDep, ViewerUser
from api.core.humanize import human_size
from api.devices.heartbeats import ONLINE_WINDOW
from api.devices.schemas import latency_text
from store.models import utcnow
from store.monitoring import alerts, fleet
from store.monitoring.detections import day_of, detections_on

router = APIRouter(prefix="/api/kubeedge", tags=["monitoring"])

# Round trips of the commands answered in this window make the average latency.
LATENCY_WINDOW = timedelta(hours=24)
ACTIVE_ALERTS_SHOWN = 100


class Storage(BaseModel):
    store_bytes: int | None = Field(description="The SQL store (SQLite file or PostgreSQL db)")
    backups_bytes: int = Field(description="Completed backups not yet pruned")


class Summary(BaseModel):
    total_devices: int
    online_devices: int
    offline_devices: int
    total_detections_today: int = Field(description="Detections reported today (UTC)")
    average_latency: str | None = Field(
        description="Mean command round trip over the last 24 h; null if none answered",
        examples=["45ms"],
    )
    storage_used: str | None = Field(description="Store and backups together", examples=["45GB"])
    # ours
    storage: Storage


class ActiveAlert(BaseModel):
    device_id: str
    type: str = Field(description="The rule's name (high_cpu, device_offline, ...)")
    message: str
    timestamp: datetime = Field(description="When it fired")
    # ours
    id: int
    severity: str


class FleetSummary(BaseModel):
    timestamp: datetime
    summary: Summary
    devices_by_type: dict[str, int] = Field(description='Device types; "unknown" when unset')
    alerts: list[ActiveAlert] = Field(
        description=f"Firing alerts, newest first (at most {ACTIVE_ALERTS_SHOWN}; "
        "all of them at /api/kubeedge/alerts?state=firing)"
    )


@router.get("/metrics", response_model=FleetSummary)
async def fleet_summary(_user: ViewerUser, session: SessionDep) -> FleetSummary:
    now = utcnow()
    firing, _ = await alerts.list_alerts(
        session, state=alerts.FIRING, device_id=None, offset=0, limit=ACTIVE_ALERTS_SHOWN
    )
    total, online = await fleet.device_counts(session, now=now, online_window=ONLINE_WINDOW)
    latency = await fleet.average_round_trip_ms(session, since=now - LATENCY_WINDOW)
    storage = Storage(
        store_bytes=await fleet.store_bytes(session),
        backups_bytes=await fleet.backups_bytes(session),
    )
    return FleetSummary(
        timestamp=now,
        summary=Summary(
            total_devices=total,
            online_devices=online,
            offline_devices=total - online,
            total_detections_today=await detections_on(session, day=day_of(now)),
            average_latency=latency_text(latency),
            storage_used=human_size((storage.store_bytes or 0) + storage.backups_bytes),
            storage=storage,
        ),
        devices_by_type=await fleet.devices_by_type(session),
        alerts=[
            ActiveAlert(
                device_id=row.device_id,
                type=row.rule,
                message=row.message,
                timestamp=row.started_at or row.pending_since,
                id=row.id,
                severity=row.severity,
            )
            for row in firing
        ],
    )
