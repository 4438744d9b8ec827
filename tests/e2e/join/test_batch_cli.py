"""The `edgewright` command line (the SDK's) joins batches against the API over real HTTP."""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import uvicorn
from temporalio.testing import WorkflowEnvironment

from tests.e2e.sdk.conftest import sdk_env
from tests.e2e.stack import Stack, running_stack, stack_settings
from tests.support.helpers import free_port, wait_for_port
from tests.support.mqtt_fixtures import Broker


@pytest.fixture
async def served(
    dev_env: WorkflowEnvironment, kube_sandbox_url: str, mqtt_broker: Broker, tmp_path: Path
) -> AsyncIterator[tuple[Stack, str]]:
    settings = stack_settings(
        data_dir=tmp_path, temporal=dev_env.client, sandbox_url=kube_sandbox_url, broker=mqtt_broker
    )
    async with running_stack(settings, dev_env.client) as stack:
        port = free_port()
        app = stack.http._transport.app  # type: ignore[attr-defined]
        # The lifespan already ran in running_stack; serve the same app over a socket.
        server = uvicorn.Server(uvicorn.Config(app, port=port, lifespan="off", log_level="warning"))
        task = asyncio.create_task(server.serve())
        await wait_for_port("127.0.0.1", port)
        try:
            yield stack, f"http://127.0.0.1:{port}"
        finally:
            server.should_exit = True
            await task


async def run_cli(url: str, token: str, *args: str) -> tuple[int, str]:
    env = sdk_env(EDGEWRIGHT_URL=url, EDGEWRIGHT_TOKEN=token, COLUMNS="200")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "kubeedge_cloudcore.cli",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    assert process.returncode is not None
    return process.returncode, output.decode()


async def test_cli_joins_a_csv_and_exits_by_outcome(
    served: tuple[Stack, str], tmp_path: Path
) -> None:
    stack, url = served
    token = (await stack.login())["Authorization"].removeprefix("Bearer ")
    tag = uuid.uuid4().hex[:6]
    rows = [f"{tag}-node-{i},{tag}-dev-{i},Hall {i}" for i in range(3)]
    good = tmp_path / "devices.csv"
    good.write_text("node_name,device_id,location\n" + "\n".join(rows) + "\n")

    code, output = await run_cli(url, token, "batch-join", str(good))
    assert code == 0, output
    assert "3 devices, 3 succeeded, 0 failed" in output

    # The same devices again under another batch name: each already has its join run.
    code, output = await run_cli(url, token, "batch-join", str(good), "--batch-id", f"again-{tag}")
    assert code == 1, output
    assert "3 failed" in output
    assert "already has a join run" in output

    bad = tmp_path / "bad.csv"
    bad.write_text("node_name,device_id\nBad_Name,ok-device\n")
    code, output = await run_cli(url, token, "batch-join", str(bad))
    assert code == 2, output
    assert "devices[0].node_name" in output
