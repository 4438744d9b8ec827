"""Determinism guard: live DeviceRemoval and CloudCoreDeploy histories replay on today's code."""

from __future__ import annotations

import uuid

from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer, Worker

from tests.workflows.cloudcore.test_cloudcore_deploy import deploy_input
from tests.workflows.devices.fake_inventory_activities import FakeInventoryActivities
from tests.workflows.devices.test_device_removal import removal_input
from workflows.cloudcore.deploy import CloudCoreDeployWorkflow
from workflows.devices.removal import DeviceRemovalWorkflow


async def test_live_histories_replay(time_skipping_env: WorkflowEnvironment) -> None:
    fakes = FakeInventoryActivities()
    fakes.join_was_running = True
    queue = f"replay-{uuid.uuid4()}"
    client = time_skipping_env.client
    workflows = [DeviceRemovalWorkflow, CloudCoreDeployWorkflow]
    async with Worker(
        client,
        task_queue=queue,
        workflows=workflows,
        activities=fakes.removal() + fakes.cloudcore(),
    ):
        removal = await client.start_workflow(
            DeviceRemovalWorkflow.run, removal_input(), id=f"r-{uuid.uuid4()}", task_queue=queue
        )
        deploy = await client.start_workflow(
            CloudCoreDeployWorkflow.run, deploy_input(), id=f"d-{uuid.uuid4()}", task_queue=queue
        )
        await removal.result()
        await deploy.result()
        histories = [await removal.fetch_history(), await deploy.fetch_history()]
    replayer = Replayer(workflows=workflows, data_converter=pydantic_data_converter)
    for history in histories:
        await replayer.replay_workflow(
            WorkflowHistory.from_json(history.workflow_id, history.to_json())
        )
