"""The command workflows and activities, for workers.worker to register."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from activities.commands.commands import CommandActivities
from activities.webhooks.emitter import WebhookEmitter
from adapters.mqtt.events import PublisherEvents
from adapters.mqtt.publisher import MqttPublisher
from workflows.commands.broadcast import BroadcastCommandWorkflow
from workflows.commands.command import CommandWorkflow
from workflows.commands.command_job import CommandJobWorkflow
from workflows.commands.connection_test import ConnectionTestWorkflow

COMMAND_WORKFLOWS: Sequence[type] = (
    CommandWorkflow,
    BroadcastCommandWorkflow,
    CommandJobWorkflow,
    ConnectionTestWorkflow,
)


def command_activities(
    *,
    sessions: async_sessionmaker[AsyncSession],
    publisher: MqttPublisher,
    webhooks: WebhookEmitter | None = None,
) -> list[Any]:
    commands = CommandActivities(
        sessions=sessions,
        publisher=publisher,
        events=PublisherEvents(publisher=publisher),
        webhooks=webhooks,
    )
    return [
        commands.dispatch_command,
        commands.record_command,
        commands.record_late_result,
        commands.publish_broadcast,
        commands.count_job_devices,
        commands.select_job_devices,
    ]
