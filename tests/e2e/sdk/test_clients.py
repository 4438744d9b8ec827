"""Each SDK client method against one stack (API on a port, worker, bridge, broker):
pages, typed errors from both envelopes, wait helpers, SSE and WebSocket, and the retry
of a real 503 (a full event hub) and the mapping of a real 429 (the rate limiter).

The stack is shared by the module; the rate-limit test runs last, as it lowers the limit
for every caller."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from kubeedge_cloudcore import (
    AsyncCloudCoreClient,
    BadRequest,
    CloudCoreClient,
    Conflict,
    ConnectionFailed,
    Forbidden,
    NotFound,
    RateLimited,
    RetryPolicy,
    Unauthorized,
)
from temporalio.testing import WorkflowEnvironment

from store.devices import inventory
from tests.e2e.command_stack import CommandStack, command_settings, running_command_stack
from tests.e2e.sdk.conftest import new_api_key
from tests.support.mqtt_fixtures import Broker

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest.fixture(scope="module")
async def stack(
    dev_env: WorkflowEnvironment,
    kube_sandbox_url: str,
    mqtt_broker: Broker,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[CommandStack]:
    settings = command_settings(
        data_dir=tmp_path_factory.mktemp("sdk"),
        temporal=dev_env.client,
        sandbox_url=kube_sandbox_url,
        broker=mqtt_broker,
    ).model_copy(update={"live_max_clients": 1})  # a second stream gets a real 503
    async with running_command_stack(settings, dev_env.client) as running:
        yield running


@pytest.fixture(scope="module")
async def client(stack: CommandStack) -> AsyncIterator[AsyncCloudCoreClient]:
    async with AsyncCloudCoreClient(stack.base_url, token=stack.token) as sdk:
        yield sdk


def _tag() -> str:
    return uuid.uuid4().hex[:6]


async def test_list_devices_follows_every_page(
    stack: CommandStack, client: AsyncCloudCoreClient
) -> None:
    tag = _tag()
    async with stack.sessions() as session, session.begin():
        for n in range(130):
            await inventory.upsert_device(
                session, device_id=f"p{tag}-{n}", node_name=f"p{tag}-node-{n}", status="joined"
            )
    pages: list[str] = []

    async def count(request: httpx.Request) -> None:
        if request.url.path == "/api/kubeedge/devices":
            pages.append(request.url.params["page"])

    http = httpx.AsyncClient(base_url=stack.base_url, event_hooks={"request": [count]})
    async with AsyncCloudCoreClient(stack.base_url, token=stack.token, http=http) as paged:
        devices = await paged.list_devices()
    ours = [device for device in devices if device.device_id.startswith(f"p{tag}-")]
    assert len(ours) == 130
    assert pages == ["1", "2"]  # 100 a page
    detail = await client.get_device(f"p{tag}-7")
    assert detail["node_name"] == f"p{tag}-node-7"


async def test_errors_are_typed_from_both_envelopes(
    stack: CommandStack, client: AsyncCloudCoreClient
) -> None:
    with pytest.raises(NotFound) as cloudcore:
        await client.get_device("no-such-device")
    assert cloudcore.value.code == "API-004"
    with pytest.raises(NotFound) as edge:
        await client.edge.get_node("no-such-node")
    assert edge.value.code == "NOT_FOUND"
    with pytest.raises(BadRequest) as refused:
        await client.join_device("Bad_Name", "ok-device")
    assert refused.value.code == "API-001"
    assert any("node_name" in field for field in refused.value.details)
    async with AsyncCloudCoreClient(stack.base_url, api_key="ek_not-a-real-key") as stranger:
        with pytest.raises(Unauthorized):
            await stranger.list_devices()
    viewer = await new_api_key(stack, role="viewer")
    async with AsyncCloudCoreClient(stack.base_url, api_key=viewer) as read_only:
        assert isinstance(await read_only.list_devices(), list)
        with pytest.raises(Forbidden):
            await read_only.create_api_key(f"k{_tag()}")
    async with AsyncCloudCoreClient("http://127.0.0.1:9", token="x") as nowhere:
        with pytest.raises(ConnectionFailed):
            await nowhere.me()


async def test_access_users_and_api_keys(stack: CommandStack, client: AsyncCloudCoreClient) -> None:
    name = f"u{_tag()}"
    created = await client.create_user(name, "a-long-enough-password", "operator")
    with pytest.raises(Conflict):
        await client.create_user(name, "a-long-enough-password")
    user_id = created["user"]["id"]
    assert (await client.get_user(user_id)).username == name
    assert name in [user.username for user in await client.list_users()]
    # The user logs in with a password: the SDK logs in on first use.
    async with AsyncCloudCoreClient(
        stack.base_url, username=name, password="a-long-enough-password"
    ) as person:
        assert (await person.me())["username"] == name
        await person.logout()
    await client.delete_user(user_id)
    key = await client.create_api_key(f"k{_tag()}", role="viewer")
    assert key.api_key.key_id in [item.key_id for item in await client.list_api_keys()]
    await client.revoke_api_key(key.api_key.key_id)


async def test_commands_jobs_and_the_live_stream(
    stack: CommandStack, client: AsyncCloudCoreClient, mqtt_broker: Broker
) -> None:
    fleet = await stack.devices(2, mqtt=mqtt_broker)
    first, second = list(fleet.devices)
    try:
        sent = await client.send_command(first, "capture_image", {"resolution": "640x480"})
        done = await client.wait_command(sent.command_id, timeout=60)
        assert done.status == "completed"
        waited = await client.send_command(second, "reboot", wait=True)
        assert waited.command_status == "completed"
        job = await client.start_command_job("ping", device_ids=[first, second])
        finished = await client.wait_command_job(job.job_id, timeout=60)
        assert (finished.state, finished.succeeded) == ("completed", 2)
        event = await _first_event(client.monitor_stream(["heartbeat"], device_id=first))
        assert (event["event"], event["device_id"]) == ("heartbeat", first)
        async with client.subscribe(["device_status"]) as subscription:
            message = await _first_event(subscription.__aiter__())
        assert message["type"] in ("heartbeat", "device_online")
    finally:
        await fleet.stop()


async def _first_event(events: AsyncIterator[dict[str, Any]]) -> dict[str, Any]:
    async with asyncio.timeout(30):
        async for event in events:
            return event
    raise AssertionError("the stream ended")


async def test_a_full_event_hub_answers_503_and_the_stream_retries(
    stack: CommandStack, client: AsyncCloudCoreClient, mqtt_broker: Broker
) -> None:
    fleet = await stack.devices(1, mqtt=mqtt_broker)
    statuses: list[int] = []
    answered = asyncio.Event()

    async def record(response: httpx.Response) -> None:
        if response.url.path.endswith("/monitor/stream"):
            statuses.append(response.status_code)
            answered.set()

    http = httpx.AsyncClient(base_url=stack.base_url, event_hooks={"response": [record]})
    try:
        holder = client.monitor_stream()
        await _first_event(holder)  # the hub's one client
        async with AsyncCloudCoreClient(stack.base_url, token=stack.token, http=http) as late:
            waiting = asyncio.create_task(_first_event(late.monitor_stream()))
            await answered.wait()
            await holder.aclose()  # a place frees; the Retry-After wait ends in a retry
            event = await waiting
        assert event["event"] in ("heartbeat", "device_online")
        assert statuses[0] == 503
        assert statuses[-1] == 200
    finally:
        await fleet.stop()


async def test_the_sync_client_in_a_thread(stack: CommandStack) -> None:
    def run() -> tuple[int, str]:
        with CloudCoreClient(stack.base_url, token=stack.token) as sync:
            devices = sync.list_devices()
            with contextlib.suppress(NotFound):
                sync.get_device("missing")
            return len(devices), sync.health().status

    count, health = await asyncio.to_thread(run)
    assert count >= 0
    assert health


async def test_a_real_429_is_rate_limited_with_retry_after(
    stack: CommandStack, client: AsyncCloudCoreClient
) -> None:
    """Last: it lowers the rate limit for every caller of this stack."""
    key = await new_api_key(stack)
    await client.update_config(security={"rate_limit": 10})  # the least allowed
    # Retry-After is up to a minute: more than this client waits, so it raises at once.
    patient = RetryPolicy(max_retries=3, max_retry_after=1)
    async with AsyncCloudCoreClient(stack.base_url, api_key=key, retry=patient) as limited:
        with pytest.raises(RateLimited) as refused:
            await _until_refused(limited)
    assert refused.value.code == "API-006"
    assert refused.value.retry_after is not None
    assert refused.value.retry_after > 1
    assert refused.value.details["limit"] == 10


async def _until_refused(client: AsyncCloudCoreClient) -> None:
    for _ in range(50):
        await client.list_devices()
