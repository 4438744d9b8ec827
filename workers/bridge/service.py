"""The bridge's parts wired together; `python -m workers.bridge` and the tests run this."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from adapters.mqtt.client import AsyncMqttClient, MiscTicker
from adapters.mqtt.credentials import service_credentials
from store.health import BRIDGE_LAG_FIGURE, encode_figures, record_health
from store.settings import Settings
from workers.bridge.durable import DurableSession
from workers.bridge.events import BusEvents
from workers.bridge.ingest import Ingest, durable_subscriptions, live_subscriptions
from workers.bridge.metrics import BridgeMetrics, BridgeReading
from workers.bridge.names import NodeNames
from workers.bridge.presence import Departure, PresenceBatcher
from workers.bridge.signals import WorkflowSignals

log = logging.getLogger(__name__)

REPORT_EVERY_SECONDS = 15.0


@dataclass(frozen=True, kw_only=True)
class Bridge:
    mqtt: AsyncMqttClient  # this replica's live connection
    durable: DurableSession  # the group's durable session, while this replica holds it
    ingest: Ingest
    batcher: PresenceBatcher
    signals: WorkflowSignals
    events: BusEvents
    metrics: BridgeMetrics
    # The live connection's SUBACK came (cleared while it is down): heartbeats and events
    # published before it are not delivered to this replica.
    subscribed: asyncio.Event

    def reading(self) -> BridgeReading:
        return BridgeReading(
            messages=dict(self.ingest.counts),
            events_published=self.events.published,
            late_results=self.signals.late_results,
            undeliverable_results=self.signals.undeliverable,
            refused_results=self.signals.refused,
            rows_written=self.batcher.rows_written,
            flushes=self.batcher.flushes,
            pending=self.batcher.pending,
            lag_seconds=self.batcher.lag_seconds(),
            mqtt_connected=self.mqtt.is_connected,
        )


def client_id(settings: Settings) -> str:
    return settings.bridge_client_id or f"edgewright-bridge-{socket.gethostname()}"


@asynccontextmanager
async def running_bridge(
    *, settings: Settings, temporal: Client, sessions: async_sessionmaker[AsyncSession]
) -> AsyncIterator[Bridge]:
    # A clean session: it leaves the share group the moment this replica goes, so the
    # group's heartbeats go to the replicas that are there. Results and last wills come
    # on the durable session (workers.bridge.durable).
    mqtt = AsyncMqttClient(
        host=settings.mqtt_host,
        port=settings.mqtt_port,
        client_id=client_id(settings),
        ticker=MiscTicker(interval=1.0),
        credentials=service_credentials(settings),
        clean_session=True,
        keepalive=30,
    )
    events = BusEvents(mqtt=mqtt)
    names = NodeNames(sessions=sessions)
    signals = WorkflowSignals(client=temporal, sessions=sessions, events=events)
    ingest_ref: list[Ingest] = []

    async def on_online(device_ids: Sequence[str]) -> None:
        ingest_ref[0].on_online(list(device_ids))
        try:
            await signals.devices_online(device_ids)
        except Exception:  # hints only: the waiting runs also look for themselves
            log.exception("could not wake the runs waiting for %d devices", len(device_ids))

    def on_left(departures: Sequence[Departure]) -> None:
        ingest_ref[0].on_left(list(departures))

    metrics = BridgeMetrics()
    batcher = PresenceBatcher(
        sessions=sessions,
        flush_interval=settings.bridge_flush_interval_seconds,
        offline_after=settings.device_offline_after_seconds,
        on_online=on_online,
        on_left=on_left,
        on_flushed=metrics.flushed,
    )
    ingest = Ingest(
        mqtt_client=mqtt,
        batcher=batcher,
        signals=signals,
        events=events,
        names=names,
        max_result_bytes=settings.bridge_max_result_bytes,
    )
    ingest_ref.append(ingest)
    topics = live_subscriptions(settings.bridge_share_group)
    mqtt.on_message = ingest.on_message
    mqtt.on_connect = lambda: mqtt.subscribe(topics)
    subscribed = asyncio.Event()
    mqtt.on_subscribed = subscribed.set
    mqtt.on_disconnect = subscribed.clear
    durable = DurableSession(
        settings=settings,
        sessions=sessions,
        replica=client_id(settings),
        subscriptions=durable_subscriptions(),
        on_message=ingest.on_durable,
    )
    bridge = Bridge(
        mqtt=mqtt,
        durable=durable,
        ingest=ingest,
        batcher=batcher,
        signals=signals,
        events=events,
        metrics=metrics,
        subscribed=subscribed,
    )
    metrics.watch(bridge.reading)
    await mqtt.start()
    tasks = [
        asyncio.create_task(durable.run(), name="bridge-durable"),
        asyncio.create_task(batcher.run(), name="bridge-presence"),
        asyncio.create_task(_refresh_names(names), name="bridge-names"),
        asyncio.create_task(_report(bridge, sessions=sessions), name="bridge-report"),
    ]
    log.info(
        "bridge subscribed to %s; durable session %s when it holds the lease",
        ", ".join(topic for topic, _ in topics),
        durable.client_id,
    )
    try:
        yield bridge
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await ingest.drain()  # the results under way are delivered and acknowledged
        with contextlib.suppress(Exception):
            await batcher.flush()  # what was received is written before the bridge goes
        await durable.stop()  # the session stays in the broker; the lease goes to another
        events.flush()
        await mqtt.close()


async def _refresh_names(names: NodeNames) -> None:
    while True:
        await asyncio.sleep(2.0)
        try:
            await names.refresh()
        except Exception:
            log.exception("could not look up node names")


async def _report(bridge: Bridge, *, sessions: async_sessionmaker[AsyncSession]) -> None:
    """Health row for /api/health, and a log line of what went through."""
    while True:
        await asyncio.sleep(REPORT_EVERY_SECONDS)
        counts = bridge.ingest.counts
        # name=value pairs: the API's health figures read the lag back (store.health).
        detail = encode_figures(
            {
                "status": counts["status"],
                "results": counts["result"],
                "detections": counts["detection"],
                "malformed": counts["malformed"],
                "rows_written": bridge.batcher.rows_written,
                "samples": bridge.batcher.samples_written,
                "pending": bridge.batcher.pending,
                "events": bridge.events.published,
                "late_results": bridge.signals.late_results,
                "too_large": counts["too_large"],
                "undeliverable": bridge.signals.undeliverable,
                "refused": bridge.signals.refused,
                "left": counts["left"],
                "durable": "held" if bridge.durable.holding else "standby",
                BRIDGE_LAG_FIGURE: round(bridge.batcher.lag_seconds(), 3),
            }
        )
        log.info("bridge: %s", detail)
        status = "connected" if bridge.mqtt.is_connected else "disconnected"
        try:
            async with sessions() as session, session.begin():
                await record_health(session, name="bridge", status=status, mode=None, detail=detail)
        except Exception:
            log.exception("could not record bridge health")
