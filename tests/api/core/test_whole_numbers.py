"""Where the CloudCore document shows an integer, the answer has one (`30`, not `30.0`),
while fractions stay fractions."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from api.commands.schemas import command_answer, status_answer
from store.access.users import Role
from store.models import utcnow
from tests.api.helpers import bearer, make_settings
from workflows.contracts.commands import CommandState, CommandStatus


def status(timeout: float) -> CommandStatus:
    return CommandStatus(
        command_id="cmd_12345",
        device_id="edge-device-001",
        command="capture_image",
        state=CommandState.SENT,
        timeout_seconds=timeout,
        queued_at=utcnow(),
        sent_at=utcnow(),
    )


def test_command_timeouts_are_integers_when_whole(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    sent = json.loads(
        command_answer(status(30.0), settings, waited=False, accepted=False).model_dump_json()
    )
    assert sent["expected_response_timeout"] == 30
    assert type(sent["expected_response_timeout"]) is int
    polled = json.loads(status_answer(status(30.0), settings).model_dump_json())
    assert type(polled["expected_response_timeout"]) is int
    half = json.loads(
        command_answer(status(2.5), settings, waited=False, accepted=False).model_dump_json()
    )
    assert half["expected_response_timeout"] == 2.5


async def test_config_token_expiry_is_an_integer(
    client: httpx.AsyncClient, tokens: dict[Role, str]
) -> None:
    admin = bearer(tokens[Role.ADMIN])
    before = (await client.get("/api/kubeedge/config", headers=admin)).json()
    assert type(before["security"]["token_expiry"]) is int
    assert type(before["token_expiry"]) is int
    put = await client.put("/api/kubeedge/config", json={"token_expiry": 96}, headers=admin)
    assert put.status_code == 200, put.text
    assert type(put.json()["security"]["token_expiry"]) is int
    assert put.json()["token_expiry"] == 96
    half = await client.put("/api/kubeedge/config", json={"token_expiry": 1.5}, headers=admin)
    assert half.json()["token_expiry"] == 1.5
