"""One activity step run from a workflow, the way the Kubernetes-facing workflows run
theirs (CloudCore's deploy, a certificate renewal): with its summary for the Web UI, a
step timeout and a retry policy, and the reason a failed step gives, for their messages.
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


async def run_step(
    stub: Callable[[ArgT], Awaitable[ResultT]],
    arg: ArgT,
    *,
    step_timeout: timedelta,
    retry: RetryPolicy,
) -> ResultT:
    return await workflow.execute_activity(
        stub,
        arg,
        summary=summaries.activity_summary(stub, arg),
        start_to_close_timeout=step_timeout,
        retry_policy=retry,
    )


def failure_reason(err: ActivityError) -> str:
    """What went wrong in a failed step: the activity's own message when it gave one."""
    cause = err.cause or err
    if isinstance(cause, ApplicationError):
        return cause.message
    return str(cause) or type(cause).__name__
