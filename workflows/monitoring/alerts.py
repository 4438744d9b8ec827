"""AlertEvaluationWorkflow: evaluate the alert rules every interval, for ever.

One long-lived run per Temporal namespace (ID `alert-evaluation`, started by every worker
with "use the existing run"), like the node sync: a round every 15 s as separate runs
would bury the Web UI. Each round is one activity; the alerts' state lives in the store,
so a round that fails is simply the next round's work, and a restart of any process
loses nothing. After `rounds_per_run` rounds it continues as new, keeping history short.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

from workflows.contracts.monitoring import (
    ALERT_EVALUATION_WORKFLOW,
    AlertEvaluationInput,
    EvaluateAlertsInput,
    evaluate_alerts,
)

ROUND_TIMEOUT = timedelta(minutes=2)
RETRY = RetryPolicy(maximum_interval=timedelta(seconds=10), maximum_attempts=2)


@workflow.defn(name=ALERT_EVALUATION_WORKFLOW)
class AlertEvaluationWorkflow:
    def __init__(self) -> None:
        self._rounds = 0
        self._transitions = 0

    @workflow.run
    async def run(self, inp: AlertEvaluationInput) -> None:
        request = EvaluateAlertsInput(fresh_seconds=inp.fresh_seconds)
        for _ in range(inp.rounds_per_run):
            try:
                done = await workflow.execute_activity(
                    evaluate_alerts,
                    request,
                    start_to_close_timeout=ROUND_TIMEOUT,
                    retry_policy=RETRY,
                )
                self._transitions += len(done.transitions)
            except ActivityError as err:
                workflow.logger.warning("alert evaluation round failed: %s", err.cause or err)
            self._rounds += 1
            workflow.set_current_details(
                f"{self._rounds} rounds, {self._transitions} alerts fired or resolved"
            )
            await workflow.sleep(timedelta(seconds=inp.interval_seconds))
        workflow.continue_as_new(inp)
