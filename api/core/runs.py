"""Waiting for a workflow's answer within a bound, and reading why a run failed."""

from __future__ import annotations

import asyncio
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from temporalio.client import WorkflowFailureError, WorkflowHandle
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from api.core.errors import ApiError

M = TypeVar("M", bound=BaseModel)


class StillRunning(Exception):
    """The run did not finish within the answer timeout; it goes on."""


async def result_within(handle: WorkflowHandle[Any, M], *, seconds: float) -> M:
    """The run's result; StillRunning after `seconds` (the run is not touched)."""
    try:
        return await asyncio.wait_for(handle.result(), seconds)
    except TimeoutError:
        raise StillRunning from None


def failure_of(err: WorkflowFailureError, model: type[M], *, type_: str) -> M | None:
    """The model a workflow put in the details of its final ApplicationError of `type_`."""
    cause = err.cause
    if not isinstance(cause, ApplicationError) or cause.type != type_ or not cause.details:
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
