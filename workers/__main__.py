"""`python -m workers`: run the Temporal worker until SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
from concurrent.futures import ThreadPoolExecutor

from activities.join.kubernetes import KubeActivities
from adapters.kubernetes.client import connect_kube
from adapters.malloc_arenas import limit_malloc_arenas
from adapters.mqtt.credentials import control_credentials, service_credentials
from adapters.mqtt.dynsec import DynsecClient
from adapters.mqtt.publisher import MqttPublisher
from adapters.prometheus.temporal import buffered_runtime
from adapters.temporal import connect_temporal
from store.db import engine_for, session_factory
from store.settings import Settings
from workers.audit import ensure_audit_retention_schedule
from workers.devices import ensure_node_sync
from workers.health import HealthReporter
from workers.heartbeat import start_heartbeat
from workers.monitoring import ensure_alert_evaluation, ensure_compaction_schedule
from workers.observability import serving_worker_metrics
from workers.schedules import ensure_backup_schedule
from workers.worker import activity_callables, build_worker

log = logging.getLogger("edgewright.worker")
# Threads for sync activities (kubernetes, paho); as many activity slots as threads.
ACTIVITY_THREADS = 64


def worker_client_id() -> str:
    """Unique per replica: in a container every worker is pid 1, and two clients with one
    ID take the broker session from each other in turns."""
    return f"edgewright-worker-{socket.gethostname()}-{os.getpid()}"


def device_accounts(settings: Settings, *, client_id: str | None = None) -> DynsecClient | None:
    """The broker's control topic, when an account for it is configured."""
    control = control_credentials(settings)
    if control is None:
        log.warning(
            "no MQTT control account (EDGEWRIGHT_MQTT_CONTROL_USERNAME): devices get MQTT "
            "credentials the broker does not check"
        )
        return None
    return DynsecClient(
        host=settings.mqtt_host,
        port=settings.mqtt_port,
        credentials=control,
        client_id=client_id or f"edgewright-worker-control-{socket.gethostname()}-{os.getpid()}",
    )


async def run(settings: Settings) -> None:
    # Before any thread starts (the Temporal runtime's, the activity threads).
    limit_malloc_arenas(settings.worker_malloc_arena_max)
    engine = engine_for(settings)
    sessions = session_factory(engine)
    target = connect_kube(settings)
    kube = KubeActivities(target=target)
    publisher = MqttPublisher(
        host=settings.mqtt_host,
        port=settings.mqtt_port,
        client_id=worker_client_id(),
        credentials=service_credentials(settings),
    )
    await publisher.start()
    broker = device_accounts(settings)
    if broker is not None:
        await broker.start()
    runtime, metric_buffer = buffered_runtime()
    client = await connect_temporal(settings, runtime=runtime)
    try:
        await ensure_node_sync(client, settings=settings)
    except Exception:  # joins and removals still work; device facts just go stale
        log.exception("could not start the node sync")
    try:
        await ensure_backup_schedule(client, settings=settings)
    except Exception:  # backups on demand still work; the log says why the schedule did not
        log.exception("could not set up the backup schedule")
    try:
        await ensure_compaction_schedule(client, settings=settings)
    except Exception:  # metrics still answer from raw samples; the log says why
        log.exception("could not set up the metrics compaction schedule")
    try:
        await ensure_audit_retention_schedule(client, settings=settings)
    except Exception:  # the log keeps growing past its retention; the log says why
        log.exception("could not set up the audit retention schedule")
    try:
        await ensure_alert_evaluation(client, settings=settings)
    except Exception:  # the alerts stand still until a worker starts it
        log.exception("could not start the alert evaluation")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    with ThreadPoolExecutor(
        max_workers=ACTIVITY_THREADS, thread_name_prefix="activity"
    ) as executor:
        # The executor also runs the blocking parts of async activities (backups).
        activities = activity_callables(
            settings=settings,
            sessions=sessions,
            kube=kube,
            publisher=publisher,
            broker=broker,
            executor=executor,
        )
        worker = build_worker(client, settings=settings, activities=activities, executor=executor)
        reporter = HealthReporter(
            sessions=sessions,
            target=target,
            kube=kube,
            publisher=publisher,
            kubeedge_namespace=settings.kubeedge_namespace,
        )
        health = asyncio.create_task(reporter.report_forever())
        async with serving_worker_metrics(metric_buffer, settings=settings), worker:
            log.info(
                "worker polling task queue %r on %s", settings.task_queue, settings.temporal_address
            )
            beat = start_heartbeat(settings)
            await stop.wait()
            log.info("worker stopping")
            if beat is not None:
                beat.cancel()
        health.cancel()
    if broker is not None:
        await broker.stop()
    await publisher.stop()
    await engine.dispose()


def main() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    asyncio.run(run(Settings()))
    # temporalio can abort at interpreter exit after all work is done (sdk-python#300).
    os._exit(0)


if __name__ == "__main__":
    main()
