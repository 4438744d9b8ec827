"""Heartbeats as metric samples: the bridge's side of the one ingest path."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from store.devices.presence import Heartbeat
from store.monitoring.samples import DeviceSample, record_device_samples
from store.monitoring.values import from_heartbeat


async def record_heartbeats(session: AsyncSession, *, beats: Sequence[Heartbeat]) -> int:
    """A sample per heartbeat of a known device that measured anything; one statement."""
    samples = [
        DeviceSample(device_id=beat.device_id, ts=int(beat.at.timestamp()), values=values)
        for beat in beats
        if not (values := from_heartbeat(beat.usage)).empty
    ]
    return await record_device_samples(session, samples=samples)
