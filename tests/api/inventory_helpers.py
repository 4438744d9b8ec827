"""Put inventory rows, tokens and observed state straight into an API test app's store."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import FastAPI

from api.core.state import app_sessions
from store import cloudcore as observed
from store.devices import inventory as devices
from store.devices import node_facts, tokens
from store.models import utcnow


async def add_devices(app: FastAPI, count: int, *, prefix: str = "dev") -> list[str]:
    """`count` joined devices with a Ready Node each; returns their device_ids, sorted."""
    ids = [f"{prefix}-{i:05d}" for i in range(count)]
    now = utcnow()
    async with app_sessions(app)() as session, session.begin():
        for device_id in ids:
            await devices.upsert_device(
                session,
                device_id=device_id,
                node_name=f"node-{device_id}",
                status="joined",
                device_type="camera",
                configuration={"runtime": "containerd"},
            )
        facts = [
            node_facts.NodeFacts(
                node_name=f"node-{device_id}",
                ready=True,
                roles=["agent", "edge"],
                version="v1.29.5-kubeedge-v1.18.0",
                addresses=[{"type": "InternalIP", "address": "192.168.1.100"}],
                pods=1,
                apps=[{"name": "edge-app", "status": "Running", "image": "edge-app", "port": 5001}],
                created_at=now - timedelta(days=2),
                ready_since=now - timedelta(days=2),
                heartbeat_at=now,
            )
            for device_id in ids
        ]
        await node_facts.apply_node_facts(session, facts=facts, observed_at=now)
    return ids


async def add_token(
    app: FastAPI, *, token_id: str, node_name: str, hours: float = 72, device_id: str | None = None
) -> None:
    async with app_sessions(app)() as session, session.begin():
        await tokens.record_token(
            session,
            token_id=token_id,
            token=f"secret-{token_id}",
            node_name=node_name,
            device_id=device_id,
            expires_at=utcnow() + timedelta(hours=hours),
            description="Factory floor device",
        )


async def observe(app: FastAPI, key: str, value: dict[str, Any]) -> None:
    async with app_sessions(app)() as session, session.begin():
        await observed.save_observed(session, key=key, value=value, observed_at=utcnow())
