"""End to end against the sandbox: the list shows the CloudCore certificate the sandbox
made; a renewal CloudCore never gets ready after (held by the sandbox's controller) puts
the old one back, and refuses a second renewal meanwhile; a renewal that gets ready
replaces it with a new serial and a later end."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from temporalio.testing import WorkflowEnvironment

from tests.e2e.stack import running_stack, stack_settings
from tests.support.helpers import eventually, polled
from tests.support.kube_fixtures import hold_rollouts
from tests.support.mqtt_fixtures import Broker

CERTS = "/api/kubeedge/security/certificates"


async def _listed(http: httpx.AsyncClient, auth: dict[str, str]) -> dict[str, Any]:
    answer = await http.get(CERTS, headers=auth)
    assert answer.status_code == 200, answer.text
    return {item["name"]: item for item in answer.json()["certificates"]}


async def _ended(
    http: httpx.AsyncClient, auth: dict[str, str], status_url: str
) -> dict[str, Any] | None:
    run: dict[str, Any] | None = polled(await http.get(status_url, headers=auth))
    return run if run is not None and run["status"] != "in_progress" else None


async def test_the_sandbox_certificate_is_listed_restored_when_not_ready_and_renewed(
    dev_env: WorkflowEnvironment, kube_sandbox_url: str, mqtt_broker: Broker, tmp_path: Any
) -> None:
    # Namespace kubeedge, where the sandbox made CloudCore's Secrets. 15 s for the restart.
    settings = stack_settings(
        data_dir=tmp_path, temporal=dev_env.client, sandbox_url=kube_sandbox_url,
        broker=mqtt_broker,
    ).model_copy(update={"cloudcore_rollout_timeout_seconds": 15})  # fmt: skip
    async with running_stack(settings, dev_env.client, worker=True, health=True) as stack:
        auth, http = await stack.login(), stack.http

        async def sandbox_certificate() -> dict[str, Any] | None:
            return (await _listed(http, auth)).get("cloudcoresecret")

        first = await eventually(sandbox_certificate)
        assert (first["status"], first["renewable"]) == ("ok", True)
        assert first["days_left"] > 30
        assert "IP:127.0.0.1" in first["sans"]
        assert first["subject"] == "O=KubeEdge,CN=KubeEdge"

        # CloudCore never gets ready: the old certificate goes back.
        await asyncio.to_thread(hold_rollouts, stack.kube.api_client, "kubeedge")
        try:
            held = await http.post(f"{CERTS}/renew", json={"name": "cloudcoresecret"}, headers=auth)
            assert held.status_code == 202, held.text
            again = await http.post(
                f"{CERTS}/renew", json={"name": "cloudcoresecret"}, headers=auth
            )
            assert again.status_code == 409, again.text
            run = await eventually(
                lambda: _ended(http, auth, held.json()["status_url"]), within=120
            )
        finally:
            await asyncio.to_thread(hold_rollouts, stack.kube.api_client, "kubeedge", held=False)
        assert (run["status"], run["renewal"]["status"]) == ("failed", "restored")
        assert run["renewal"]["previous_serial"] == first["serial"]
        assert (await _listed(http, auth))["cloudcoresecret"]["serial"] == first["serial"]

        renewed = await http.post(f"{CERTS}/renew", json={"name": "cloudcoresecret"}, headers=auth)
        assert renewed.status_code == 202, renewed.text
        run = await eventually(lambda: _ended(http, auth, renewed.json()["status_url"]), within=120)
        assert (run["status"], run["renewal"]["status"]) == ("success", "succeeded")
        after = (await _listed(http, auth))["cloudcoresecret"]
        logs = await http.get("/api/kubeedge/security/logs", headers=auth)
    audited = [(entry["event"], entry["outcome"]) for entry in logs.json()["logs"]]
    # Both renewals: asked for, then one ended restored (a failure) and one renewed.
    assert audited.count(("certificate_renewal_started", "success")) == 2, audited
    assert ("certificate_renewed", "failure") in audited
    assert ("certificate_renewed", "success") in audited
    assert after["serial"] == run["renewal"]["serial"] != first["serial"]
    assert after["not_after"] > first["not_after"]
    assert (after["subject"], after["sans"]) == (first["subject"], first["sans"])
