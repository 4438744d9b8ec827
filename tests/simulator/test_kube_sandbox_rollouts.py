"""The sandbox's Deployment controller for CloudCore and its CloudCore install, over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import kmock
import pytest

from adapters.kubernetes.cloudcore_manifests import rollout_state
from simulator.kube_sandbox import SandboxEmulator, build_emulator, roll_out
from simulator.kube_sandbox_cloudcore import DEPLOYMENTS, seed_cloudcore
from simulator.kube_sandbox_rollouts import HOLD_ANNOTATION, existing
from tests.support.helpers import free_port

MERGE = {"Content-Type": "application/merge-patch+json"}
HOLD = {"metadata": {"annotations": {HOLD_ANNOTATION: "true"}}}


@pytest.fixture
async def sandbox() -> AsyncIterator[tuple[SandboxEmulator, httpx.AsyncClient]]:
    emulator = build_emulator()
    port = free_port()
    async with (
        emulator,
        kmock.Server(emulator, host="127.0.0.1", port=port),
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http,
    ):
        yield emulator, http


def deployments(namespace: str) -> str:
    return f"/apis/apps/v1/namespaces/{namespace}/deployments"


async def create(http: httpx.AsyncClient, namespace: str, *, replicas: int = 1) -> None:
    body = {
        "metadata": {"name": "cloudcore", "namespace": namespace},
        "spec": {"replicas": replicas, "template": {"spec": {"containers": [{"image": "a:1"}]}}},
    }
    answer = await http.post(deployments(namespace), json=body)
    assert answer.status_code < 300, answer.text


async def read(http: httpx.AsyncClient, namespace: str) -> dict[str, Any]:
    body: dict[str, Any] = (await http.get(f"{deployments(namespace)}/cloudcore")).json()
    return body


async def test_a_spec_change_rolls_out_in_two_steps(
    sandbox: tuple[SandboxEmulator, httpx.AsyncClient],
) -> None:
    emulator, http = sandbox
    await create(http, "ns1", replicas=2)
    await roll_out(emulator)
    await roll_out(emulator)
    first = await read(http, "ns1")
    assert first["status"]["availableReplicas"] == 2
    assert rollout_state(first, desired=2).complete

    image = {"spec": {"template": {"spec": {"containers": [{"image": "a:2"}]}}}}
    await http.patch(f"{deployments('ns1')}/cloudcore", json=image, headers=MERGE)
    await roll_out(emulator)
    midway = await read(http, "ns1")
    assert midway["status"]["observedGeneration"] == midway["metadata"]["generation"] == 2
    assert (midway["status"]["replicas"], midway["status"]["availableReplicas"]) == (4, 2)
    assert not rollout_state(midway, desired=2).complete  # old replicas still terminating
    await roll_out(emulator)
    done = await read(http, "ns1")
    assert rollout_state(done, desired=2).complete
    reasons = {c["type"]: c["reason"] for c in done["status"]["conditions"]}
    assert reasons == {
        "Available": "MinimumReplicasAvailable",
        "Progressing": "NewReplicaSetAvailable",
    }


async def test_the_hold_annotation_keeps_a_rollout_unavailable(
    sandbox: tuple[SandboxEmulator, httpx.AsyncClient],
) -> None:
    emulator, http = sandbox
    created = await http.post("/api/v1/namespaces", json={"metadata": {"name": "held"}})
    assert created.status_code == 201, created.text
    held = await http.patch("/api/v1/namespaces/held", json=HOLD, headers=MERGE)
    assert held.json()["metadata"]["annotations"] == {HOLD_ANNOTATION: "true"}
    again = await http.post("/api/v1/namespaces", json={"metadata": {"name": "held"}})
    assert again.status_code == 409
    await create(http, "held")
    await create(http, "free")
    for _ in range(3):
        await roll_out(emulator)
    held = await read(http, "held")
    assert held["status"]["availableReplicas"] == 0
    assert rollout_state(held, desired=1).message == "0 of 1 updated replicas available"
    assert rollout_state(await read(http, "free"), desired=1).complete

    # On the Deployment: a rolled-out one stays so; an update holds, the old replica serving.
    await http.patch(f"{deployments('free')}/cloudcore", json=HOLD, headers=MERGE)
    await roll_out(emulator)
    assert rollout_state(await read(http, "free"), desired=1).complete
    image = {"spec": {"template": {"spec": {"containers": [{"image": "a:2"}]}}}}
    await http.patch(f"{deployments('free')}/cloudcore", json=image, headers=MERGE)
    for _ in range(3):
        await roll_out(emulator)
    state = rollout_state(await read(http, "free"), desired=1)
    assert (state.complete, state.available) == (False, 1)


async def test_cloudcore_is_installed_once_per_state() -> None:
    emulator = build_emulator()
    seed_cloudcore(emulator)
    key = (DEPLOYMENTS, "kubeedge", "cloudcore")
    assert existing(emulator) == {key}
    deployment = emulator.objects[key].raw
    assert deployment["spec"]["selector"]["matchLabels"] == {
        "k8s-app": "kubeedge",
        "kubeedge": "cloudcore",
    }
    service = emulator.objects["v1/services", "kubeedge", "cloudcore"].raw
    cloudhub = service["spec"]["ports"][0]
    assert (cloudhub["name"], cloudhub["port"], cloudhub["nodePort"]) == ("cloudhub", 10000, 30000)
    emulator.objects[key].delete()
    seed_cloudcore(emulator)  # a restart: what was deleted stays deleted
    assert existing(emulator) == set()
