"""Heartbeats as metric samples: the bridge's side of the one ingest path."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from store.devices.presence import Heartbeat
from store.monitoring.samples import Sample, node_ids, record_samples
from store.monitoring.values import from_heartbeat


async def record_heartbeats(session: AsyncSession, *, beats: Sequence[Heartbeat]) -> int:
    """A sample per heartbeat of a known device that measured anything; one statement."""
    readings = [(beat, from_heartbeat(beat.usage)) for beat in beats]
    readings = [(beat, values) for beat, values in readings if not values.empty]
    if not readings:
        return 0
    nodes = await node_ids(session, device_ids=[beat.device_id for beat, _ in readings])
    samples = [
        Sample(node_id=nodes[beat.device_id], ts=int(beat.at.timestamp()), values=values)
        for beat, values in readings
        if beat.device_id in nodes
    ]
    return await record_samples(session, samples=samples)
