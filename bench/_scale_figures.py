"""Sizes for docs/scaling.md: the store's tables, Temporal's file, one history of each kind."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.service import RPCError

# What joins, commands and rollouts write; the rest of the schema stays near empty.
TABLES = (
    "devices",
    "join_tokens",
    "mqtt_credentials",
    "batch_devices",
    "commands",
    "workload_nodes",
    "metric_samples",
    "webhook_deliveries",
)


async def store_bytes(sessions: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    """PostgreSQL's own figures: each table with its indexes and TOAST, and the database."""
    sizes = {}
    async with sessions() as session:
        for table in TABLES:
            size = await session.scalar(text(f"SELECT pg_total_relation_size('{table}')"))
            rows = await session.scalar(text(f"SELECT count(*) FROM {table}"))  # noqa: S608
            sizes[table] = int(size or 0)
            sizes[f"{table}_rows"] = int(rows or 0)
        database = await session.scalar(text("SELECT pg_database_size(current_database())"))
        sizes["database"] = int(database or 0)
    return sizes


def temporal_bytes(db_file: Path) -> int:
    """The dev server's SQLite file with its write-ahead log."""
    return sum(
        path.stat().st_size
        for path in (db_file, db_file.with_name(db_file.name + "-wal"))
        if path.exists()
    )


def broker_state(path: Path) -> dict[str, int]:
    """Mosquitto's dynamic security file: the plugin rewrites all of it on every change."""
    if not path.exists():
        return {"clients": 0, "file_bytes": 0}
    clients = json.loads(path.read_text()).get("clients", [])
    return {"clients": len(clients), "file_bytes": path.stat().st_size}


async def _history(client: Client, workflow_id: str) -> dict[str, int] | None:
    try:
        history = await client.get_workflow_handle(workflow_id).fetch_history()
    except RPCError:
        return None
    return {
        "events": len(history.events),
        "bytes": sum(event.ByteSize() for event in history.events),
    }


async def history_sizes(
    address: str,
    *,
    device: str,
    commands: dict[str, str],
    batch: str,
    rollout: dict[str, Any],
) -> dict[str, dict[str, int] | None]:
    """Events and bytes of one run of each kind the benchmark started."""
    client = await Client.connect(address)
    answered = next((c for c, want in commands.items() if want == "completed"), None)
    hanging = next((c for c, want in commands.items() if want == "timed_out"), None)
    ids = {
        "device_join": f"device-join/{device}",
        "batch_join": f"batch-join/{batch}",
        "command_answered": f"command/{answered}",
        "command_timed_out": f"command/{hanging}",
        "rollout": f"rollout/{rollout['workload_id']}/1",
    }
    return {kind: await _history(client, workflow_id) for kind, workflow_id in ids.items()}
