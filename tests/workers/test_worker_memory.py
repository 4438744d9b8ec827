"""The worker's memory settings reach the SDK and glibc."""

from __future__ import annotations

import platform
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from temporalio.testing import WorkflowEnvironment

from store.settings import Settings
from workers.memory import limit_malloc_arenas
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


def test_zero_leaves_the_arenas_to_glibc() -> None:
    assert limit_malloc_arenas(0) is False


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="arenas are glibc's")
def test_glibc_takes_the_arena_limit() -> None:
    # Two arenas are plenty for the test process too.
    assert limit_malloc_arenas(2) is True
