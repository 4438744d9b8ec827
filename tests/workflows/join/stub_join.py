"""A stand-in for DeviceJoinWorkflow in batch tests, in a module of its own so the
workflow sandbox imports nothing else when it validates it."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from temporalio import activity, workflow

from workflows.contracts.join import (
    DEVICE_JOIN_WORKFLOW,
    BatchActivity,
    BatchDeviceResult,
    DeviceJoinInput,
    RecordBatchResultsInput,
)

STARTS: Counter[str] = Counter()


@activity.defn(name="stub_join_started")
async def stub_join_started(device_id: str) -> None:
    # Counts join runs, not activity attempts: on a busy machine the time-skipping server
    # can skip past this activity's timeout and retry it within the same run.
    if activity.info().attempt == 1:
        STARTS[device_id] += 1


@workflow.defn(name=DEVICE_JOIN_WORKFLOW)
class StubJoin:
    """Reports in the store like DeviceJoin: `bad-*` fail, `slow-*` never finish
    provisioning."""

    @workflow.run
    async def run(self, inp: DeviceJoinInput) -> None:
        await workflow.execute_activity(
            stub_join_started, inp.device_id, start_to_close_timeout=timedelta(seconds=10)
        )
        if inp.device_id.startswith("slow"):
            await workflow.wait_condition(lambda: False)
        assert inp.batch_id is not None
        failed = inp.device_id.startswith("bad")
        result = BatchDeviceResult(
            device_id=inp.device_id,
            succeeded=not failed,
            failed_step="create_configmap" if failed else None,
            error="refused" if failed else None,
        )
        await workflow.execute_local_activity(
            BatchActivity.RECORD_BATCH_RESULTS.value,
            RecordBatchResultsInput(batch_id=inp.batch_id, results=[result]),
            start_to_close_timeout=timedelta(seconds=10),
        )
