"""Devices, joins, batch joins and join tokens (CloudCore contract)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from .._retry import monotonic, sleep
from .._states import BATCH_FINAL
from ..errors import WaitTimeout
from ..models import (
    DeviceDetail,
    DeviceItem,
    DeviceList,
    GenerateAnswer,
    GenerateRequest,
    JoinRequest,
    JoinResponse,
    RemovalAnswer,
    RevokeAnswer,
    TokenItem,
    TokenList,
)
from .base import SyncBase, body_of
from .transport import PAGE_SIZE

BATCH_PATH = "/api/kubeedge/batch-join"


class SyncDevices(SyncBase):
    def iter_devices(self) -> Iterator[DeviceItem]:
        for item in self._pages("/api/kubeedge/devices", DeviceList, "devices"):
            yield item

    def list_devices(self) -> list[DeviceItem]:
        """Every device of the fleet (all pages)."""
        return [item for item in self.iter_devices()]

    def get_device(self, device_id: str) -> DeviceDetail:
        return self._t.send("GET", f"/api/kubeedge/device/{device_id}", DeviceDetail)

    def delete_device(self, device_id: str) -> RemovalAnswer:
        return self._t.send("DELETE", f"/api/kubeedge/device/{device_id}", RemovalAnswer)

    def join_device(
        self,
        node_name: str | None = None,
        device_id: str | None = None,
        device_type: str | None = None,
        *,
        body: JoinRequest | Mapping[str, Any] | None = None,
        **fields: Any,
    ) -> JoinResponse:
        """Start (or find) a device's join; the answer holds `join_command` and `steps`."""
        data = body_of(
            body, {"node_name": node_name, "device_id": device_id, "device_type": device_type}
        )
        data.update(fields)
        return self._t.send("POST", "/api/kubeedge/device/join", JoinResponse, json=data)

    def join_status(self, device_id: str) -> JoinResponse:
        return self._t.send("GET", f"/api/kubeedge/device/{device_id}/join", JoinResponse)

    def batch_join(
        self,
        devices: list[Mapping[str, Any]] | None = None,
        *,
        content: bytes | None = None,
        content_type: str = "application/json",
        **options: Any,
    ) -> dict[str, Any]:
        """Join many devices: a list of dicts, or a CSV/YAML/JSON document as `content`.

        Options (`batch_id`, `cloud_ip`, `max_concurrency`, ...) go in the JSON body, or in
        the query for CSV and YAML."""
        if content is None:
            data = {"devices": list(devices or []), **options}
            return dict(self._t.send_json("POST", BATCH_PATH, json=data))
        params = options if content_type != "application/json" else None
        return dict(
            self._t.send_json(
                "POST",
                BATCH_PATH,
                content=content,
                params=params,
                headers={"Content-Type": content_type},
            )
        )

    def batch_status(self, batch_id: str) -> dict[str, Any]:
        """A batch's report with every device's result (all pages of results)."""
        path = f"{BATCH_PATH}/{batch_id}"
        first: dict[str, Any] = self._t.send_json(
            "GET", path, params={"page": 1, "limit": PAGE_SIZE}
        )
        results = list(first.get("results", []))
        pages = int(first.get("pagination", {}).get("pages", 1))
        for page in range(2, pages + 1):
            more = self._t.send_json("GET", path, params={"page": page, "limit": PAGE_SIZE})
            results += more.get("results", [])
        return {**first, "results": results}

    def pause_batch(self, batch_id: str) -> dict[str, Any]:
        return dict(self._t.send_json("POST", f"{BATCH_PATH}/{batch_id}/pause"))

    def resume_batch(self, batch_id: str) -> dict[str, Any]:
        return dict(self._t.send_json("POST", f"{BATCH_PATH}/{batch_id}/resume"))

    def cancel_batch(self, batch_id: str) -> dict[str, Any]:
        return dict(self._t.send_json("POST", f"{BATCH_PATH}/{batch_id}/cancel"))

    def wait_batch(
        self,
        batch_id: str,
        *,
        timeout: float | None = None,
        poll: float = 1.0,
        on_progress: Callable[[dict[str, Any]], None] | None = None,
    ) -> dict[str, Any]:
        """Wait until the batch is completed or cancelled; the full report."""
        deadline = None if timeout is None else monotonic() + timeout
        path = f"{BATCH_PATH}/{batch_id}"
        while True:
            seen: dict[str, Any] = self._t.send_json("GET", path)
            if on_progress is not None:
                on_progress(seen)
            if seen.get("status") in BATCH_FINAL:
                return self.batch_status(batch_id)
            if deadline is not None and monotonic() >= deadline:
                raise WaitTimeout(f"batch {batch_id} not finished after {timeout} s", last=seen)
            sleep(poll)

    def generate_token(
        self, node_name: str, *, body: GenerateRequest | None = None, **fields: Any
    ) -> GenerateAnswer:
        data = body_of(body, {"node_name": node_name, **fields})
        return self._t.send("POST", "/api/kubeedge/token/generate", GenerateAnswer, json=data)

    def list_tokens(
        self, *, status: str | None = None, node_name: str | None = None
    ) -> list[TokenItem]:
        params = {"status": status, "node_name": node_name}
        return [item for item in self._pages("/api/kubeedge/tokens", TokenList, "tokens", params)]

    def revoke_token(self, node_name: str) -> RevokeAnswer:
        return self._t.send("DELETE", f"/api/kubeedge/token/{node_name}", RevokeAnswer)
