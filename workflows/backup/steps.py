"""How BackupWorkflow and RestoreWorkflow run their activities: timeouts and retries."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.workflow import ActivityCancellationType

from workflows.contracts import summaries

# Export, upload, download and apply of a large inventory take long; the heartbeat says
# the activity is alive and is how a cancellation reaches it.
HEAVY_TIMEOUT = timedelta(hours=6)
# The SDK sends heartbeats at most every 80% of this, so a cancel lands within ~25 s.
HEARTBEAT = timedelta(seconds=30)
HEAVY_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5), maximum_interval=timedelta(minutes=1), maximum_attempts=3
)
# Records and compensations keep trying for a day: a missing record or a leftover object
# is worse than waiting for the database or the bucket to come back.
STEP_TIMEOUT = timedelta(minutes=2)
PATIENT_RETRY = RetryPolicy(maximum_interval=timedelta(minutes=1), maximum_attempts=0)
PATIENCE = timedelta(days=1)

ArgT = TypeVar("ArgT")
ResultT = TypeVar("ResultT")


async def heavy(stub: Callable[[ArgT], Awaitable[ResultT]], arg: ArgT) -> ResultT:
    # WAIT_CANCELLATION_COMPLETED: on cancel the activity first stops its transfer and
    # cleans up; only then does the workflow compensate. Otherwise a small upload that
    # finishes just after the compensation's delete could leave an object behind.
    return await workflow.execute_activity(
        stub,
        arg,
        summary=summaries.activity_summary(stub, arg),
        start_to_close_timeout=HEAVY_TIMEOUT,
        heartbeat_timeout=HEARTBEAT,
        retry_policy=HEAVY_RETRY,
        cancellation_type=ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    )


async def patiently(
    stub: Callable[[ArgT], Awaitable[ResultT]], arg: ArgT, *, slow: bool = False
) -> ResultT:
    """For records and compensations: retried until they succeed or fail for good."""
    return await workflow.execute_activity(
        stub,
        arg,
        summary=summaries.activity_summary(stub, arg),
        start_to_close_timeout=HEAVY_TIMEOUT if slow else STEP_TIMEOUT,
        heartbeat_timeout=HEARTBEAT if slow else None,
        schedule_to_close_timeout=PATIENCE,
        retry_policy=PATIENT_RETRY,
    )
