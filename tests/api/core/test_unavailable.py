"""A store or Temporal that is down or overloaded answers 503 with Retry-After, in the
path's envelope; what else those libraries raise stays a 500."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Sequence
from pathlib import Path

import httpx
import pytest
from fastapi import APIRouter
from google.protobuf.any_pb2 import Any as AnyProto
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from temporalio.api.common.v1 import GrpcStatus
from temporalio.api.errordetails.v1 import MultiOperationExecutionFailure, WorkflowNotReadyFailure
from temporalio.service import RPCError, RPCStatusCode

from api.core.state import app_state
from store.access.users import Role
from store.settings import Settings
from tests.api.helpers import ApiUser, bearer, make_settings

probe = APIRouter()
PARAMETER = "a-secret-parameter-value"


@probe.get("/api/v1/_probe/temporal/{status}")
async def temporal_says(status: str) -> None:
    raise RPCError("the server said no", RPCStatusCode[status], b"")


def _packed(message: object) -> AnyProto:
    packed = AnyProto()
    packed.Pack(message)  # type: ignore[arg-type]
    return packed


@probe.get("/api/v1/_probe/temporal-update/{ready}")
async def update_refused(ready: str) -> None:
    # As update-with-start reports a run whose workflow task is being retried: the update
    # operation's status says the workflow is not ready (the start's is only aborted).
    update = MultiOperationExecutionFailure.OperationStatus(
        code=RPCStatusCode.FAILED_PRECONDITION, message="not now"
    )
    if ready == "no":
        update.details.append(_packed(WorkflowNotReadyFailure()))
    aborted = MultiOperationExecutionFailure.OperationStatus(code=RPCStatusCode.ABORTED)
    multi = MultiOperationExecutionFailure(statuses=[aborted, update])
    status = GrpcStatus(code=RPCStatusCode.FAILED_PRECONDITION, details=[_packed(multi)])
    raise RPCError("not now", RPCStatusCode.FAILED_PRECONDITION, status.SerializeToString())


@probe.get("/api/kubeedge/_probe/store/{kind}")
async def store_says(kind: str) -> None:
    error = OperationalError if kind == "lost" else IntegrityError
    raise error("UPDATE t SET v = ?", (PARAMETER,), Exception("server closed the connection"))


@pytest.fixture
def extra_routers() -> Sequence[APIRouter]:
    return (probe,)


@pytest.fixture
def settings(tmp_path: Path, template_db: tuple[Path, list[ApiUser]]) -> Settings:
    shutil.copyfile(template_db[0], tmp_path / "edgewright.db")
    # One connection, given up on after 0.2 s.
    return make_settings(tmp_path, database_pool_size=1, database_pool_timeout_seconds=0.2)


async def test_a_request_that_finds_no_free_store_connection_is_a_503(
    app: object, client: httpx.AsyncClient, tokens: dict[Role, str]
) -> None:
    engine = app_state(app).engine  # type: ignore[arg-type]
    headers = bearer(tokens[Role.VIEWER])
    async with contextlib.AsyncExitStack() as held:
        taken = 0
        while True:  # every connection the pool may open, taken
            try:
                await held.enter_async_context(engine.connect())
            except PoolTimeout:
                break
            taken += 1
        assert taken == 1  # the pool's one: SQLite opens none past it
        answer = await client.get("/api/kubeedge/devices", headers=headers)
        assert answer.status_code == 503  # before: 500
        assert answer.headers["Retry-After"] == "2"
        assert answer.json()["message"] == "The store is busy; retry shortly"

    assert (await client.get("/api/kubeedge/devices", headers=headers)).status_code == 200


@pytest.mark.parametrize("status", ["UNAVAILABLE", "DEADLINE_EXCEEDED", "RESOURCE_EXHAUSTED"])
async def test_temporal_unreachable_or_overloaded_is_a_503(
    client: httpx.AsyncClient, status: str
) -> None:
    answer = await client.get(f"/api/v1/_probe/temporal/{status}")
    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == "5"
    body = answer.json()
    assert (body["error"], body["code"]) == (True, "SERVICE_UNAVAILABLE")  # Edge API's
    assert "Temporal is unavailable or overloaded" in str(body)


async def test_other_temporal_errors_stay_500(client: httpx.AsyncClient) -> None:
    answer = await client.get("/api/v1/_probe/temporal/INVALID_ARGUMENT")
    assert answer.status_code == 500
    # A refused precondition is a defect unless the run's workflow task is being retried.
    assert (await client.get("/api/v1/_probe/temporal-update/yes")).status_code == 500


async def test_an_update_refused_while_the_workflow_task_is_retried_is_a_503(
    client: httpx.AsyncClient,
) -> None:
    answer = await client.get("/api/v1/_probe/temporal-update/no")
    assert answer.status_code == 503  # before: 500 (bench.command_latency, busy machine)
    assert answer.headers["Retry-After"] == "5"


async def test_a_lost_store_connection_is_a_503_and_logs_no_parameters(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    answer = await client.get("/api/kubeedge/_probe/store/lost")
    assert answer.status_code == 503
    assert answer.json()["code"] == "API-009"
    assert PARAMETER not in answer.text
    assert PARAMETER not in caplog.text
    assert "server closed the connection" in caplog.text


async def test_a_refused_statement_stays_500(client: httpx.AsyncClient) -> None:
    answer = await client.get("/api/kubeedge/_probe/store/constraint")
    assert answer.status_code == 500
    assert PARAMETER not in answer.text
