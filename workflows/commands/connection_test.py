"""ConnectionTestWorkflow: a device's connection checks (ping, port check, ...) as commands.

Each check is a CommandWorkflow child (`command/{test_id}.{check}`), run side by side, so
each is recorded like any command (origin `test/{test_id}`) and the device answers it on
its usual topic. The progress query reports every check as it stands; the run ends when
all have.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.exceptions import ChildWorkflowError, is_cancelled_exception
from temporalio.workflow import ParentClosePolicy

from workflows.commands.command import command_search_attributes
from workflows.contracts import summaries
from workflows.contracts.commands import (
    COMMAND_WORKFLOW,
    CONNECTION_TEST_PROGRESS_QUERY,
    CONNECTION_TEST_WORKFLOW,
    CheckOutcome,
    CommandInput,
    CommandState,
    CommandStatus,
    ConnectionTestInput,
    ConnectionTestProgress,
    command_workflow_id,
    job_command_id,
)
from workflows.contracts.common import DEVICE_ID


@workflow.defn(name=CONNECTION_TEST_WORKFLOW)
class ConnectionTestWorkflow:
    @workflow.init
    def __init__(self, inp: ConnectionTestInput) -> None:
        self._inp = inp
        self._started_at = workflow.now()
        self._finished_at: datetime | None = None
        self._outcomes = {
            name: CheckOutcome(
                name=name,
                command_id=job_command_id(inp.test_id, name),
                state=CommandState.QUEUED,
            )
            for name in inp.tests
        }

    @workflow.run
    async def run(self, inp: ConnectionTestInput) -> ConnectionTestProgress:
        workflow.upsert_search_attributes([DEVICE_ID.value_set(inp.device_id)])
        await asyncio.gather(*(self._check(name) for name in inp.tests))
        self._finished_at = workflow.now()
        return self.progress()

    async def _check(self, name: str) -> None:
        inp = self._inp
        command_id = job_command_id(inp.test_id, name)
        child = CommandInput(
            command_id=command_id,
            device_id=inp.device_id,
            command=name,
            parameters=inp.parameters.get(name, {}),
            timeout_seconds=inp.timeout_seconds,
            connect_timeout_seconds=inp.connect_timeout_seconds,
            origin=f"test/{inp.test_id}",
            requested_by=inp.requested_by,
        )
        try:
            status: CommandStatus = await workflow.execute_child_workflow(
                COMMAND_WORKFLOW,
                child,
                id=command_workflow_id(command_id),
                static_summary=summaries.command_summary(child.command, child.device_id),
                result_type=CommandStatus,
                parent_close_policy=ParentClosePolicy.REQUEST_CANCEL,
                search_attributes=command_search_attributes(child),
                execution_timeout=timedelta(
                    seconds=inp.connect_timeout_seconds + inp.timeout_seconds + 3600
                ),
            )
        except ChildWorkflowError as err:
            cancelled = is_cancelled_exception(err)
            state = CommandState.CANCELLED if cancelled else CommandState.FAILED
            self._outcomes[name] = self._outcomes[name].model_copy(
                update={"state": state, "success": False, "error": str(err.cause or err)}
            )
            return
        self._outcomes[name] = CheckOutcome(
            name=name,
            command_id=command_id,
            state=status.state,
            success=status.success,
            result=status.result,
            error=status.error,
            execution_seconds=status.execution_seconds,
        )

    @workflow.query(name=CONNECTION_TEST_PROGRESS_QUERY)
    def progress(self) -> ConnectionTestProgress:
        results = [self._outcomes[name] for name in self._inp.tests]
        passed = sum(1 for outcome in results if outcome.state == CommandState.COMPLETED)
        failed = sum(1 for outcome in results if outcome.state.final) - passed
        return ConnectionTestProgress(
            test_id=self._inp.test_id,
            device_id=self._inp.device_id,
            state="completed" if self._finished_at is not None else "running",
            passed=passed,
            failed=failed,
            started_at=self._started_at,
            finished_at=self._finished_at,
            results=results,
        )
