"""The Edge API client (nodes, metrics, security tokens, workloads), backups and
restores with their wait helpers, webhooks and alerts, against one stack."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from kubeedge_cloudcore import (
    ApiError,
    AsyncCloudCoreClient,
    AsyncEdgeClient,
    NotFound,
    Unavailable,
)

from tests.e2e.command_stack import CommandStack

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest.fixture(scope="module")
async def client(module_stack: CommandStack) -> AsyncIterator[AsyncCloudCoreClient]:
    async with AsyncCloudCoreClient(module_stack.base_url, token=module_stack.token) as sdk:
        yield sdk


def _tag() -> str:
    return uuid.uuid4().hex[:6]


async def test_nodes_metrics_and_security_tokens(module_stack: CommandStack) -> None:
    async with AsyncEdgeClient(module_stack.base_url, token=module_stack.token) as edge:
        assert (await edge.health()).status
        node = await edge.register_node(f"n{_tag()}", labels={"zone": "a"})
        assert node.id in [item.id for item in await edge.list_nodes()]
        assert (await edge.get_node(node.id)).name == node.name
        await edge.report_node_status(node.id, heartbeat=True)
        await edge.record_metrics(node.id, cpu_usage=42.0, memory_usage=50.0)
        assert (await edge.node_metrics(node.id, timeframe="1h")).node_id == node.id
        assert (await edge.fleet_metrics(timeframe="1h")) is not None
        issued = await edge.issue_token(node.id, expiration="1h")
        assert (await edge.validate_token(issued.token)).valid is True
        await edge.revoke_token(issued.token)
        assert (await edge.validate_token(issued.token)).valid is False
        await edge.delete_node(node.id)


async def test_workloads(client: AsyncCloudCoreClient) -> None:
    edge = client.edge
    created = await edge.create_workload(f"w{_tag()}", "nginx:1.27", replicas=1)
    assert created.id in [item.id for item in await edge.list_workloads()]
    assert (await edge.get_workload(created.id)).name == created.name
    updated = await edge.update_workload(created.id, image="nginx:1.28")
    assert updated.revision == created.revision + 1
    with pytest.raises(NotFound):
        await edge.get_rollout(created.id, "no-such-rollout")
    with pytest.raises(ApiError) as refused:
        await edge.deploy_workload(created.id, nodes=["no-such-node"])
    assert refused.value.status in (400, 404, 409)
    await edge.delete_workload(created.id)


async def test_backup_and_dry_run_restore_with_wait_helpers(
    client: AsyncCloudCoreClient,
) -> None:
    started = await client.create_backup(f"b{_tag()}", ["config", "devices"], "sdk test")
    backup = await client.wait_backup(started.backup_id, timeout=60, poll=0.5)
    assert backup.backup_status == "completed"
    assert backup.backup_id in [item.backup_id for item in await client.list_backups()]
    assert (await client.get_backup(backup.backup_id)).location
    plan = await client.restore(backup.backup_id, dry_run=True)
    restored = await client.wait_restore(plan.restore_id, timeout=60, poll=0.5)
    assert (restored.restore_status, restored.dry_run) == ("completed", True)
    assert (await client.get_restore(plan.restore_id)).restore_id == plan.restore_id


async def test_webhooks_alerts_and_health(client: AsyncCloudCoreClient) -> None:
    hook = await client.create_webhook("http://127.0.0.1:9/edgewright", ["device_joined"], "s" * 32)
    hook_id = hook["webhook"]["id"]
    assert hook_id in [item.id for item in await client.list_webhooks()]
    assert (await client.get_webhook(hook_id)).url.endswith("/edgewright")
    await client.update_webhook(hook_id, description="sdk test")
    assert await client.list_webhook_deliveries(hook_id) == []
    await client.delete_webhook(hook_id)
    assert isinstance(await client.list_alerts(state="firing"), list)
    assert await client.list_alert_rules()
    with pytest.raises(NotFound):
        await client.acknowledge_alert(999_999)
    assert (await client.health())["status"]
    assert (await client.get_config()).to_dict()


async def test_maintenance_window_refuses_writes_until_stopped(
    client: AsyncCloudCoreClient,
) -> None:
    opened = await client.start_maintenance("sdk test", 30, message="back soon")
    try:
        assert opened.active is True
        assert (await client.maintenance_status()).reason == "sdk test"
        # Retry-After (the window's 30 minutes) is beyond the client's retry limit: at once.
        with pytest.raises(Unavailable) as refused:
            await client.edge.create_workload(f"w{_tag()}", "nginx:1.27", replicas=1)
        assert refused.value.retry_after is not None
        assert refused.value.retry_after > 60
        assert "back soon" in str(refused.value)
    finally:
        stopped = await client.stop_maintenance()
    assert (stopped.active, stopped.ended) == (False, "stopped")
