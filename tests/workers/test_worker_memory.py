"""The worker's memory settings reach the SDK."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

from temporalio.testing import WorkflowEnvironment

from store.settings import Settings
from workers.worker import build_worker


async def test_the_worker_caches_as_many_runs_as_configured(dev_env: WorkflowEnvironment) -> None:
    settings = Settings(
        worker_max_cached_workflows=42,
        worker_max_concurrent_workflow_tasks=7,
        task_queue=f"cache-{uuid.uuid4()}",
    )
    with ThreadPoolExecutor(max_workers=1) as executor:
        worker = build_worker(dev_env.client, settings=settings, activities=[], executor=executor)
    assert worker.config()["max_cached_workflows"] == 42
    assert worker.config()["max_concurrent_workflow_tasks"] == 7
