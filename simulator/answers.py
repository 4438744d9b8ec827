"""What a simulated device answers to each command: plausible results, no real work."""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

# Ports an edge device has open in the simulation: SSH, MQTT, edgecore's stream, an app.
OPEN_PORTS = (22, 1883, 10350, 5001)


@dataclass(frozen=True, kw_only=True)
class Answer:
    success: bool
    result: Any = None
    error: str | None = None


def usage(rng: random.Random) -> dict[str, Any]:
    """A heartbeat's measurements, in the seed's style ("45%", "2.3GB")."""
    return {
        "cpu": f"{rng.uniform(5, 60):.0f}%",
        "memory": f"{rng.uniform(0.5, 3.5):.1f}GB",
        "temperature": round(rng.uniform(35, 65), 1),
    }


def answer(
    command: str,
    parameters: Mapping[str, Any],
    *,
    device_id: str,
    device_type: str | None,
    rng: random.Random,
) -> Answer:
    now = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    if command == "ping":
        return Answer(success=True, result={"latency_ms": round(rng.uniform(0.2, 5.0), 2)})
    if command == "port_check":
        port = int(parameters.get("port", 10350))
        is_open = port in OPEN_PORTS
        return Answer(
            success=is_open,
            result={"port": port, "open": is_open},
            error=None if is_open else f"port {port} is closed",
        )
    if command in ("camera_test", "capture_image") and device_type not in (None, "camera"):
        return Answer(success=False, error=f"{device_id} has no camera")
    if command == "camera_test":
        return Answer(success=True, result={"camera": "ok", "resolution": "1920x1080"})
    if command == "capture_image":
        resolution = str(parameters.get("resolution", "1920x1080"))
        image = f"file:///var/lib/edge/{device_id}/image_{rng.randrange(10**6):06d}.jpg"
        size = f"{rng.uniform(0.5, 2.5):.1f}MB"
        result = {"image_url": image, "resolution": resolution, "size": size, "timestamp": now}
        return Answer(success=True, result=result)
    if command == "sensor_test":
        return Answer(success=True, result={"sensors": "ok"})
    if command in ("get_status", "status"):
        return Answer(success=True, result={**usage(rng), "timestamp": now})
    if command in ("reboot", "restart_app", "update_config", "echo"):
        return Answer(success=True, result={"accepted": True, "parameters": dict(parameters)})
    return Answer(success=False, error=f"unknown command {command!r}")
