"""Record MaintenanceWorkflow histories for the replay tests.

`python -m tests.workflows.maintenance.record_maintenance_history` runs a window that
ends at its deadline and one that is stopped, on the time-skipping server with the
stand-in activities, and writes them to tests/workflows/histories/. Re-record only on
purpose: a history that no longer replays means a change would break windows in flight.
"""

from __future__ import annotations

import asyncio
import os
import sysconfig
import uuid
from pathlib import Path

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from tests.workflows.maintenance.fake_maintenance_activities import FakeMaintenanceActivities
from workflows.contracts.maintenance import (
    MAINTENANCE_OPENED_UPDATE,
    MAINTENANCE_STOP_UPDATE,
    MAINTENANCE_WORKFLOW,
    MaintenanceInput,
    MaintenanceStatus,
    StopInput,
)
from workflows.maintenance.window import MaintenanceWorkflow

HISTORIES = Path(__file__).parents[1] / "histories"
WINDOW = MaintenanceInput(reason="upgrade", duration_minutes=30, started_by="admin")


async def record(client: Client, *, stop: bool) -> str:
    queue = f"record-{uuid.uuid4()}"
    async with Worker(
        client,
        task_queue=queue,
        workflows=[MaintenanceWorkflow],
        activities=FakeMaintenanceActivities().all(),
    ):
        handle = await client.start_workflow(
            MAINTENANCE_WORKFLOW,
            WINDOW,
            id=f"maintenance/{queue}",
            task_queue=queue,
            result_type=MaintenanceStatus,
        )
        if stop:
            await handle.execute_update(MAINTENANCE_OPENED_UPDATE, result_type=MaintenanceStatus)
            await handle.execute_update(
                MAINTENANCE_STOP_UPDATE,
                StopInput(stopped_by="admin"),
                result_type=MaintenanceStatus,
            )
        await handle.result()
        history = await handle.fetch_history()
    return history.to_json()


async def main() -> None:
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter,
        test_server_existing_path=str(Path(sysconfig.get_path("scripts")) / "temporal-test-server"),
    )
    try:
        for name, stop in (("maintenance_deadline", False), ("maintenance_stopped", True)):
            (HISTORIES / f"{name}.json").write_text(await record(env.client, stop=stop))
    finally:
        await env.shutdown()


if __name__ == "__main__":
    asyncio.run(main())
    os._exit(0)
