"""The `edgewright` command run as a subprocess against the stack: output formats, exit
codes (0 done, 1 failed, 2 refused with field errors, 3 unreachable), login, events."""

from __future__ import annotations

import asyncio
import contextlib
import json
import stat
import sys
import uuid
from pathlib import Path

import pytest
import yaml

from store.devices import inventory
from tests.e2e.command_stack import CommandStack
from tests.e2e.sdk.conftest import sdk_env
from tests.e2e.stack import ADMIN_PASSWORD
from tests.support.mqtt_fixtures import Broker

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def cli(stack: CommandStack, *args: str, **env: str) -> tuple[int, str, str]:
    settings = {"EDGEWRIGHT_URL": stack.base_url, "EDGEWRIGHT_TOKEN": stack.token, **env}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "kubeedge_cloudcore.cli",
        *args,
        env=sdk_env(COLUMNS="200", **{k: v for k, v in settings.items() if v}),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


# Several command lines in one interpreter (a launch costs seconds of CPU): each through
# the same `main` as the console script, its exit code after a marker on both streams.
RUN_MANY = """
import json, sys
from kubeedge_cloudcore.cli import main
for argv in json.loads(sys.argv[1]):
    try:
        main(argv)
    except SystemExit as done:
        code = done.code
    print(f"\\n@@exit {code}", flush=True)
    print(f"\\n@@exit {code}", file=sys.stderr, flush=True)
"""


async def cli_many(
    stack: CommandStack, *lines: list[str], **env: str
) -> list[tuple[int, str, str]]:
    """Run each command line in turn in one process; (exit code, stdout, stderr) of each."""
    settings = {"EDGEWRIGHT_URL": stack.base_url, "EDGEWRIGHT_TOKEN": stack.token, **env}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        RUN_MANY,
        json.dumps(lines),
        env=sdk_env(COLUMNS="200", **settings),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    outs = out.decode().split("\n@@exit ")
    errs = err.decode().split("\n@@exit ")
    # A run's output is before its marker, after the previous marker's line.
    runs: list[tuple[int, str, str]] = []
    for n in range(len(lines)):
        code = int(outs[n + 1].split("\n", 1)[0])
        text = outs[n] if n == 0 else outs[n].split("\n", 1)[1]
        error = errs[n] if n == 0 else errs[n].split("\n", 1)[1]
        runs.append((code, text, error))
    return runs


async def test_refused_requests_exit_2_with_every_field_error(module_stack: CommandStack) -> None:
    (code, _out, err), (join_code, _out, join_err) = await cli_many(
        module_stack, ["devices", "get", "no-such-device"], ["join", "Bad_Name", "ok-device"]
    )
    assert code == 2
    assert "404 API-004" in err
    assert join_code == 2
    assert "node_name" in join_err  # every field error is printed


async def test_yaml_output_and_an_unreachable_server(module_stack: CommandStack) -> None:
    (code, out, err), (far_code, _out, far_err) = await cli_many(
        module_stack,
        ["devices", "list", "-o", "yaml"],
        ["--url", "http://127.0.0.1:9", "devices", "list"],
    )
    assert code == 0, err
    assert isinstance(yaml.safe_load(out), list)
    assert far_code == 3
    assert "cannot connect" in far_err


async def test_commands_and_jobs_exit_by_outcome(
    module_stack: CommandStack, mqtt_broker: Broker
) -> None:
    fleet = await module_stack.devices(1, mqtt=mqtt_broker)
    (device,) = list(fleet.devices)
    try:
        code, out, err = await cli(
            module_stack,
            "command",
            "send",
            device,
            "capture_image",
            "--param",
            "quality=90",
            "--wait",
            "-o",
            "json",
        )
        assert code == 0, err
        assert json.loads(out)["status"] == "completed"
        code, out, err = await cli(
            module_stack, "command", "job", "start", "ping", "--device", device, "-o", "json"
        )
        assert code == 0, err
        assert json.loads(out)["succeeded"] == 1
        events = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "kubeedge_cloudcore.cli",
            "events",
            "--device-id",
            device,
            env=sdk_env(EDGEWRIGHT_URL=module_stack.base_url, EDGEWRIGHT_TOKEN=module_stack.token),
            stdout=asyncio.subprocess.PIPE,
        )
        assert events.stdout is not None
        try:
            async with asyncio.timeout(30):
                line = (await events.stdout.readline()).decode()
            assert f"device_id={device}" in line
            # The table format: timestamp, event type, then key=value fields.
            assert line.split()[1] in ("heartbeat", "device_online", "command_sent")
        finally:
            with contextlib.suppress(ProcessLookupError):
                events.kill()
            await events.wait()
    finally:
        await fleet.stop()


