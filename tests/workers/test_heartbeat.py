"""The liveness file of the worker and the bridge, and the probe that reads it."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from store.settings import Settings
from tests.support.helpers import eventually
from workers import heartbeat


async def test_the_task_touches_the_file_and_the_probe_accepts_it(tmp_path: Path) -> None:
    path = tmp_path / "run" / "alive"
    task = heartbeat.start_heartbeat(Settings(heartbeat_file=path))
    assert task is not None
    try:

        async def touched() -> bool:
            return path.exists()

        await eventually(touched)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert heartbeat.main([str(path)]) == 0


def test_a_stale_or_missing_file_fails_the_probe(tmp_path: Path) -> None:
    path = tmp_path / "alive"
    assert heartbeat.main([str(path)]) == 1
    path.touch()
    old = path.stat().st_mtime - 120
    os.utime(path, (old, old))
    assert heartbeat.main([str(path), "--max-age", "60"]) == 1
    assert heartbeat.main([str(path), "--max-age", "600"]) == 0


def test_no_file_no_task() -> None:
    assert heartbeat.start_heartbeat(Settings()) is None
