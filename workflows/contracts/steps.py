"""Activity steps as the Kubernetes-facing workflows run them (CloudCore's deploy, a
certificate renewal): each with its summary for the Web UI and a step timeout.

A step going forward gives up after a few tries (the workflow then puts back what it
changed); putting back must not give up so soon, so it retries for up to an hour. And the
reason a failed step gives, for their messages.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

from workflows.contracts import summaries

ArgT = TypeVar("ArgT")
ResultT = TypeVar("ResultT")

STEP_TIMEOUT = timedelta(seconds=30)
FORWARD_RETRY = RetryPolicy(maximum_interval=timedelta(seconds=10), maximum_attempts=5)
PUT_BACK_RETRY = RetryPolicy(maximum_interval=timedelta(minutes=1), maximum_attempts=0)
PUT_BACK_PATIENCE = timedelta(hours=1)


async def run_step(stub: Callable[[ArgT], Awaitable[ResultT]], arg: ArgT) -> ResultT:
    """A step forward: a few tries, then the workflow's own failure path."""
    return await workflow.execute_activity(
        stub,
        arg,
        summary=summaries.activity_summary(stub, arg),
        start_to_close_timeout=STEP_TIMEOUT,
        retry_policy=FORWARD_RETRY,
    )


async def run_put_back_step(stub: Callable[[ArgT], Awaitable[ResultT]], arg: ArgT) -> ResultT:
    """Putting back what the run changed: retried for up to PUT_BACK_PATIENCE."""
    return await workflow.execute_activity(
        stub,
        arg,
        summary=summaries.activity_summary(stub, arg),
        start_to_close_timeout=STEP_TIMEOUT,
        schedule_to_close_timeout=PUT_BACK_PATIENCE,
        retry_policy=PUT_BACK_RETRY,
    )


def failure_reason(err: ActivityError) -> str:
    """What went wrong in a failed step: the activity's own message when it gave one."""
    cause = err.cause or err
    if isinstance(cause, ApplicationError):
        return cause.message
    return str(cause) or type(cause).__name__
