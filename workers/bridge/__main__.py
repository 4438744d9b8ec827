"""`python -m workers.bridge`: the MQTT bridge, until SIGINT/SIGTERM.

Takes heartbeats and detections as a member of an MQTT shared subscription group (so
replicas split the load), and results and last wills on the group's one durable session
while it holds its lease (workers.bridge.durable); keeps presence in the store,
signals the workflows that wait on devices and publishes every event on the bus.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal

from adapters.prometheus.listener import serve_metrics
from adapters.temporal import connect_temporal
from store.db import engine_for, session_factory
from store.settings import Settings
from workers.bridge.service import running_bridge
from workers.heartbeat import start_heartbeat

log = logging.getLogger("edgewright.bridge")


async def run(settings: Settings) -> None:
    engine = engine_for(settings)
    sessions = session_factory(engine)
    temporal = await connect_temporal(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with running_bridge(settings=settings, temporal=temporal, sessions=sessions) as bridge:
        listener = serve_metrics(
            bridge.metrics.registry,
            host=settings.metrics_host,
            port=settings.bridge_metrics_port,
            process="bridge",
        )
        log.info("bridge running against MQTT %s:%d", settings.mqtt_host, settings.mqtt_port)
        beat = start_heartbeat(settings)
        await stop.wait()
        if beat is not None:
            beat.cancel()
        log.info("bridge stopping")
        if listener is not None:
            listener.stop()
    await engine.dispose()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m workers.bridge", description=__doc__)
    parser.add_argument(
        "--share-group",
        default=None,
        help="MQTT shared-subscription group (default EDGEWRIGHT_BRIDGE_SHARE_GROUP); "
        "empty for plain subscriptions",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    settings = Settings()
    if args.share_group is not None:
        settings = settings.model_copy(update={"bridge_share_group": args.share_group})
    asyncio.run(run(settings))
    # temporalio can abort at interpreter exit after all work is done (sdk-python#300).
    os._exit(0)


if __name__ == "__main__":
    main()
