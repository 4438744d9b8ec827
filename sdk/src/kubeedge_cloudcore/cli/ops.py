"""Backups and restores, alerts, webhooks and maintenance."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from ..models import BackupView, RestoreView
from .context import context_of
from .output import emit
from .progress import progress_bar

backup = typer.Typer(help="Back up and restore the control plane.", no_args_is_help=True)
alerts = typer.Typer(help="Alerts from the fleet's metrics.", no_args_is_help=True)
webhooks = typer.Typer(help="Webhook subscriptions.", no_args_is_help=True)
maintenance = typer.Typer(help="Maintenance windows.", no_args_is_help=True)

BACKUP_COLUMNS = ("backup_id", "backup_status", "kind", "size", "created_at", "location")
ALERT_COLUMNS = ("id", "state", "severity", "rule", "device_id", "value", "started_at")
WEBHOOK_COLUMNS = ("id", "url", "events", "enabled", "description")


def _follow_backup(client: Any, backup_id: str) -> BackupView:
    with progress_bar(f"backup {backup_id}") as bar:
        final: BackupView = client.wait_backup(
            backup_id,
            on_progress=lambda seen: bar.show(done=0, total=None, note=seen.backup_status),
        )
        return final


def _follow_restore(client: Any, restore_id: str) -> RestoreView:
    with progress_bar(f"restore {restore_id}") as bar:
        final: RestoreView = client.wait_restore(
            restore_id,
            on_progress=lambda seen: bar.show(done=0, total=None, note=seen.restore_status),
        )
        return final


@backup.command("create")
def backup_create(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Option(help="the backup's name")] = None,
    include: Annotated[list[str] | None, typer.Option(help="config, tokens, devices, ...")] = None,
    description: Annotated[str | None, typer.Option()] = None,
) -> int:
    """Take a backup and follow it; exit 1 unless it completed."""
    context = context_of(ctx)
    with context.client() as client:
        started = client.create_backup(name, include, description)
        final = _follow_backup(client, started.backup_id)
    emit(final, context.output)
    return 0 if final.backup_status == "completed" else 1


@backup.command("list")
def backup_list(ctx: typer.Context) -> int:
    context = context_of(ctx)
    with context.client() as client:
        emit(client.list_backups(), context.output, columns=BACKUP_COLUMNS)
    return 0


@backup.command("restore")
def backup_restore(
    ctx: typer.Context,
    backup_id: str,
    dry_run: Annotated[bool, typer.Option(help="show the plan, change nothing")] = False,
    mode: Annotated[str | None, typer.Option(help="merge or replace")] = None,
) -> int:
    """Restore a backup (or only plan it with --dry-run) and follow it."""
    context = context_of(ctx)
    with context.client() as client:
        started = client.restore(backup_id, dry_run=dry_run or None, mode=mode)
        final = _follow_restore(client, started.restore_id)
    emit(final, context.output)
    return 0 if final.restore_status == "completed" else 1


@alerts.command("list")
def alerts_list(
    ctx: typer.Context,
    state: Annotated[str | None, typer.Option(help="firing, acknowledged, resolved")] = None,
    device_id: Annotated[str | None, typer.Option()] = None,
) -> int:
    context = context_of(ctx)
    with context.client() as client:
        found = client.list_alerts(state=state, device_id=device_id)
    emit(found, context.output, columns=ALERT_COLUMNS)
    return 0


@alerts.command("ack")
def alerts_ack(ctx: typer.Context, alert_id: str) -> int:
    context = context_of(ctx)
    with context.client() as client:
        emit(client.acknowledge_alert(alert_id), context.output)
    return 0


@webhooks.command("list")
def webhooks_list(ctx: typer.Context) -> int:
    context = context_of(ctx)
    with context.client() as client:
        emit(client.list_webhooks(), context.output, columns=WEBHOOK_COLUMNS)
    return 0


@webhooks.command("create")
def webhooks_create(
    ctx: typer.Context,
    url: str,
    event: Annotated[list[str], typer.Option("--event", "-e", help="event type to send")],
    secret: Annotated[str, typer.Option(envvar="EDGEWRIGHT_WEBHOOK_SECRET", prompt=True)],
    description: Annotated[str | None, typer.Option()] = None,
) -> int:
    context = context_of(ctx)
    with context.client() as client:
        created = client.create_webhook(url, event, secret, description=description)
    emit(created, context.output)
    return 0


@webhooks.command("delete")
def webhooks_delete(ctx: typer.Context, webhook_id: str) -> int:
    context = context_of(ctx)
    with context.client() as client:
        emit(client.delete_webhook(webhook_id), context.output)
    return 0


@webhooks.command("test")
def webhooks_test(ctx: typer.Context, webhook_id: str) -> int:
    """Send a test delivery."""
    context = context_of(ctx)
    with context.client() as client:
        emit(client.test_webhook(webhook_id), context.output)
    return 0


@webhooks.command("deliveries")
def webhooks_deliveries(ctx: typer.Context, webhook_id: str) -> int:
    context = context_of(ctx)
    with context.client() as client:
        emit(client.list_webhook_deliveries(webhook_id), context.output)
    return 0


@maintenance.command("start")
def maintenance_start(
    ctx: typer.Context,
    reason: Annotated[str, typer.Option(help="why; shown to other operators")],
    duration_minutes: Annotated[int, typer.Option(help="ends by itself after (1 to 10080)")],
    message: Annotated[str | None, typer.Option(help="what callers are told")] = None,
) -> int:
    context = context_of(ctx)
    with context.client() as client:
        emit(client.start_maintenance(reason, duration_minutes, message), context.output)
    return 0


@maintenance.command("stop")
def maintenance_stop(ctx: typer.Context) -> int:
    context = context_of(ctx)
    with context.client() as client:
        emit(client.stop_maintenance(), context.output)
    return 0


@maintenance.command("status")
def maintenance_status(ctx: typer.Context) -> int:
    context = context_of(ctx)
    with context.client() as client:
        emit(client.maintenance_status(), context.output)
    return 0
