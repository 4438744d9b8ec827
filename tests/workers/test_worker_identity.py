"""Worker replicas in containers (all pid 1) still get MQTT client IDs of their own, and
every worker states its build ID."""

from __future__ import annotations

import socket
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from temporalio.testing import WorkflowEnvironment

from store.settings import Settings, package_version
from workers.__main__ import worker_client_id
from workers.worker import build_worker


def test_two_pods_with_pid_1_get_different_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("os.getpid", lambda: 1)
    ids = set()
    for pod in ("edgewright-worker-7d9f-abcde", "edgewright-worker-7d9f-fghij"):
        monkeypatch.setattr(socket, "gethostname", lambda pod=pod: pod)
        ids.add(worker_client_id())
    assert ids == {
        "edgewright-worker-edgewright-worker-7d9f-abcde-1",
        "edgewright-worker-edgewright-worker-7d9f-fghij-1",
    }


@pytest.mark.parametrize(
    ("configured", "expected"),
    [("registry.example/edgewright:1.4.2", "registry.example/edgewright:1.4.2"), (None, None)],
)
async def test_the_build_id_is_given_not_hashed_from_loaded_code(
    dev_env: WorkflowEnvironment, configured: str | None, expected: str | None
) -> None:
    settings = Settings(worker_build_id=configured, task_queue=f"build-id-{uuid.uuid4()}")
    with ThreadPoolExecutor(max_workers=1) as executor:
        worker = build_worker(dev_env.client, settings=settings, activities=[], executor=executor)
    build_id = worker.config()["build_id"]
    assert build_id == (expected or f"edgewright-{package_version()}")
