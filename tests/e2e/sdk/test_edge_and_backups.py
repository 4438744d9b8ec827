"""The Edge API client (nodes, metrics, security tokens, workloads), backups and
restores with their wait helpers, webhooks and alerts, against one stack."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from kubeedge_cloudcore import (
    ApiError,
    AsyncCloudCoreClient,
    AsyncEdgeClient,
    CloudCoreClient,
    NotFound,
    StreamRevoked,
    Unavailable,
)

from tests.e2e.command_stack import CommandStack
from tests.support.mqtt_fixtures import Broker

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


async def test_batch_steering_and_wait_batch_polls(client: AsyncCloudCoreClient) -> None:
    tag = _tag()
    body = [
        {"node_name": f"b{tag}-node-{n}", "device_id": f"b{tag}-dev-{n}", "device_type": "camera"}
        for n in range(20)
    ]
    accepted = await client.batch_join(body, max_concurrency=1)
    assert accepted["status"] == "accepted"  # the stack answers a batch after 0.5 s
    batch_id = accepted["batch_id"]
    assert (await client.pause_batch(batch_id))["action"] == "pause"
    assert (await client.resume_batch(batch_id))["action"] == "resume"
    assert (await client.cancel_batch(batch_id))["action"] == "cancel"
    seen: list[str] = []
    report = await client.wait_batch(
        batch_id, timeout=60, poll=0.2, on_progress=lambda s: seen.append(s["status"])
    )
    assert report["status"] == "cancelled"
    assert seen[-1] == "cancelled"
    assert len(report["results"]) <= len(body)


async def test_join_tokens_broadcast_schedules_apps_and_status(
    client: AsyncCloudCoreClient,
) -> None:
    node = f"t{_tag()}-node"
    generated = await client.generate_token(node)
    assert generated.join_command
    assert node in [item.node_name for item in await client.list_tokens(node_name=node)]
    await client.revoke_token(node)
    assert [t.status for t in await client.list_tokens(node_name=node)] == ["revoked"]
    kind = f"kind{_tag()}"
    nobody = await client.broadcast_command("ping", kind)  # no device of the type: sent to none
    assert (nobody.device_type, nobody.command_status) == (kind, "sent")
    assert nobody.status_url == f"/api/kubeedge/command/{nobody.command_id}/status"
    for schedule in await client.list_backup_schedules():
        assert (await client.get_backup_schedule(schedule.id)).id == schedule.id
    with pytest.raises(NotFound):
        await client.trigger_backup_schedule("no-such-schedule")
    assert isinstance(await client.list_apps(), list)
    with pytest.raises(ApiError) as refused:
        await client.deploy_app(name=f"a{_tag()}", image="nginx:1.27", device_ids=["nowhere"])
    assert refused.value.status in (400, 404, 409)
    assert (await client.cloudcore_status()).status
    assert (await client.fleet_summary()).summary is not None


async def _first_event(events: AsyncIterator[dict[str, Any]]) -> dict[str, Any]:
    async with asyncio.timeout(30):
        async for event in events:
            return event
    raise AssertionError("the stream ended")


async def test_a_revoked_key_ends_its_stream_with_stream_revoked(
    module_stack: CommandStack, client: AsyncCloudCoreClient
) -> None:
    key = await client.create_api_key(f"k{_tag()}", role="viewer")
    opened = asyncio.Event()

    async def opens(response: httpx.Response) -> None:
        if response.url.path.endswith("/monitor/stream"):
            opened.set()

    http = httpx.AsyncClient(base_url=module_stack.base_url, event_hooks={"response": [opens]})
    async with AsyncCloudCoreClient(module_stack.base_url, api_key=key.key, http=http) as watcher:
        watching = asyncio.create_task(_first_event(watcher.monitor_stream()))
        async with asyncio.timeout(30):
            await opened.wait()
        await client.revoke_api_key(key.api_key.key_id)
        with pytest.raises(StreamRevoked):
            await watching


class _CutAfterFirstEvent(httpx.AsyncByteStream):
    """The server's stream, ended after its first event: a dropped connection."""

    def __init__(self, inner: httpx.AsyncByteStream) -> None:
        self._inner = inner

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._inner:
            yield chunk
            if b"\nid:" in chunk or chunk.startswith(b"id:"):
                return

    async def aclose(self) -> None:
        await self._inner.aclose()


class _DropFirstStream(httpx.AsyncHTTPTransport):
    def __init__(self) -> None:
        super().__init__()
        self.last_event_ids: list[str | None] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await super().handle_async_request(request)
        if not request.url.path.endswith("/monitor/stream"):
            return response
        self.last_event_ids.append(request.headers.get("last-event-id"))
        if len(self.last_event_ids) > 1:
            return response
        assert isinstance(response.stream, httpx.AsyncByteStream)
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=_CutAfterFirstEvent(response.stream),
            extensions=response.extensions,
        )


async def test_monitor_stream_reopens_a_dropped_stream_with_last_event_id(
    module_stack: CommandStack, mqtt_broker: Broker
) -> None:
    fleet = await module_stack.devices(1, mqtt=mqtt_broker)
    (device,) = list(fleet.devices)
    transport = _DropFirstStream()
    http = httpx.AsyncClient(base_url=module_stack.base_url, transport=transport)
    try:
        async with AsyncCloudCoreClient(
            module_stack.base_url, token=module_stack.token, http=http
        ) as sdk:
            stream = sdk.monitor_stream(["heartbeat"], device_id=device)
            first = await _first_event(stream)
            second = await _first_event(stream)
            await stream.aclose()
        assert first["device_id"] == second["device_id"] == device
        assert transport.last_event_ids[0] is None
        assert transport.last_event_ids[1]  # the id of the event before the drop
    finally:
        await fleet.stop()


async def test_the_sync_websocket_helper(module_stack: CommandStack) -> None:
    def run() -> list[str]:
        with (
            CloudCoreClient(module_stack.base_url, token=module_stack.token) as sync,
            sync.subscribe(["device_status"], include_control=True) as subscription,
        ):
            kinds: list[str] = []
            for message in subscription:
                kinds.append(message["type"])
                if message["type"] == "subscribed":
                    return kinds
            return kinds

    kinds = await asyncio.wait_for(asyncio.to_thread(run), timeout=30)
    assert kinds[-1] == "subscribed"


async def test_a_steered_rollout_is_followed_to_its_end(client: AsyncCloudCoreClient) -> None:
    """A node that never reports its workload: the canary waits at its gate until aborted."""
    edge = client.edge
    node = await edge.register_node(f"n{_tag()}")
    created = await edge.create_workload(f"w{_tag()}", "nginx:1.27", replicas=1)
    try:
        started = await edge.deploy_workload(created.id, nodes=[node.name])
        rollout = started.deployment_id
        assert (await edge.pause_rollout(created.id, rollout)).deployment_id == rollout
        assert (await edge.resume_rollout(created.id, rollout)).deployment_id == rollout
        await edge.abort_rollout(created.id, rollout)
        seen: list[str] = []
        final = await edge.wait_rollout(
            created.id, rollout, timeout=60, poll=0.2, on_progress=lambda v: seen.append(v.state)
        )
        assert (final.state, final.error) == ("rolled_back", "aborted on request")
        assert seen[-1] == "rolled_back"
        assert final.target_nodes == [node.name]
    finally:
        await edge.delete_workload(created.id)
        await edge.delete_node(node.id)
