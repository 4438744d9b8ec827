"""The baseline for bench/api_reads.py: a bare FastAPI endpoint answering a device page of
the same size and shape as GET /api/kubeedge/devices?limit=100, from memory (no store, no
auth, no middleware). `uvicorn bench._bare_api:app`."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI


def device_page(count: int = 100, total: int = 10_000) -> dict[str, Any]:
    devices = [
        {
            "node_name": f"node-dev-{i:05d}",
            "device_id": f"dev-{i:05d}",
            "status": "Ready",
            "roles": ["agent", "edge"],
            "age": "2d",
            "version": "v1.29.5-kubeedge-v1.18.0",
            "pods_count": 1,
            "addresses": [{"type": "InternalIP", "address": "192.168.1.100"}],
            "node_id": f"00000000-0000-0000-0000-{i:012d}",
            "join_status": "joined",
            "device_type": "camera",
            "location": None,
            "observed_at": "2026-01-15T10:30:00Z",
        }
        for i in range(count)
    ]
    pagination = {"total": total, "page": 1, "limit": count, "pages": total // count}
    return {"count": total, "devices": devices, "pagination": pagination}


app = FastAPI()
_PAGE = device_page()
_WHOLE = device_page(count=10_000)


@app.get("/bare/devices")
async def devices() -> dict[str, Any]:
    return _PAGE


@app.get("/bare/devices/all")
async def all_devices() -> dict[str, Any]:
    """The whole list (GET /api/kubeedge/devices without page or limit)."""
    return _WHOLE
