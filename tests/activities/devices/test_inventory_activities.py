"""Node sync, removal and token activities against the real store, sandbox and Temporal."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from kubernetes import client
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment
from temporalio.worker import Worker

from activities.devices.removal import RemovalActivities
from activities.devices.sync import ClusterSyncActivities
from adapters.kubernetes.client import KubeTarget, connect_kube
from store import cloudcore as observed
from store.devices import inventory as devices
from store.devices import node_tokens, tokens
from store.models import JoinToken, utcnow
from store.settings import KubeMode, Settings
from tests.activities.stand_in_join import StandInJoin
from tests.support.kube_fixtures import make_node_ready
from workflows.contracts.common import DeviceRef, NodeRef
from workflows.contracts.devices import NodeDeletion, RevokeDeviceTokensInput, SyncClusterInput

Sessions = async_sessionmaker[AsyncSession]


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def target(kube_sandbox_url: str) -> KubeTarget:
    return connect_kube(Settings(kube_mode=KubeMode.SANDBOX, sandbox_url=kube_sandbox_url))


@pytest.fixture
def core(target: KubeTarget) -> client.CoreV1Api:
    return client.CoreV1Api(target.api_client)


def node_exists(core: client.CoreV1Api, name: str) -> bool:
    return any(node.metadata.name == name for node in core.list_node().items)


# --- Node deletion -----------------------------------------------------------------------


async def test_delete_node_removes_edge_nodes_only(
    target: KubeTarget, core: client.CoreV1Api, sessions: Sessions
) -> None:
    acts = RemovalActivities(target=target, sessions=sessions)
    env = ActivityEnvironment()
    edge, cloud = unique("edge"), unique("master")
    await asyncio.to_thread(make_node_ready, target.api_client, edge)
    await asyncio.to_thread(
        core.create_node, {"apiVersion": "v1", "kind": "Node", "metadata": {"name": cloud}}
    )

    assert await asyncio.to_thread(env.run, acts.delete_node, NodeRef(node_name=edge)) == (
        NodeDeletion.DELETED
    )
    assert not await asyncio.to_thread(node_exists, core, edge)
    again = await asyncio.to_thread(env.run, acts.delete_node, NodeRef(node_name=edge))
    assert again == NodeDeletion.ABSENT
    kept = await asyncio.to_thread(env.run, acts.delete_node, NodeRef(node_name=cloud))
    assert kept == NodeDeletion.NOT_EDGE
    assert await asyncio.to_thread(node_exists, core, cloud)


# --- Token revocation --------------------------------------------------------------------


async def test_revoke_device_tokens_revokes_only_what_is_still_usable(
    target: KubeTarget, sessions: Sessions
) -> None:
    acts = RemovalActivities(target=target, sessions=sessions)
    now = utcnow()
    async with sessions() as session, session.begin():
        for token_id, expires in (("active", 1), ("expired", -1), ("used", 1)):
            await tokens.record_token(
                session,
                token_id=token_id,
                token=f"token-{token_id}",
                node_name="edge-node-001",
                device_id="camera-001",
                expires_at=now + timedelta(hours=expires),
            )
        await tokens.mark_used(session, token_id="used")
        await node_tokens.record_node_token(
            session,
            token_id="n1",
            token="node-token",
            node_id="node-1",
            expires_at=now + timedelta(hours=1),
            created_by="admin",
            now=now,
        )
    inp = RevokeDeviceTokensInput(
        device_id="camera-001", node_name="edge-node-001", node_id="node-1"
    )
    revoked = await ActivityEnvironment().run(acts.revoke_device_tokens, inp)
    assert (revoked.join_tokens, revoked.node_tokens) == (1, 1)
    async with sessions() as session:
        states = {
            token_id: tokens.token_status(row, now=utcnow())
            for token_id in ("active", "expired", "used")
            if (row := await tokens.get_token(session, token_id=token_id)) is not None
        }
    assert states == {"active": "revoked", "expired": "expired", "used": "used"}
    again = await ActivityEnvironment().run(acts.revoke_device_tokens, inp)
    assert (again.join_tokens, again.node_tokens) == (0, 0)


# --- Cancelling a join in flight ---------------------------------------------------------


@pytest.fixture
async def join_queue(time_skipping_env: WorkflowEnvironment) -> AsyncIterator[str]:
    queue = f"stand-in-join-{uuid.uuid4()}"
    async with Worker(time_skipping_env.client, task_queue=queue, workflows=[StandInJoin]):
        yield queue


async def test_cancel_join_run_waits_until_the_join_has_undone_itself(
    time_skipping_env: WorkflowEnvironment, join_queue: str, target: KubeTarget, sessions: Sessions
) -> None:
    acts = RemovalActivities(target=target, sessions=sessions)
    env = ActivityEnvironment(client=time_skipping_env.client)
    device = unique("cam")
    ref = DeviceRef(device_id=device, node_name=unique("edge"))
    assert await env.run(acts.cancel_join_run, ref) is False  # nothing to cancel

    handle = await time_skipping_env.client.start_workflow(
        "StandInJoin", id=f"device-join/{device}", task_queue=join_queue
    )
    assert await env.run(acts.cancel_join_run, ref) is True
    described = await handle.describe()
    assert described.status == WorkflowExecutionStatus.CANCELED
    assert await handle.query(StandInJoin.was_undone) is True
    assert await env.run(acts.cancel_join_run, ref) is False  # finished runs are left alone


# --- Node sync ---------------------------------------------------------------------------


def pod(name: str, *, node: str, phase: str) -> dict[str, object]:
    container = {
        "name": "app",
        "image": "ahmedxeno/edge-app:latest",
        "ports": [{"containerPort": 5001}],
    }
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"nodeName": node, "containers": [container]},
        "status": {"phase": phase},
    }


async def test_sync_writes_node_facts_uses_up_tokens_and_forgets_missing_nodes(
    target: KubeTarget, core: client.CoreV1Api, sessions: Sessions
) -> None:
    ready, absent = unique("edge"), unique("edge")
    async with sessions() as session, session.begin():
        for node in (ready, absent):
            await devices.upsert_device(
                session, device_id=f"dev-{node}", node_name=node, status="joined"
            )
        await tokens.record_token(
            session,
            token_id=f"t-{ready}",
            token=f"token-{ready}",
            node_name=ready,
            device_id=f"dev-{ready}",
            expires_at=utcnow() + timedelta(hours=1),
        )
        # Issued before the node turned Ready: the node has joined with it.
        await session.execute(
            update(JoinToken)
            .where(JoinToken.token_id == f"t-{ready}")
            .values(created_at=datetime.now(UTC) - timedelta(hours=1))
        )
    await asyncio.to_thread(make_node_ready, target.api_client, ready)
    for name, phase in ((unique("app"), "Running"), (unique("job"), "Succeeded")):
        await asyncio.to_thread(
            core.create_namespaced_pod, "default", pod(name, node=ready, phase=phase)
        )

    acts = ClusterSyncActivities(target=target, sessions=sessions)
    summary = await ActivityEnvironment().run(acts.sync_cluster, SyncClusterInput(page_size=2))
    assert summary.nodes_seen >= 1
    assert summary.pods_seen >= 2
    assert summary.devices_updated == 1
    assert summary.tokens_used == 1

    async with sessions() as session:
        seen = await devices.get_device(session, device_id=f"dev-{ready}")
        missing = await devices.get_device(session, device_id=f"dev-{absent}")
        token = await tokens.get_token(session, token_id=f"t-{ready}")
        cluster = await observed.load_observed(session, key=observed.CLUSTER)
        cloudcore = await observed.load_observed(session, key=observed.CLOUDCORE)
    assert seen is not None
    assert seen.node_ready is True
    assert seen.node_roles == ["agent", "edge"]
    assert seen.node_version == "v1.30.7-kubeedge-v1.21.0"
    assert seen.node_pods == 1  # the finished pod does not count
    assert seen.node_apps is not None
    assert seen.node_apps[0]["image"] == "ahmedxeno/edge-app:latest"
    assert seen.node_apps[0]["port"] == 5001
    assert seen.node_created_at is not None  # the sandbox sends none: first seen
    assert missing is not None
    assert missing.node_ready is None
    assert token is not None
    assert token.used_at is not None
    assert cluster is not None
    assert cluster.value["nodes"] == summary.nodes_seen
    assert cloudcore is not None
    assert "status" in cloudcore.value
