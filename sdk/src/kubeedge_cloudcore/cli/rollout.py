"""Workload rollouts (Edge API) with per-wave progress."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from ..models import RolloutView
from .context import context_of
from .output import emit
from .progress import progress_bar

rollout = typer.Typer(help="Roll workloads out in waves and follow them.", no_args_is_help=True)


def _watch(client: Any, workload_id: str, deployment_id: str) -> RolloutView:
    with progress_bar(f"rollout {deployment_id}") as bar:

        def show(seen: RolloutView) -> None:
            step = seen.progress
            if step is None:
                bar.show(done=0, total=None, note=seen.state)
                return
            wave = f"wave {step.waves_done or 0}/{step.waves_total}"
            failed = step.nodes_failed or 0
            bar.show(
                done=step.nodes_ready or 0,
                total=step.total_nodes,
                note=f"{wave}, {failed} failed, {seen.state}",
            )

        final: RolloutView = client.edge.wait_rollout(workload_id, deployment_id, on_progress=show)
        return final


def _code(view: RolloutView) -> int:
    return 0 if view.state == "completed" else 1


@rollout.command("deploy")
def deploy(
    ctx: typer.Context,
    workload_id: str,
    node: Annotated[list[str] | None, typer.Option("--node", "-n", help="target nodes")] = None,
    wave_percent: Annotated[float | None, typer.Option(help="nodes per wave, %")] = None,
    watch: Annotated[bool, typer.Option(help="follow it wave by wave")] = True,
) -> int:
    """Deploy the workload's revision (to --node, else where placement admits it)."""
    context = context_of(ctx)
    strategy = {"wave_percent": wave_percent} if wave_percent is not None else None
    with context.client() as client:
        started = client.edge.deploy_workload(workload_id, nodes=node, strategy=strategy)
        if not watch:
            emit(started, context.output)
            return 0
        final = _watch(client, workload_id, started.deployment_id)
    emit(final, context.output)
    return _code(final)


@rollout.command("status")
def status(ctx: typer.Context, workload_id: str, deployment_id: str) -> int:
    context = context_of(ctx)
    with context.client() as client:
        view = client.edge.get_rollout(workload_id, deployment_id)
    emit(view, context.output)
    return 0 if view.state not in ("failed", "rolled_back") else 1


@rollout.command("watch")
def watch(ctx: typer.Context, workload_id: str, deployment_id: str) -> int:
    """Follow a rollout until it ends; exit 1 unless it completed."""
    context = context_of(ctx)
    with context.client() as client:
        final = _watch(client, workload_id, deployment_id)
    emit(final, context.output)
    return _code(final)