async def test_backup_create_and_dry_run_restore(module_stack: CommandStack) -> None:
    code, out, err = await cli(module_stack, "backup", "create", "--name", "cli", "-o", "json")
    assert code == 0, err
    backup_id = json.loads(out)["backup_id"]
    code, out, err = await cli(
        module_stack, "backup", "restore", backup_id, "--dry-run", "-o", "json"
    )
    assert code == 0, err
    assert json.loads(out)["dry_run"] is True


async def test_login_keeps_a_private_token(module_stack: CommandStack, tmp_path: Path) -> None:
    home = {"XDG_CONFIG_HOME": str(tmp_path), "EDGEWRIGHT_TOKEN": ""}
    code, out, err = await cli(
        module_stack, "login", "--username", "admin", EDGEWRIGHT_PASSWORD=ADMIN_PASSWORD, **home
    )
    assert code == 0, err
    kept = tmp_path / "edgewright" / "credentials.json"
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    code, out, err = await cli(module_stack, "devices", "list", "-o", "json", **home)
    assert isinstance(json.loads(out), list)
    assert code == 0, err


async def test_webhooks_alerts_rollouts_jobs_and_device_delete(
    module_stack: CommandStack,
) -> None:
    device = f"cli{uuid.uuid4().hex[:6]}-dev"
    async with module_stack.sessions() as session, session.begin():
        await inventory.upsert_device(
            session, device_id=device, node_name=f"{device}-node", status="joined"
        )
    created, acked, rollout, paused, resumed, aborted, deleted = await cli_many(
        module_stack,
        ["webhooks", "create", "http://127.0.0.1:9/cli", "-e", "device_joined", "-o", "json"],
        ["alerts", "ack", "999999"],
        ["rollout", "status", "no-such-workload", "no-such-rollout"],
        ["command", "job", "pause", "no-such-job"],
        ["command", "job", "resume", "no-such-job"],
        ["command", "job", "abort", "no-such-job"],
        ["devices", "delete", device, "-o", "json"],
        EDGEWRIGHT_WEBHOOK_SECRET="s" * 32,
    )
    assert created[0] == 0, created[2]
    hook_id = json.loads(created[1])["webhook"]["id"]
    for code, _out, err in (acked, rollout, paused, resumed, aborted):
        assert code == 2, err
        assert "404" in err
    assert deleted[0] == 0, deleted[2]
    assert json.loads(deleted[1])["device_id"] == device
    listed, removed, after = await cli_many(
        module_stack,
        ["webhooks", "list", "-o", "json"],
        ["webhooks", "delete", hook_id, "-o", "json"],
        ["webhooks", "list", "-o", "json"],
    )
    assert hook_id in [hook["id"] for hook in json.loads(listed[1])]
    assert removed[0] == 0, removed[2]
    assert hook_id not in [hook["id"] for hook in json.loads(after[1])]


async def test_maintenance_start_status_stop(module_stack: CommandStack) -> None:
    try:
        started, status, refused, stopped = await cli_many(
            module_stack,
            ["maintenance", "start", "--reason", "cli", "--duration-minutes", "30", "-o", "json"],
            ["maintenance", "status", "-o", "json"],
            ["join", "cli-node", "cli-device"],  # a write in the window: 503, exit 1
            ["maintenance", "stop", "-o", "json"],
        )
    finally:
        # Whatever happened above, later writes on this stack must not get 503.
        await module_stack.http.post("/api/kubeedge/maintenance/stop", headers=module_stack.auth)
    assert started[0] == 0, started[2]
    assert json.loads(started[1])["active"] is True
    assert json.loads(status[1])["reason"] == "cli"
    assert refused[0] == 1
    assert "503" in refused[2]
    assert stopped[0] == 0, stopped[2]
    assert json.loads(stopped[1])["active"] is False
