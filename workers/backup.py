"""Backup and restore: the workflows and activities for workers.worker to register."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from concurrent.futures import Executor
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.exceptions import ApplicationError

from activities.backup.backup import BackupActivities
from activities.backup.restore import RestoreActivities
from activities.backup.restore_undo import RestoreUndoActivities
from activities.webhooks.emitter import WebhookEmitter
from adapters.kubernetes.client import KubeTarget
from adapters.storage.locations import StoreFactory
from store.settings import Settings
from workflows.backup.backup import BackupWorkflow
from workflows.backup.restore import RestoreWorkflow

BACKUP_WORKFLOWS: Sequence[type] = (BackupWorkflow, RestoreWorkflow)


def backup_activities(
    *,
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    target: KubeTarget | None,
    executor: Executor | None = None,
    webhooks: WebhookEmitter | None = None,
) -> list[Any]:
    """`executor` runs their blocking work (files, boto3, Kubernetes): the worker's pool."""
    kube_api = target.api_client if target is not None else None
    stores = StoreFactory(settings=settings)
    # The configured store's client is built now, at worker start, not in the first backup
    # or restore: a boto3 client parses botocore's service model and endpoint rules, over a
    # fifth of a 10,000-device backup's CPU (py-spy, bench.backup). A location that cannot
    # be opened fails the activities that use it, as it did.
    with contextlib.suppress(ApplicationError):
        stores.get()
    backup = BackupActivities(
        settings=settings,
        sessions=sessions,
        kube_api=kube_api,
        executor=executor,
        webhooks=webhooks,
        stores=stores,
    )
    restore = RestoreActivities(
        settings=settings,
        sessions=sessions,
        kube_api=kube_api,
        executor=executor,
        webhooks=webhooks,
        stores=stores,
    )
    undo = RestoreUndoActivities(sessions=sessions, kube_api=kube_api, executor=executor)
    return [
        backup.create_backup_archive,
        backup.verify_backup_archive,
        backup.discard_backup_archive,
        backup.record_backup,
        backup.prune_backups,
        restore.inspect_backup,
        restore.apply_backup,
        restore.record_restore,
        undo.undo_restore,
    ]
