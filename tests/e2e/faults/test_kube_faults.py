"""Kubernetes that fails: the worker talks to the sandbox through a fault-injecting proxy.

Transient failures (503s and latency on a fifth of the calls) must only cost retries;
a step refused for good must undo every step before it, in the cluster and the store.
The proxy is seeded, so the same calls fail on every run.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from tests.e2e.batch_helpers import (
    assert_each_joined_once,
    devices,
    inventory_rows,
    live_tokens,
    other_secrets,
    our_configmaps,
    our_devices,
    our_rbac,
    start_batch,
    tokens_per_device,
    wait_done,
)
from tests.e2e.stack import Stack, running_stack, stack_settings
from tests.support.fault_proxy import FaultProxy, Faults, Refusal, fault_proxy
from tests.support.helpers import eventually
from tests.support.kube_fixtures import sandbox_api_client
from tests.support.mqtt_fixtures import Broker

BATCH = 30

# Room for a loaded 2-core machine: the stack's first start in a session alone can take a
# minute (temporalio hashes every loaded module for the worker's build ID).
pytestmark = pytest.mark.timeout(300)


@pytest.fixture
async def faults() -> Faults:
    return Faults(seed=20261202)


@pytest.fixture
async def proxied_stack(
    dev_env: WorkflowEnvironment,
    kube_sandbox_url: str,
    mqtt_broker: Broker,
    tmp_path: Path,
    faults: Faults,
) -> AsyncIterator[tuple[Stack, FaultProxy]]:
    """The usual stack, but its Kubernetes is the sandbox behind the fault proxy."""
    async with fault_proxy(upstream=kube_sandbox_url, faults=faults) as proxy:
        settings = stack_settings(
            data_dir=tmp_path, temporal=dev_env.client, sandbox_url=proxy.url, broker=mqtt_broker
        ).model_copy(update={"batch_sync_limit": 0})  # every batch runs in the background
        async with running_stack(settings, dev_env.client) as stack:
            yield stack, proxy


async def test_a_batch_joins_every_device_through_flaky_kubernetes(
    proxied_stack: tuple[Stack, FaultProxy], kube_sandbox_url: str, faults: Faults
) -> None:
    stack, _ = proxied_stack
    faults.error_share, faults.latency = 0.2, 0.05
    sandbox = sandbox_api_client(kube_sandbox_url)
    auth = await stack.login()
    tag = uuid.uuid4().hex[:6]
    secrets_before = await asyncio.to_thread(other_secrets, sandbox, tag)

    batch_id = await start_batch(stack, auth, devices(BATCH, tag=tag), window=10)
    report = await wait_done(stack, batch_id, auth)

    assert faults.injected_errors >= BATCH, "the proxy should have failed many calls"
    assert (report["status"], report["success"], report["failed"]) == ("completed", BATCH, 0)
    await assert_each_joined_once(stack, sandbox, tag, devices=BATCH, secrets_before=secrets_before)


async def test_a_step_refused_for_good_undoes_the_steps_before_it(
    proxied_stack: tuple[Stack, FaultProxy], kube_sandbox_url: str, faults: Faults
) -> None:
    stack, _ = proxied_stack
    tag = uuid.uuid4().hex[:6]
    node = f"{tag}-node-0001"
    # RBAC is the fourth step: the token, the ConfigMap and the Device come before it.
    refusal = Refusal(
        method="POST",
        path=r"/apis/rbac\.authorization\.k8s\.io/v1/namespaces/kubeedge/rolebindings",
    )
    faults.refusals.append(refusal)
    sandbox = sandbox_api_client(kube_sandbox_url)
    secrets_before = await asyncio.to_thread(other_secrets, sandbox, tag)
    auth = await stack.login()

    answer = await stack.http.post(
        "/api/kubeedge/device/join",
        json={"node_name": node, "device_id": f"{tag}-dev-0001", "cloud_ip": "192.0.2.10"},
        headers=auth,
    )

    assert faults.refused[refusal] == 1, "a refusal is final: no retry"
    assert answer.status_code == 400, answer.text  # Kubernetes called the request invalid
    body = answer.json()
    assert body["details"]["failed_step"] == "configure_rbac", body
    assert body["details"]["compensated"] == [
        "create_device",
        "create_configmap",
        "issue_token",
    ], body

    async def nothing_left() -> bool:
        leftovers = await asyncio.gather(
            asyncio.to_thread(our_configmaps, sandbox, tag),
            asyncio.to_thread(our_devices, sandbox, tag),
            asyncio.to_thread(our_rbac, sandbox, tag),
            inventory_rows(stack, tag),
        )
        return not any(leftovers) and await live_tokens(stack, tag) == 0

    await eventually(nothing_left)
    assert (await tokens_per_device(stack, tag)).total() == 1  # issued, then revoked
    assert await asyncio.to_thread(other_secrets, sandbox, tag) == secrets_before
