"""IssueTokenWorkflow: mint one join token for a node (POST /api/kubeedge/token/generate).

A workflow of one activity, so the API never reads the cluster CA itself: the worker
reads `casecret`, records the token's hash and returns the token sealed, exactly as the
join does. The run is short; its ID (`issue-token/{token_id}`) names the stored token.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

from workflows.contracts import summaries
from workflows.contracts.common import DEVICE_ID, NODE_NAME
from workflows.contracts.devices import (
    ISSUE_TOKEN_WORKFLOW,
    IssueNodeTokenInput,
    issue_node_token,
)
from workflows.contracts.join import IssuedJoinToken

# The caller is waiting: a few quick tries, then a clear failure.
RETRY = RetryPolicy(maximum_interval=timedelta(seconds=5), maximum_attempts=4)


@workflow.defn(name=ISSUE_TOKEN_WORKFLOW)
class IssueTokenWorkflow:
    @workflow.run
    async def run(self, inp: IssueNodeTokenInput) -> IssuedJoinToken:
        attributes = [NODE_NAME.value_set(inp.node_name)]
        if inp.device_id is not None:
            attributes.append(DEVICE_ID.value_set(inp.device_id))
        workflow.upsert_search_attributes(attributes)
        return await workflow.execute_activity(
            issue_node_token,
            inp,
            summary=summaries.activity_summary(issue_node_token, inp),
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RETRY,
        )
