"""Commands to one device, broadcasts and command jobs (CloudCore contract)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .._states import COMMAND_FINAL, JOB_FINAL
from ..models import (
    BroadcastRequest,
    CommandAnswer,
    CommandStatusAnswer,
    JobAnswer,
    JobRequest,
)
from .base import AsyncBase, body_of


class AsyncCommands(AsyncBase):
    async def send_command(
        self,
        device_id: str,
        command: str,
        parameters: Mapping[str, Any] | None = None,
        timeout: float | None = None,
        wait: bool = False,
        **fields: Any,
    ) -> CommandAnswer:
        """Send a command; the answer carries `command_id`, also when the device is offline
        and the command waits for it (`command_status` "queued"). With `wait=True` the
        server answers once the device did (or the timeout passed)."""
        data = body_of(None, {"command": command, "parameters": parameters, "timeout": timeout})
        data.update(fields)
        return await self._t.send(
            "POST",
            f"/api/kubeedge/device/{device_id}/command",
            CommandAnswer,
            json=data,
            params={"wait": "true"} if wait else None,
        )

    async def command_status(self, command_id: str) -> CommandStatusAnswer:
        return await self._t.send(
            "GET", f"/api/kubeedge/command/{command_id}/status", CommandStatusAnswer
        )

    async def cancel_command(self, command_id: str) -> CommandStatusAnswer:
        return await self._t.send(
            "POST", f"/api/kubeedge/command/{command_id}/cancel", CommandStatusAnswer
        )

    async def wait_command(
        self, command_id: str, *, timeout: float | None = None, poll: float = 0.5
    ) -> CommandStatusAnswer:
        """Poll until the command is completed, failed, timed out or cancelled."""
        return await self._wait(
            f"/api/kubeedge/command/{command_id}/status",
            CommandStatusAnswer,
            lambda seen: seen.status in COMMAND_FINAL,
            timeout=timeout,
            poll=poll,
        )

    async def broadcast_command(
        self,
        command: str,
        device_type: str,
        parameters: Mapping[str, Any] | None = None,
        *,
        wait: bool = False,
        body: BroadcastRequest | None = None,
        **fields: Any,
    ) -> CommandAnswer:
        data = body_of(
            body,
            {"command": command, "device_type": device_type, "parameters": parameters, **fields},
        )
        return await self._t.send(
            "POST",
            "/api/kubeedge/command/broadcast",
            CommandAnswer,
            json=data,
            params={"wait": "true"} if wait else None,
        )

    async def start_command_job(
        self,
        command: str,
        *,
        device_ids: list[str] | None = None,
        device_type: str | None = None,
        parameters: Mapping[str, Any] | None = None,
        body: JobRequest | None = None,
        **fields: Any,
    ) -> JobAnswer:
        """A command to many devices at a bounded rate, aborted past a failure threshold."""
        data = body_of(
            body,
            {
                "command": command,
                "device_ids": device_ids,
                "device_type": device_type,
                "parameters": parameters,
                **fields,
            },
        )
        return await self._t.send("POST", "/api/kubeedge/command/jobs", JobAnswer, json=data)

    async def command_job(self, job_id: str) -> JobAnswer:
        return await self._t.send("GET", f"/api/kubeedge/command/jobs/{job_id}", JobAnswer)

    async def pause_command_job(self, job_id: str) -> JobAnswer:
        return await self._steer_job(job_id, "pause")

    async def resume_command_job(self, job_id: str) -> JobAnswer:
        return await self._steer_job(job_id, "resume")

    async def abort_command_job(self, job_id: str) -> JobAnswer:
        return await self._steer_job(job_id, "abort")

    async def _steer_job(self, job_id: str, action: str) -> JobAnswer:
        return await self._t.send(
            "POST", f"/api/kubeedge/command/jobs/{job_id}/{action}", JobAnswer
        )

    async def wait_command_job(
        self,
        job_id: str,
        *,
        timeout: float | None = None,
        poll: float = 1.0,
        on_progress: Callable[[JobAnswer], None] | None = None,
    ) -> JobAnswer:
        return await self._wait(
            f"/api/kubeedge/command/jobs/{job_id}",
            JobAnswer,
            lambda seen: seen.state in JOB_FINAL,
            timeout=timeout,
            poll=poll,
            on_progress=on_progress,
        )
