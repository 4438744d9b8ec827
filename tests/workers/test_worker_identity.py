"""Worker replicas in containers (all pid 1) still get MQTT client IDs of their own."""

from __future__ import annotations

import socket

import pytest

from workers.__main__ import worker_client_id


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
