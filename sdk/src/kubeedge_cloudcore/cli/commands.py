"""Commands to devices and command jobs."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from .._states import COMMAND_FINAL
from ..models import JobAnswer
from .context import context_of
from .output import emit
from .progress import progress_bar

command = typer.Typer(help="Send commands and run command jobs.", no_args_is_help=True)
job = typer.Typer(help="Commands to many devices at a bounded rate.", no_args_is_help=True)
command.add_typer(job, name="job")


def parse_params(pairs: list[str] | None) -> dict[str, Any]:
    """`k=v` pairs; a value that reads as JSON (numbers, true, lists) is taken as JSON."""
    params: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"{pair!r} is not key=value", param_hint="--param")
        try:
            params[key] = json.loads(value)
        except ValueError:
            params[key] = value
    return params


@command.command("send")
def send(
    ctx: typer.Context,
    device: str,
    name: Annotated[str, typer.Argument(metavar="COMMAND")],
    param: Annotated[list[str] | None, typer.Option("--param", "-p", help="key=value")] = None,
    timeout: Annotated[float | None, typer.Option(help="seconds the device has")] = None,
    wait: Annotated[bool, typer.Option(help="wait for the device's answer")] = False,
) -> int:
    """Send COMMAND to DEVICE; with --wait, exit 1 unless it completed."""
    context = context_of(ctx)
    with context.client() as client:
        answer = client.send_command(device, name, parse_params(param), timeout)
        if not wait:
            emit(answer, context.output)
            return 0
        final = client.wait_command(answer.command_id)
    emit(final, context.output)
    return 0 if final.status == "completed" else 1


@command.command("status")
def status(ctx: typer.Context, command_id: str) -> int:
    context = context_of(ctx)
    with context.client() as client:
        answer = client.command_status(command_id)
    emit(answer, context.output)
    return 1 if answer.status in COMMAND_FINAL - {"completed"} else 0


def _watch_job(client: Any, job_id: str) -> JobAnswer:
    with progress_bar(f"job {job_id}") as bar:

        def show(seen: JobAnswer) -> None:
            finished = seen.succeeded + seen.failed + seen.timed_out + seen.cancelled
            bar.show(done=finished, total=seen.total, note=f"{seen.failed} failed, {seen.state}")

        final: JobAnswer = client.wait_command_job(job_id, on_progress=show)
        return final


def _job_code(answer: JobAnswer) -> int:
    failed = answer.failed + answer.timed_out
    return 0 if answer.state == "completed" and not failed else 1


@job.command("start")
def job_start(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="COMMAND")],
    device: Annotated[list[str] | None, typer.Option("--device", "-d")] = None,
    device_type: Annotated[str | None, typer.Option(help="every device of this type")] = None,
    param: Annotated[list[str] | None, typer.Option("--param", "-p", help="key=value")] = None,
    rate: Annotated[int | None, typer.Option(help="commands per minute")] = None,
    watch: Annotated[bool, typer.Option(help="follow it with a progress bar")] = True,
) -> int:
    """Start a command job over --device IDs or a --device-type."""
    context = context_of(ctx)
    with context.client() as client:
        answer = client.start_command_job(
            name,
            device_ids=device,
            device_type=device_type,
            parameters=parse_params(param) or None,
            rate_per_minute=rate,
        )
        if watch:
            answer = _watch_job(client, answer.job_id)
    emit(answer, context.output)
    return _job_code(answer) if watch else 0


@job.command("status")
def job_status(
    ctx: typer.Context,
    job_id: str,
    watch: Annotated[bool, typer.Option(help="follow it until it ends")] = False,
) -> int:
    context = context_of(ctx)
    with context.client() as client:
        answer = _watch_job(client, job_id) if watch else client.command_job(job_id)
    emit(answer, context.output)
    return _job_code(answer) if answer.state != "running" else 0


def _steer(ctx: typer.Context, job_id: str, action: str) -> int:
    context = context_of(ctx)
    with context.client() as client:
        answer = getattr(client, f"{action}_command_job")(job_id)
    emit(answer, context.output)
    return 0


@job.command("pause")
def job_pause(ctx: typer.Context, job_id: str) -> int:
    return _steer(ctx, job_id, "pause")


@job.command("resume")
def job_resume(ctx: typer.Context, job_id: str) -> int:
    return _steer(ctx, job_id, "resume")


@job.command("abort")
def job_abort(ctx: typer.Context, job_id: str) -> int:
    return _steer(ctx, job_id, "abort")
