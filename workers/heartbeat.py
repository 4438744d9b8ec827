"""A file the worker and the bridge touch while their event loop runs, for liveness probes.

Neither process serves HTTP, and a wedged event loop keeps the process alive: Kubernetes
would never restart it. Each touches EDGEWRIGHT_HEARTBEAT_FILE every few seconds from its
loop; `python -m workers.heartbeat PATH --max-age SECONDS` (the probe) exits 1 when the
file is older than that, or missing. Unset (the default, `make run`): no file.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

from store.settings import Settings

INTERVAL_SECONDS = 10.0


def start_heartbeat(settings: Settings) -> asyncio.Task[None] | None:
    """The heartbeat task when the settings name a file (cancel it on the way out)."""
    if settings.heartbeat_file is None:
        return None
    return asyncio.create_task(beat_forever(settings.heartbeat_file), name="heartbeat")


async def beat_forever(path: Path, *, interval: float = INTERVAL_SECONDS) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        await asyncio.to_thread(path.touch)
        await asyncio.sleep(interval)


def is_fresh(path: Path, *, max_age: float, now: float | None = None) -> bool:
    try:
        modified = path.stat().st_mtime
    except FileNotFoundError:
        return False
    return (time.time() if now is None else now) - modified <= max_age


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m workers.heartbeat", description=__doc__)
    parser.add_argument("path", type=Path)
    parser.add_argument("--max-age", type=float, default=6 * INTERVAL_SECONDS)
    args = parser.parse_args(argv)
    return 0 if is_fresh(args.path, max_age=args.max_age) else 1


if __name__ == "__main__":
    sys.exit(main())
