"""Starting a workflow run or attaching to the one that holds its ID, and hearing its answer.

Runs are started under business keys (`device-join/{device_id}`, `backup/{backup_id}`):
the same request again lands on the same run and gets the same answer, and the same ID
with another request is a conflict, told by the fingerprint the run was started with.
`RunStart` says how a run starts; `start_or_attach` (start with a conflict policy) and
`update_with_start` start it or find the run holding its ID; `answer_within` and
`outcome_within` wait a bounded time. They end in the errors of api.core.errors:
RunConflict (409), RunClosed and RunStillRunning.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Generic, NamedTuple, Protocol, TypeVar

from pydantic import BaseModel, ValidationError
from temporalio.client import (
    Client,
    WithStartWorkflowOperation,
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from api.core.errors import ApiError, RunClosed, RunConflict, RunStillRunning
from workflows.contracts.common import ErrorType

logger = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)
P = TypeVar("P", bound=BaseModel)

# An update call Temporal gave up on is tried again while more than this is left of the wait.
RETRY_MARGIN_SECONDS = 0.5
RETRY_PAUSE_SECONDS = 0.2
# How long a read waits for a run's query: a busy worker may not answer, and the store
# (or the run's known state) answers then.
PROGRESS_QUERY_TIMEOUT = timedelta(seconds=5)


def request_fingerprint(request: Any) -> str:
    """sha256 of a request's canonical JSON: equal for the same request, whatever the order."""
    canonical = json.dumps(request, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


class Fingerprinted(Protocol):
    @property
    def fingerprint(self) -> str | None: ...


def ensure_same_request(
    run: Fingerprinted,
    fingerprint: str | None,
    *,
    message: str,
    details: Mapping[str, Any] | None = None,
) -> None:
    """RunConflict unless `run` was started by the request with this fingerprint.

    A run that recorded no fingerprint (or a request without one) counts as the same.
    """
    if fingerprint is not None and run.fingerprint not in (None, fingerprint):
        raise RunConflict(message, details=details)


@dataclass(frozen=True, kw_only=True)
class RunStart(Generic[P]):
    """How to start a run under its ID, and how to ask it how it goes."""

    workflow: str
    arg: BaseModel
    id: str
    # What the Temporal UI lists the run as (workflows.contracts.summaries).
    summary: str
    task_queue: str
    result_type: type[P]
    # The query answering with a P while the run goes on, when the workflow has one.
    progress_query: str | None = None
    id_conflict_policy: WorkflowIDConflictPolicy = WorkflowIDConflictPolicy.UNSPECIFIED
    id_reuse_policy: WorkflowIDReusePolicy = WorkflowIDReusePolicy.ALLOW_DUPLICATE
    search_attributes: Sequence[SearchAttributePair[Any]] = ()
    execution_timeout: timedelta | None = None
    # None: Temporal's default (10 s) for each workflow task.
    task_timeout: timedelta | None = None

    def _attributes(self) -> TypedSearchAttributes | None:
        return (
            TypedSearchAttributes(list(self.search_attributes)) if self.search_attributes else None
        )


@dataclass(frozen=True)
class Started(Generic[P]):
    handle: WorkflowHandle[Any, P]
    # The ID's policies refused a new run: `handle` is the run that holds the ID (running
    # under conflict policy FAIL, or closed and kept by the reuse policy).
    refused: bool


class Outcome(NamedTuple, Generic[P]):
    progress: P
    finished: bool  # False: still running, `progress` is what it says so far


async def start_or_attach(client: Client, run: RunStart[P]) -> Started[P]:
    """Start the run; when its ID's policies refuse, the handle of the run holding the ID."""
    try:
        handle = await client.start_workflow(
            run.workflow,
            run.arg,
            id=run.id,
            task_queue=run.task_queue,
            result_type=run.result_type,
            id_conflict_policy=run.id_conflict_policy,
            id_reuse_policy=run.id_reuse_policy,
            search_attributes=run._attributes(),
            execution_timeout=run.execution_timeout,
            task_timeout=run.task_timeout,
            static_summary=run.summary,
        )
    except WorkflowAlreadyStartedError:
        return Started(client.get_workflow_handle(run.id, result_type=run.result_type), True)
    return Started(handle, False)


async def update_with_start(
    client: Client,
    run: RunStart[P],
    *,
    update: str,
    fingerprint: str,
    within: float,
    details: Mapping[str, Any] | None = None,
) -> P:
    """Start the run or attach to it (update-with-start), and wait for `update` to answer.

    The update's validator compares `fingerprint` with the run's: RunConflict (with
    `details`) when it refuses. RunClosed when the ID's run is over and may not run again,
    RunStillRunning (with the run's progress) when the update did not answer in `within`.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    # One update ID for every try: a try after the first attaches to the update the first
    # one made, as the server deduplicates updates by ID within a run.
    update_id = f"{update}-{uuid.uuid4().hex}"
    while True:
        try:
            return await asyncio.wait_for(
                _update_with_start_once(
                    client, run, update=update, update_id=update_id, fingerprint=fingerprint
                ),
                timeout=max(deadline - loop.time(), 0.0),
            )
        except WorkflowUpdateFailedError as err:
            cause = err.cause
            if isinstance(cause, ApplicationError) and cause.type == ErrorType.CONFLICT:
                raise RunConflict(cause.message, details=details) from err
            raise
        except WorkflowAlreadyStartedError as err:
            raise RunClosed(run.id, details=details) from err
        except WorkflowUpdateRPCTimeoutOrCancelledError as err:
            # Either wait_for cancelled the update's long poll (the SDK turns that into its
            # own error, which wait_for passes on instead of TimeoutError; seen with a join
            # still provisioning), or Temporal gave up on the call before `within` was over:
            # at load averages of 11 to 18, commands with `?wait=true` answered 202 within
            # 30 s of a 100 s wait (bench.command_latency). Only the first means it is late.
            # Tried again only where a try can but attach to the first one's run: with
            # another reuse policy it might start a second run after the first one failed.
            retry = run.id_reuse_policy == WorkflowIDReusePolicy.REJECT_DUPLICATE
            left = deadline - loop.time()
            if retry and left > RETRY_MARGIN_SECONDS:
                logger.warning(
                    "Temporal gave up on update %s of %s (%r) with %.1f s of the wait left",
                    update,
                    run.id,
                    err.__cause__,
                    left,
                )
                await asyncio.sleep(RETRY_PAUSE_SECONDS)
                continue
        except TimeoutError:
            pass
        progress = None
        if run.progress_query is not None:
            progress = await query_progress(
                client, run.id, query=run.progress_query, result_type=run.result_type
            )
        raise RunStillRunning(progress) from None


async def _update_with_start_once(
    client: Client, run: RunStart[P], *, update: str, update_id: str, fingerprint: str
) -> P:
    start: WithStartWorkflowOperation[Any, P] = WithStartWorkflowOperation(
        run.workflow,
        run.arg,
        id=run.id,
        task_queue=run.task_queue,
        id_conflict_policy=run.id_conflict_policy,
        id_reuse_policy=run.id_reuse_policy,
        search_attributes=run._attributes(),
        execution_timeout=run.execution_timeout,
        task_timeout=run.task_timeout,
        result_type=run.result_type,
        static_summary=run.summary,
    )
    try:
        answer: P = await client.execute_update_with_start_workflow(
            update,
            fingerprint,
            start_workflow_operation=start,
            id=update_id,
            result_type=run.result_type,
        )
    except BaseException:
        # The SDK also hands a failed start to the operation's own future, which nobody
        # awaits: taken here, or asyncio logs it with a traceback as never retrieved.
        handle = getattr(start, "_workflow_handle", None)  # the SDK keeps it private
        if isinstance(handle, asyncio.Future) and handle.done() and not handle.cancelled():
            handle.exception()
        raise
    return answer


async def answer_within(handle: WorkflowHandle[Any, M], *, seconds: float) -> M:
    """The run's result; RunStillRunning (without progress) after `seconds`, the run goes on."""
    try:
        return await asyncio.wait_for(handle.result(), seconds)
    except TimeoutError:
        raise RunStillRunning() from None


async def outcome_within(
    handle: WorkflowHandle[Any, P], run: RunStart[P], *, seconds: float
) -> Outcome[P]:
    """The run's result if it ends within `seconds`, else its progress so far."""
    try:
        return Outcome(await asyncio.wait_for(handle.result(), seconds), finished=True)
    except TimeoutError:
        return Outcome(await progress_of(handle, run), finished=False)


async def progress_of(handle: WorkflowHandle[Any, P], run: RunStart[P]) -> P:
    """What the run says about itself (its progress query)."""
    if run.progress_query is None:
        raise TypeError(f"{run.workflow} has no progress query")
    progress: P = await handle.query(run.progress_query, result_type=run.result_type)
    return progress


async def query_progress(
    client: Client,
    workflow_id: str,
    *,
    query: str,
    result_type: type[M],
    rpc_timeout: timedelta | None = None,
) -> M | None:
    """What the newest run of `workflow_id` says; None when there is no such run."""
    handle = client.get_workflow_handle(workflow_id)
    try:
        progress: M = await handle.query(query, result_type=result_type, rpc_timeout=rpc_timeout)
    except RPCError as err:
        if is_not_found(err):
            return None
        raise
    return progress


def failure_of(err: WorkflowFailureError, model: type[M], *, type_: str | None = None) -> M | None:
    """The model a workflow put in the details of its final ApplicationError (of `type_`)."""
    cause = err.cause
    if not isinstance(cause, ApplicationError) or not cause.details:
        return None
    if type_ is not None and cause.type != type_:
        return None
    try:
        return model.model_validate(cause.details[0])
    except ValidationError:
        return None


def is_not_found(err: RPCError) -> bool:
    return err.status == RPCStatusCode.NOT_FOUND


def unavailable(err: RPCError) -> ApiError:
    """Temporal, or the worker behind a query, did not answer: a 503 to retry, not a 500."""
    return ApiError(
        503,
        f"Temporal or the worker did not answer ({err.message}); retry shortly",
        headers={"Retry-After": "5"},
    )
