"""One-line summaries runs start with, so the Temporal UI's lists read without opening
the input JSON (`Join camera-001 on edge-node-001`). The API, the workers and parent
workflows all start runs; they take the words from here."""

from __future__ import annotations

from collections.abc import Sequence

from workflows.contracts.backup import BackupProgress
from workflows.contracts.commands import JobProgress
from workflows.contracts.join import BatchProgress
from workflows.contracts.workloads import RolloutProgress

# The UI shows one line; a longer summary only costs history bytes.
MAX_SUMMARY_CHARS = 200


def short(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= MAX_SUMMARY_CHARS else line[: MAX_SUMMARY_CHARS - 1] + "…"


def join_summary(device_id: str, node_name: str) -> str:
    return short(f"Join {device_id} on {node_name}")


def batch_join_summary(batch_id: str, total: int) -> str:
    return short(f"Batch join {batch_id}: {total} devices")


def rollout_summary(workload_id: str, revision: int, nodes: Sequence[str]) -> str:
    where = f"{len(nodes)} nodes" if nodes else "its placement"
    return short(f"Roll out {workload_id} rev {revision} to {where}")


def workload_removal_summary(workload_id: str) -> str:
    return short(f"Remove workload {workload_id}")


def command_summary(command: str, device_id: str) -> str:
    return short(f"Send {command} to {device_id}")


def broadcast_summary(command: str, device_type: str) -> str:
    return short(f"Broadcast {command} to every {device_type}")


def command_job_summary(command: str, job_id: str) -> str:
    return short(f"Run {command} on a fleet selection (job {job_id})")


def connection_test_summary(device_id: str, checks: int) -> str:
    return short(f"Test the connection of {device_id} ({checks} checks)")


def device_removal_summary(device_id: str, node_name: str) -> str:
    return short(f"Remove {device_id} from {node_name}")


def token_summary(node_name: str) -> str:
    return short(f"Issue a join token for {node_name}")


def backup_summary(backup_id: str, kind: str) -> str:
    return short(f"Back up the store ({kind}) as {backup_id}")


def restore_summary(backup_id: str, *, dry_run: bool) -> str:
    return short(f"{'Dry-run restore' if dry_run else 'Restore'} from {backup_id}")


def cloudcore_summary(namespace: str) -> str:
    return short(f"Deploy CloudCore in {namespace}")


def certificate_renewal_summary(name: str, namespace: str) -> str:
    return short(f"Renew certificate {name} in {namespace} and restart CloudCore")


def node_sync_summary(namespace: str) -> str:
    return short(f"Sync Kubernetes nodes of {namespace} into the inventory")


# --- current details: what a long run shows on its page while it goes on -------------


def batch_details(progress: BatchProgress) -> str:
    running = progress.status.value == "running"
    eta = f", ETA {progress.eta_seconds:.0f} s" if running and progress.eta_seconds else ""
    return (
        f"{progress.status.value}: {progress.done}/{progress.total} done, "
        f"{progress.failed} failed, {progress.in_flight} in flight{eta}"
    )


def job_details(progress: JobProgress) -> str:
    remaining = max(0, progress.total - progress.started)
    running = progress.state.value == "running"
    eta = f", ETA {remaining / progress.rate_per_minute * 60:.0f} s" if running else ""
    return (
        f"{progress.state.value}: {progress.executed}/{progress.total} done, "
        f"{progress.failed} failed, {progress.in_flight} in flight{eta}"
        + (f", aborted: {progress.abort_reason}" if progress.abort_reason else "")
    )


def rollout_details(progress: RolloutProgress) -> str:
    wave = (
        f"wave {progress.current_wave}/{progress.waves_total}"
        if progress.current_wave
        else (f"{progress.waves_done}/{progress.waves_total} waves")
    )
    return (
        f"{progress.state.value}: {wave}, {progress.nodes_ready}/{progress.total_nodes} "
        f"nodes ready, {progress.nodes_failed} failed"
    )


def backup_details(progress: BackupProgress) -> str:
    size = f", {progress.archive.size_bytes} bytes" if progress.archive is not None else ""
    return f"{progress.status.value}: {progress.stage}{size}"


# --- activities: what each step is about, in the run's event list -------------------

# Fields of an activity's input that name what it works on, most telling first.
_SUBJECTS = (
    "device_id",
    "node_name",
    "workload_id",
    "command_id",
    "job_id",
    "batch_id",
    "backup_id",
    "restore_id",
    "namespace",
)


def activity_summary(stub: object, arg: object) -> str:
    """`Apply edgecore configmap for edge-node-001`: the step's name and its subject."""
    name = str(getattr(stub, "__name__", stub)).replace("_", " ").strip().capitalize()
    for field in _SUBJECTS:
        subject = getattr(arg, field, None)
        if isinstance(subject, str) and subject:
            return short(f"{name} for {subject}")
    return short(name)
