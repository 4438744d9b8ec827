"""Answer of GET /api/kubeedge/metrics/health."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from api.core.probes import Overall


class RequestFigures(BaseModel):
    window_seconds: float = Field(description="How far back these figures look")
    requests: int = Field(description="Requests answered in the window")
    rate_per_second: float
    error_rate: float = Field(description="Share of 5xx answers in the window, 0..1")
    latency_p95_ms: float | None = Field(description="None before the first request")


class BridgeFigures(BaseModel):
    lag_seconds: float | None = Field(
        description="Age of the oldest heartbeat the bridge had yet to write at its last "
        "report; None until a bridge reported"
    )
    reported_at: datetime | None


class StoreFigures(BaseModel):
    size_bytes: int
    devices: int
    devices_online: int


class BackupFigures(BaseModel):
    last_good_at: datetime | None
    age_seconds: float | None = Field(description="None while no backup has completed")


class MetricsHealth(BaseModel):
    status: Overall
    timestamp: datetime
    uptime_seconds: float = Field(description="Since this API process started")
    requests: RequestFigures
    bridge: BridgeFigures
    store: StoreFigures
    backups: BackupFigures
