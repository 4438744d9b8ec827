"""What a device last said about itself, from either way it reports.

A device reports over MQTT (heartbeats on its status topic, kept by the bridge in the
`presence_*` columns) or over the Edge API (PUT /api/v1/nodes/{id}/status: `last_seen`,
`usage`); its Node's heartbeat comes from the node sync. The views show the newest of
each, in the CloudCore document's style ("45%", "2.3GB/8GB", "65°C").
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Protocol

# A report over the Edge API this recent means online (heartbeats have the bridge's
# presence, which turns offline on a last will or silence).
ONLINE_WINDOW = timedelta(minutes=2)


class Reports(Protocol):
    @property
    def last_seen(self) -> datetime | None: ...
    @property
    def node_ready(self) -> bool | None: ...
    @property
    def node_heartbeat_at(self) -> datetime | None: ...
    @property
    def presence_online(self) -> bool: ...
    @property
    def presence_heartbeat_at(self) -> datetime | None: ...


class UsageReports(Reports, Protocol):
    @property
    def usage(self) -> dict[str, Any] | None: ...
    @property
    def usage_reported_at(self) -> datetime | None: ...
    @property
    def presence_usage(self) -> dict[str, Any] | None: ...


def last_heartbeat(row: Reports) -> datetime | None:
    seen = [
        moment
        for moment in (row.last_seen, row.node_heartbeat_at, row.presence_heartbeat_at)
        if moment is not None
    ]
    return max(seen) if seen else None


def is_online(row: Reports, *, now: datetime) -> bool:
    if row.presence_online or row.node_ready:
        return True
    return row.last_seen is not None and now - row.last_seen <= ONLINE_WINDOW


def latest_usage(row: UsageReports) -> tuple[dict[str, Any], datetime | None]:
    """The newer of the last heartbeat's readings and the last Edge API report's."""
    heartbeat = (row.presence_usage or {}, row.presence_heartbeat_at)
    reported = (row.usage or {}, row.usage_reported_at)
    candidates = [c for c in (heartbeat, reported) if c[0]]
    if not candidates:
        return {}, None
    return max(candidates, key=lambda c: c[1].timestamp() if c[1] else float("-inf"))


def shown(usage: dict[str, Any]) -> dict[str, str | None]:
    """cpu_usage, memory_usage and temperature as the CloudCore document writes them.

    Text is shown as the device wrote it ("45%", "2.3GB", or "2.5" cores over the Edge
    API); bare numbers get the document's units (%, GB, °C).
    """

    def pick(*keys: str) -> Any:
        return next((usage[key] for key in keys if usage.get(key) is not None), None)

    def text(value: Any, unit: str) -> str | None:
        if value is None or isinstance(value, bool):
            return None
        if isinstance(value, int | float):
            return f"{value:g}{unit}"
        return str(value)[:64]

    memory = text(pick("memory_usage", "memory"), "GB")
    total = text(pick("memory_total"), "GB")
    if memory is not None and total is not None and "/" not in memory:
        memory = f"{memory}/{total}"
    return {
        "cpu_usage": text(pick("cpu_usage", "cpu"), "%"),
        "memory_usage": memory,
        "temperature": text(pick("temperature"), "°C"),
    }


def apps_of(usage: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The applications a heartbeat listed, if it listed any (None: it said nothing)."""
    apps = usage.get("apps")
    if not isinstance(apps, list):
        return None
    return [app if isinstance(app, dict) else {"name": str(app)[:253]} for app in apps[:256]]
