"""Counts workflow runs as they start and end, by type and outcome.

An interceptor, so no workflow's code or history changes: the counters go through the
SDK's replay-safe metric meter, and a run continued as new starts no second time.
Exceptions other than Temporal failures fail the workflow task, not the run (it is
retried), so they are not an outcome.
"""

from __future__ import annotations

import asyncio
import re
from enum import Enum
from typing import Any

from temporalio import workflow
from temporalio.exceptions import FailureError
from temporalio.worker import (
    ExecuteWorkflowInput,
    Interceptor,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
)

from workflows.contracts.join import BATCH_JOIN_WORKFLOW
from workflows.contracts.observability import (
    BATCH_DEVICES,
    DOMAIN_COUNTERS,
    RUNS_FINISHED,
    RUNS_STARTED,
)

CONTINUED = "continued_as_new"
_OUTCOME = re.compile(r"[a-z][a-z_]{0,31}")


class RunMetricsInterceptor(Interceptor):
    def workflow_interceptor_class(
        self, input: WorkflowInterceptorClassInput
    ) -> type[WorkflowInboundInterceptor]:
        return _RunMetrics


class _RunMetrics(WorkflowInboundInterceptor):
    async def execute_workflow(self, input: ExecuteWorkflowInput) -> Any:
        if workflow.info().continued_run_id is None:
            _count(RUNS_STARTED.name, RUNS_STARTED.description, {})
        try:
            result = await super().execute_workflow(input)
        except workflow.ContinueAsNewError:
            _finished(CONTINUED)
            raise
        except asyncio.CancelledError:
            _finished("cancelled")
            raise
        except FailureError:
            _finished("failed")
            raise
        _finished(outcome_of(result))
        _count_batch_devices(result)
        return result


def outcome_of(result: Any) -> str:
    """The status a result reports (an enumeration in the contracts), else `completed`."""
    status = getattr(result, "status", None)
    value = status.value if isinstance(status, Enum) else status
    if isinstance(value, str) and _OUTCOME.fullmatch(value):
        return value
    return "completed"


def _finished(outcome: str) -> None:
    labels = {"outcome": outcome}
    _count(RUNS_FINISHED.name, RUNS_FINISHED.description, labels)
    domain = DOMAIN_COUNTERS.get(workflow.info().workflow_type)
    if domain is not None and outcome != CONTINUED:
        _count(domain.name, domain.description, labels)


def _count_batch_devices(result: Any) -> None:
    if workflow.info().workflow_type != BATCH_JOIN_WORKFLOW:
        return
    for outcome in ("succeeded", "failed"):
        value = getattr(result, outcome, None)
        if isinstance(value, int) and value > 0:
            _count(BATCH_DEVICES.name, BATCH_DEVICES.description, {"outcome": outcome}, value)


def _count(name: str, description: str, labels: dict[str, str], value: int = 1) -> None:
    counter = workflow.metric_meter().create_counter(name, description)
    counter.add(value, labels or None)
