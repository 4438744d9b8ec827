"""The `edgewright` command run as a subprocess against the stack: output formats, exit
codes (0 done, 1 failed, 2 refused with field errors, 3 unreachable), login, events."""

from __future__ import annotations

import asyncio
import contextlib
import json
import stat
import sys
from pathlib import Path

import pytest
import yaml

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


async def test_refused_requests_exit_2_with_every_field_error(module_stack: CommandStack) -> None:
    code, _out, err = await cli(module_stack, "devices", "get", "no-such-device")
    assert code == 2
    assert "404 API-004" in err
    code, _out, err = await cli(module_stack, "join", "Bad_Name", "ok-device")
    assert code == 2
    assert "node_name" in err  # every field error is printed


async def test_yaml_output_and_an_unreachable_server(module_stack: CommandStack) -> None:
    code, out, err = await cli(module_stack, "devices", "list", "-o", "yaml")
    assert code == 0, err
    assert isinstance(yaml.safe_load(out), list)
    code, _out, err = await cli(module_stack, "--url", "http://127.0.0.1:9", "devices", "list")
    assert code == 3
    assert "cannot connect" in err


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
