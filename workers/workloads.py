"""The workload rollout and removal workflows and activities, for workers.worker."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from activities.webhooks.emitter import WebhookEmitter
from activities.workloads.kube import WorkloadKubeActivities
from activities.workloads.records import WorkloadRecordActivities
from adapters.kubernetes.client import KubeTarget
from workflows.workloads.removal import WorkloadRemovalWorkflow
from workflows.workloads.rollout import WorkloadRolloutWorkflow

WORKLOAD_WORKFLOWS: Sequence[type] = (WorkloadRolloutWorkflow, WorkloadRemovalWorkflow)


def workload_activities(
    *,
    sessions: async_sessionmaker[AsyncSession],
    target: KubeTarget,
    webhooks: WebhookEmitter | None = None,
) -> list[Any]:
    kube = WorkloadKubeActivities(target=target)
    records = WorkloadRecordActivities(sessions=sessions, webhooks=webhooks)
    return [
        kube.detect_mode,
        kube.list_targets,
        kube.read_priors,
        kube.apply_wave,
        kube.gate_wave,
        kube.roll_back,
        kube.delete_objects,
        records.record_rollout,
        records.load_revision,
        records.running_rollouts,
        records.delete_records,
    ]
