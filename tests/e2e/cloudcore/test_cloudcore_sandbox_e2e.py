"""End to end against the sandbox: CloudCore runs out of the box, a deploy completes, and
one still rolling out when its answer is due answers 202 with a status URL that tells the
rest (here: held unavailable by the sandbox's controller, so it rolls back)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s
from temporalio.testing import WorkflowEnvironment

from tests.e2e.inventory_fixtures import exists
from tests.e2e.stack import Stack, running_stack, stack_settings
from tests.support.helpers import eventually, polled
from tests.support.kube_fixtures import hold_rollouts
from tests.support.mqtt_fixtures import Broker

KE = "/api/kubeedge"


@pytest.fixture
async def make_stack(
    dev_env: WorkflowEnvironment, kube_sandbox_url: str, mqtt_broker: Broker, tmp_path: Path
) -> Any:
    def make(*, worker: bool = True, **overrides: Any) -> Any:
        settings = stack_settings(
            data_dir=tmp_path, temporal=dev_env.client, sandbox_url=kube_sandbox_url,
            broker=mqtt_broker,
        ).model_copy(update=overrides)  # fmt: skip
        return running_stack(settings, dev_env.client, worker=worker, health=True)

    return make


@pytest.fixture
async def own_namespace_stack(make_stack: Any) -> AsyncIterator[Stack]:
    async with make_stack(kubeedge_namespace=f"kubeedge-{uuid.uuid4().hex[:8]}") as stack:
        yield stack


async def test_a_fresh_stack_shows_cloudcore_running(make_stack: Any) -> None:
    # Namespace kubeedge, as the sandbox installed it. No worker: no workflow is needed, and
    # one that never got a task waits out its long poll (a minute) to shut down.
    async with make_stack(worker=False) as stack:
        auth = await stack.login()
        health = (await stack.http.get("/api/health", headers=auth)).json()
        status = (await stack.http.get(f"{KE}/cloudcore/status", headers=auth)).json()
        anonymous = (await stack.http.get("/api/v1/health")).json()
    assert health["components"]["cloudcore"] == "running", health["details"]["cloudcore"]
    assert health["details"]["cloudcore"]["mode"] == "sandbox"
    assert (
        "Deployment kubeedge/cloudcore: 1 of 1 replicas available"
        in (health["details"]["cloudcore"]["detail"])
    )
    assert anonymous["components"]["cloudcore"] == "running"
    assert (status["status"], status["available_replicas"]) == ("running", 1)
    [service] = status["services"]
    ports = {p["name"]: (p["port"], p["nodePort"]) for p in service["ports"]}
    assert ports["cloudhub"] == (10000, 30000)
    assert len(ports) == 5  # cloudhub, cloudhub-quic, cloudhub-https, cloudstream, tunnelport


async def test_a_deploy_in_the_sandbox_completes(own_namespace_stack: Stack) -> None:
    stack = own_namespace_stack
    auth = await stack.login()
    deployed = await stack.http.post(
        f"{KE}/cloudcore/deploy", json={"version": "1.20.1", "replicas": 2}, headers=auth
    )
    assert deployed.status_code == 200, deployed.text
    body = deployed.json()
    assert (body["status"], body["deploy_status"]) == ("success", "succeeded")
    assert body["rollout"]["available"] == 2
    run = (await stack.http.get(body["status_url"], headers=auth)).json()
    assert (run["status"], run["run_id"], run["version"]) == ("success", body["run_id"], "1.20.1")
    status = (await stack.http.get(f"{KE}/cloudcore/status", headers=auth)).json()
    assert (status["status"], status["version"], status["available_replicas"]) == (
        "running",
        "1.20.1",
        2,
    )


async def test_a_deploy_still_rolling_out_answers_202_and_its_status_url_tells_the_end(
    make_stack: Any,
) -> None:
    namespace = f"kubeedge-{uuid.uuid4().hex[:8]}"
    settings = {"cloudcore_answer_timeout_seconds": 1, "cloudcore_rollout_timeout_seconds": 4}
    async with make_stack(kubeedge_namespace=namespace, **settings) as stack:
        auth = await stack.login()
        await asyncio.to_thread(hold_rollouts, stack.kube.api_client, namespace)
        answer = await stack.http.post(
            f"{KE}/cloudcore/deploy", json={"version": "1.19.0"}, headers=auth
        )
        assert answer.status_code == 202, answer.text
        body = answer.json()
        assert body["status"] == "accepted"
        assert body["status_url"] == f"{KE}/cloudcore/deploy/runs/{body['run_id']}"
        assert body["deploy_status"] in (None, "applying", "rolling_out")

        async def ended() -> dict[str, Any] | None:
            run: dict[str, Any] | None = polled(
                await stack.http.get(body["status_url"], headers=auth)
            )
            return run if run is not None and run["status"] != "in_progress" else None

        run = await eventually(ended)
        assert (run["status"], run["deploy_status"]) == ("failed", "rolled_back")
        assert "rolled back" in run["message"]
        apps = k8s.AppsV1Api(stack.kube.api_client)
        assert not await asyncio.to_thread(
            exists, apps.read_namespaced_deployment, "cloudcore", namespace
        )
        missing = await stack.http.get(f"{KE}/cloudcore/deploy/runs/{uuid.uuid4()}", headers=auth)
        assert missing.status_code == 404


async def test_without_a_worker_the_deploy_still_answers_when_its_answer_is_due(
    make_stack: Any,
) -> None:
    # Nothing runs the workflow, nor answers its progress query: the answer is due anyway.
    namespace = f"kubeedge-{uuid.uuid4().hex[:8]}"
    async with make_stack(
        worker=False, kubeedge_namespace=namespace, cloudcore_answer_timeout_seconds=1
    ) as stack:
        auth = await stack.login()
        answer = await stack.http.post(
            f"{KE}/cloudcore/deploy", json={"version": "v1.19.0"}, headers=auth
        )
        body = answer.json()
        asked = await stack.http.get(body["status_url"], headers=auth)
        await stack.temporal.get_workflow_handle(body["workflow_id"]).terminate()
    # Its status URL cannot hear from the run either, and says so when its answer is due.
    assert asked.status_code == 503, asked.text
    assert asked.headers["Retry-After"] == "5"
    assert answer.status_code == 202, answer.text
    assert (body["status"], body["deploy_status"], body["version"]) == (
        "accepted",
        None,
        "1.19.0",
    )
    assert body["status_url"] == f"{KE}/cloudcore/deploy/runs/{body['run_id']}"
