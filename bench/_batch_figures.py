"""What a batch join left behind: its parent's runs, and each device's result in the store.

The parent continues as new every `children_per_run` joins; the events of each run are
what a worker replays when the run was evicted from its cache, within the SDK's 2-second
deadlock limit. The store's rows show that every device has one result (none pending,
the parent's counts match the rows).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from temporalio.client import Client

from workflows.contracts.join import batch_join_workflow_id


async def parent_runs(address: str, batch_id: str) -> dict[str, Any]:
    """Events and bytes of each run of the batch's parent workflow."""
    client = await Client.connect(address)
    workflow_id = batch_join_workflow_id(batch_id)
    events, sizes = [], []
    async for run in client.list_workflows(f'WorkflowId = "{workflow_id}"'):
        history = await client.get_workflow_handle(workflow_id, run_id=run.run_id).fetch_history()
        events.append(len(history.events))
        sizes.append(sum(event.ByteSize() for event in history.events))
    return {
        "runs": len(events),
        "max_events": max(events, default=0),
        "mean_events": round(sum(events) / len(events), 1) if events else 0,
        "max_bytes": max(sizes, default=0),
        "total_bytes": sum(sizes),
    }


def store_results(data_dir: Path, batch_id: str) -> dict[str, int]:
    """Each device row of the batch by result (success, failed, pending)."""
    with sqlite3.connect(data_dir / "edgewright.db") as db:
        rows = db.execute(
            "SELECT result, count(*) FROM batch_devices WHERE batch_id = ? GROUP BY result",
            (batch_id,),
        ).fetchall()
    return {str(result): int(count) for result, count in rows}
