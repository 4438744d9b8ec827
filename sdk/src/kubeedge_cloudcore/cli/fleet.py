"""Logging in, devices, joins and batch joins, and the live event stream."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from .context import Output, context_of, save_token
from .output import emit, stderr

CONTENT_TYPES = {".csv": "text/csv", ".yaml": "application/yaml", ".yml": "application/yaml"}
DEVICE_COLUMNS = ("device_id", "node_name", "device_type", "status", "join_status", "location")

devices = typer.Typer(help="List, show and remove devices.", no_args_is_help=True)


def login(
    ctx: typer.Context,
    username: Annotated[str, typer.Option(prompt=True, help="user to log in as")],
) -> int:
    """Log in and keep the token for this address (password: EDGEWRIGHT_PASSWORD or prompt)."""
    context = context_of(ctx)
    password = os.environ.get("EDGEWRIGHT_PASSWORD") or typer.prompt("Password", hide_input=True)
    with context.client(authenticated=False) as client:
        answer = client.login(username, password)
    path = save_token(context.url, answer.token)
    stderr.print(f"logged in as {username} until {answer.expires_at}; token kept in {path}")
    return 0


@devices.command("list")
def list_devices(ctx: typer.Context) -> int:
    """Every device of the fleet."""
    context = context_of(ctx)
    with context.client() as client:
        emit(client.list_devices(), context.output, columns=DEVICE_COLUMNS)
    return 0


@devices.command("get")
def get_device(ctx: typer.Context, device_id: str) -> int:
    context = context_of(ctx)
    with context.client() as client:
        emit(client.get_device(device_id), context.output)
    return 0


@devices.command("delete")
def delete_device(ctx: typer.Context, device_id: str) -> int:
    """Remove a device: its node, its tokens and its inventory entry."""
    context = context_of(ctx)
    with context.client() as client:
        emit(client.delete_device(device_id), context.output)
    return 0


def join(
    ctx: typer.Context,
    node_name: str,
    device_id: str,
    device_type: Annotated[str | None, typer.Option(help="camera, sensor, ...")] = None,
    location: Annotated[str | None, typer.Option()] = None,
) -> int:
    """Join one device; prints the keadm join command to run on it."""
    context = context_of(ctx)
    with context.client() as client:
        answer = client.join_device(node_name, device_id, device_type, location=location)
    emit(answer, context.output)
    return 1 if answer.join_status in ("failed", "expired", "cancelled") else 0


def _follow(client: Any, batch_id: str, total: int) -> dict[str, Any]:
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[failed]} failed"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=stderr) as progress:
        task = progress.add_task(f"batch {batch_id}", total=total, failed=0)

        def show(status: dict[str, Any]) -> None:
            done = status["success"] + status["failed"]
            progress.update(task, completed=done, failed=status["failed"])

        report: dict[str, Any] = client.wait_batch(batch_id, on_progress=show)
        return report


def _print_report(report: dict[str, Any], output: Output) -> None:
    if output is not Output.TABLE:
        emit(report, output)
        return
    stderr.print(
        f"batch [bold]{report['batch_id']}[/]: {report['total']} devices, "
        f"[green]{report['success']} succeeded[/], [red]{report['failed']} failed[/]"
    )
    failed = [result for result in report["results"] if result["status"] == "failed"]
    if failed:
        table = Table("device", "step", "error", title="failed devices")
        for result in failed:
            table.add_row(
                result["device"], result.get("failed_step") or "", result.get("error") or ""
            )
        stderr.print(table)
    if link := report.get("temporal_ui_url"):
        stderr.print(f"Temporal UI: {link}")


def batch_join(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="CSV, YAML or JSON")],
    batch_id: Annotated[str | None, typer.Option(help="name the batch")] = None,
    cloud_ip: Annotated[str | None, typer.Option(help="CloudCore address to join")] = None,
    concurrency: Annotated[int | None, typer.Option(help="joins in flight at once")] = None,
) -> int:
    """Join every device of a file; a live progress bar, then the report."""
    context = context_of(ctx)
    content_type = CONTENT_TYPES.get(file.suffix.lower(), "application/json")
    given = {"batch_id": batch_id, "cloud_ip": cloud_ip, "max_concurrency": concurrency}
    options: dict[str, Any] = {key: value for key, value in given.items() if value is not None}
    content = file.read_bytes()
    if content_type == "application/json" and options:
        # The JSON document carries its options itself.
        content = json.dumps({**json.loads(content), **options}).encode()
    with context.client() as client:
        report = client.batch_join(content=content, content_type=content_type, **options)
        if report.get("status") not in ("completed", "cancelled"):
            report = _follow(client, report["batch_id"], report["total"])
    _print_report(report, context.output)
    return 1 if report["failed"] else 0


def batch_status(ctx: typer.Context, batch_id: str) -> int:
    """A batch's report, every device's result."""
    context = context_of(ctx)
    with context.client() as client:
        report = client.batch_status(batch_id)
    _print_report(report, context.output)
    return 1 if report["failed"] else 0


def events(
    ctx: typer.Context,
    only: Annotated[
        str | None, typer.Option("--events", help="comma-separated types or topics")
    ] = None,
    device_id: Annotated[str | None, typer.Option(help="one device's events")] = None,
) -> int:
    """The live event stream, one line per event, until interrupted."""
    context = context_of(ctx)
    wanted = only.split(",") if only else None
    with context.client() as client:
        for event in client.monitor_stream(wanted, device_id):
            if context.output is Output.TABLE:
                fields = " ".join(
                    f"{key}={value}"
                    for key, value in event.items()
                    if key not in ("event", "timestamp")
                )
                print(f"{event.get('timestamp', '')} {event.get('event')} {fields}", flush=True)
            else:
                print(json.dumps(event, default=str), flush=True)
    return 0
