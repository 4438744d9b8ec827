"""Backup and restore of N devices (default 100,000), each with a join token and a command,
beside a bare tar.gz + upload of the same tables measured in the same run.

`python -m bench.backup [--devices 100000]` starts a Temporal dev server, moto's S3 server
and the Kubernetes sandbox as processes, fills a SQLite store (in a child process), and
runs in this process a worker with the real backup activities and workflows:
- backup: BackupWorkflow (export → archive → multipart upload → read-back verify → record);
- restore: the three tables emptied, then RestoreWorkflow in replace mode (download →
  verify → maintenance window → safety backup → apply), with the maintenance window's
  workflow and activities registered as the production worker has them (its live events
  are dropped: no broker runs here);
- bare: the same tables dumped with sqlite3 to JSON lines, tar.gz at the same level and
  uploaded with boto3; then downloaded, unpacked and inserted, without any checks.
Peak memory is this process's VmHWM (the worker runs here: `backup.peak_rss_mb` and
`restore.peak_rss_mb` are the worker's), reset before each phase; the baseline's likewise.
`cpu_seconds` is this process's CPU time in each phase (the worker's, or the baseline's,
every thread; the servers' processes not counted), and the `ratio_*_cpu_vs_bare` figures
compare those: steadier than wall time on a shared, loaded machine.
`--profile DIR` records this process with py-spy during the backup and the restore.
`phases` are each run's steps in seconds, from its history (bench/_phases.py), and
`safety_backup_phases` those of the restore's safety backup.
The sandbox holds none of these devices' Kubernetes objects: creating 400,000 objects in
the emulator would measure the emulator. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Any, TypeVar

import boto3
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Worker

from adapters.kubernetes.client import connect_kube
from adapters.mqtt.events import EventSink
from bench._backup_data import TABLES, bare_backup, bare_restore, empty_tables
from bench._phases import phase_seconds
from bench._profile import profiled
from bench._stack import _spawn
from store.db import create_engine, session_factory
from store.migrate import upgrade_async
from store.settings import Settings
from workers.backup import BACKUP_WORKFLOWS, backup_activities
from workers.maintenance import MAINTENANCE_WORKFLOWS, maintenance_activities
from workers.processes import LOOPBACK, free_port, temporal_dev_server_command, wait_for_port
from workers.worker import SANDBOX
from workflows.contracts.backup import (
    BACKUP_WORKFLOW,
    RESTORE_WORKFLOW,
    BackupInput,
    BackupProgress,
    RestoreInput,
    RestoreMode,
    RestoreProgress,
    backup_workflow_id,
)
from workflows.contracts.live import EventType

T = TypeVar("T")
MB = 1024 * 1024
AWS = {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_DEFAULT_REGION": "us-east-1",
}


class DroppedEvents(EventSink):
    """The maintenance window's live events (QoS 0, a view, not a record) go nowhere: the
    bench runs no broker, and measures the restore rather than publishing."""

    def emit(self, event: EventType, fields: Mapping[str, Any]) -> None:
        return None


def rss_mb(field: str) -> float:
    status = Path("/proc/self/status").read_text()
    match = re.search(rf"{field}:\s+(\d+) kB", status)
    return round(int(match.group(1)) / 1024, 1) if match else -1.0


def reset_peak() -> None:
    Path("/proc/self/clear_refs").write_text("5")  # VmHWM restarts from the current RSS


async def phase(
    run: Callable[[], Awaitable[T]], *, profile: Path | None = None, name: str = ""
) -> tuple[T, float, dict[str, float]]:
    """Run one phase: its result, seconds, and memory (peak and at start, MB) and CPU
    seconds of this process."""
    reset_peak()
    start_rss = rss_mb("VmRSS")
    started, cpu = time.perf_counter(), time.process_time()
    with profiled(os.getpid(), into=profile, name=name):
        result = await run()
    seconds = round(time.perf_counter() - started, 2)
    figures = {
        "peak_rss_mb": rss_mb("VmHWM"),
        "rss_at_start_mb": start_rss,
        "cpu_seconds": round(time.process_time() - cpu, 2),
    }
    return result, seconds, figures


async def main(devices: int, profile: Path | None = None) -> dict[str, Any]:
    os.environ.update(AWS)
    with ExitStack() as stack:
        data = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="edgewright-bench-")))
        ports = {name: free_port() for name in ("temporal", "s3", "kube")}
        temporal = temporal_dev_server_command(
            port=ports["temporal"], ui_port=free_port(), db_file=None, headless=True
        )
        _spawn(stack, temporal, env=dict(os.environ), log=data / "temporal.log")
        moto = [sys.executable, "-m", "moto.server", "-H", LOOPBACK, "-p", str(ports["s3"])]
        _spawn(stack, moto, env=dict(os.environ), log=data / "moto.log")
        sandbox = [sys.executable, "-m", "simulator.kube_sandbox", "--host", LOOPBACK]
        sandbox += ["--port", str(ports["kube"]), "--state", str(data / "kube.json")]
        _spawn(stack, sandbox, env=dict(os.environ), log=data / "sandbox.log")
        db = data / "edgewright.db"
        await upgrade_async(f"sqlite+aiosqlite:///{db}")
        fill = [sys.executable, "-m", "bench._backup_data", str(db), str(devices)]
        await asyncio.to_thread(subprocess.run, fill, check=True)
        for port in ports.values():
            wait_for_port(LOOPBACK, port, timeout=60)
        endpoint = f"http://{LOOPBACK}:{ports['s3']}"
        s3 = boto3.client("s3", endpoint_url=endpoint)
        s3.create_bucket(Bucket="bench")
        settings = Settings.model_validate(
            {
                "data_dir": data,
                "database_url": f"sqlite+aiosqlite:///{db}",
                "backup_location": "s3://bench/edgewright",
                "backup_s3_endpoint_url": endpoint,
                "backup_s3_region": "us-east-1",
                "kube_mode": "sandbox",
                "sandbox_url": f"http://{LOOPBACK}:{ports['kube']}",
                "task_queue": f"bench-{uuid.uuid4()}",
                "temporal_address": f"{LOOPBACK}:{ports['temporal']}",
                "backup_keep_last": 0,
                "backup_keep_days": 0,
                # boto3's own defaults, which the bare upload uses: the same multipart path.
                "backup_multipart_threshold_bytes": 8 * MB,
                "backup_multipart_chunk_bytes": 8 * MB,
            }
        )
        figures = await run_workflows(settings, devices=devices, profile=profile)
        scratch = data / "bare"
        scratch.mkdir()
        key = "bare/bench.tar.gz"
        size, bare_backup_s, bare_backup_mem = await phase(
            lambda: asyncio.to_thread(
                bare_backup, db=db, scratch=scratch, s3=s3, bucket="bench", key=key
            )
        )
        await asyncio.to_thread(empty_tables, db)
        _, bare_restore_s, bare_restore_mem = await phase(
            lambda: asyncio.to_thread(
                bare_restore, db=db, scratch=scratch, s3=s3, bucket="bench", key=key
            )
        )
    backup, restore = figures["backup"], figures["restore"]
    return {
        "bench": "backup",
        "devices": devices,
        "tables": dict.fromkeys(TABLES, devices),
        "archive_mb": round(backup["archive_bytes"] / MB, 2),
        "raw_mb": round(backup["raw_bytes"] / MB, 2),
        "multipart": backup["multipart"],
        "backup": {
            "seconds": backup["seconds"],
            "archive_mb_per_s": round(backup["archive_bytes"] / MB / backup["seconds"], 2),
            "raw_mb_per_s": round(backup["raw_bytes"] / MB / backup["seconds"], 2),
            **backup["memory"],
            "phases": backup["phases"],
        },
        "restore": {
            "seconds": restore["seconds"],
            "archive_mb_per_s": round(backup["archive_bytes"] / MB / restore["seconds"], 2),
            "rows_restored": restore["rows"],
            **restore["memory"],
            "phases": restore["phases"],
            "safety_backup_phases": restore["safety_backup_phases"],
        },
        "bare_backup": {
            "seconds": bare_backup_s,
            "archive_mb": round(size / MB, 2),
            **bare_backup_mem,
        },
        "bare_restore": {"seconds": bare_restore_s, **bare_restore_mem},
        "ratio_backup_vs_bare": round(backup["seconds"] / bare_backup_s, 2),
        "ratio_restore_vs_bare": round(restore["seconds"] / bare_restore_s, 2),
        "ratio_backup_cpu_vs_bare": _cpu_ratio(backup["memory"], bare_backup_mem),
        "ratio_restore_cpu_vs_bare": _cpu_ratio(restore["memory"], bare_restore_mem),
        "cpus": os.cpu_count(),
    }


def _cpu_ratio(ours: Mapping[str, float], bare: Mapping[str, float]) -> float:
    return round(ours["cpu_seconds"] / max(bare["cpu_seconds"], 0.01), 2)


async def run_workflows(
    settings: Settings, *, devices: int, profile: Path | None
) -> dict[str, Any]:
    """Backup, empty the tables, restore: through Temporal, with the production activities."""
    client = await Client.connect(settings.temporal_address, data_converter=pydantic_data_converter)
    engine = create_engine(settings.sqlalchemy_url)
    db = Path(settings.sqlalchemy_url.removeprefix("sqlite+aiosqlite:///"))
    try:
        with ThreadPoolExecutor(max_workers=16, thread_name_prefix="activity") as executor:
            sessions = session_factory(engine)
            activities = backup_activities(
                settings=settings,
                sessions=sessions,
                target=connect_kube(settings),
                executor=executor,
            )
            # A restore runs inside a maintenance window of its own: its workflow too.
            activities += maintenance_activities(
                settings=settings, sessions=sessions, events=DroppedEvents()
            )
            async with Worker(
                client,
                task_queue=settings.task_queue,
                workflows=[*BACKUP_WORKFLOWS, *MAINTENANCE_WORKFLOWS],
                activities=activities,
                activity_executor=executor,
                max_concurrent_activities=16,
                # As the production worker runs them (workers/worker.py): the contracts
                # shared by runs, and a given build ID instead of hashing every module.
                workflow_runner=SANDBOX,
                build_id="edgewright-bench",
            ):
                made, backup_s, backup_mem = await phase(
                    lambda: client.execute_workflow(
                        BACKUP_WORKFLOW,
                        BackupInput(),
                        id="backup/bench",
                        task_queue=settings.task_queue,
                        result_type=BackupProgress,
                    ),
                    profile=profile,
                    name="worker-backup",
                )
                await asyncio.to_thread(empty_tables, db)
                restored, restore_s, restore_mem = await phase(
                    lambda: client.execute_workflow(
                        RESTORE_WORKFLOW,
                        RestoreInput(backup_id="bench", mode=RestoreMode.REPLACE),
                        id="restore/bench",
                        task_queue=settings.task_queue,
                        result_type=RestoreProgress,
                    ),
                    profile=profile,
                    name="worker-restore",
                )
                phases = {
                    "backup": await phase_seconds(client, "backup/bench"),
                    "restore": await phase_seconds(client, "restore/bench"),
                    "safety_backup": await phase_seconds(
                        client, backup_workflow_id(restored.safety_backup_id or "")
                    ),
                }
    finally:
        await engine.dispose()
    archive = made.archive
    assert archive is not None, made
    rows = {change.name: change.create for change in restored.applied}
    if any(rows.get(table, 0) != devices for table in TABLES):
        raise RuntimeError(f"the restore did not bring every row back: {rows}")
    return {
        "backup": {
            "seconds": backup_s,
            "archive_bytes": archive.size_bytes,
            "raw_bytes": sum(part.bytes for part in archive.parts),
            "multipart": archive.multipart,
            "memory": backup_mem,
            "phases": phases["backup"],
        },
        "restore": {
            "seconds": restore_s,
            "rows": sum(rows.values()),
            "memory": restore_mem,
            "phases": phases["restore"],
            "safety_backup_phases": phases["safety_backup"],
        },
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=100_000)
    parser.add_argument("--profile", type=Path, default=None, help="py-spy profiles into DIR")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(args.devices, args.profile))), flush=True)
    # temporalio can abort at interpreter exit after all work is done (sdk-python#300).
    os._exit(0)
