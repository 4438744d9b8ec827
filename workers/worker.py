"""The Temporal worker: every workflow and activity on one task queue."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import workflow
from temporalio.client import Client
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities.devices.inventory import InventoryActivities
from activities.devices.tokens import TokenActivities
from activities.join.batches import BatchActivities
from activities.join.kubernetes import KubeActivities
from activities.join.mqtt_credentials import DeviceAccounts, MqttCredentialActivities
from activities.join.notify import NotifyActivities
from activities.join.provisioning import JoinProvisioner
from activities.webhooks.emitter import WebhookEmitter
from adapters.mqtt.events import PublisherEvents
from adapters.mqtt.publisher import MqttPublisher
from store.settings import Settings, package_version
from workers.audit import AUDIT_WORKFLOWS, audit_activities
from workers.backup import BACKUP_WORKFLOWS, backup_activities
from workers.certificates import CERTIFICATE_WORKFLOWS, certificate_activities
from workers.commands import COMMAND_WORKFLOWS, command_activities
from workers.devices import INVENTORY_WORKFLOWS, inventory_activities
from workers.join import BATCH_WORKFLOWS, batch_activities
from workers.maintenance import MAINTENANCE_WORKFLOWS, maintenance_activities
from workers.monitoring import MONITORING_WORKFLOWS, monitoring_activities
from workers.webhooks import WEBHOOK_WORKFLOWS, webhook_activities
from workers.workloads import WORKLOAD_WORKFLOWS, workload_activities
from workflows.contracts.join import BatchActivity, JoinActivity
from workflows.join.device_join import DeviceJoinWorkflow
from workflows.observability.interceptor import RunMetricsInterceptor

WORKFLOWS: Sequence[type] = (
    DeviceJoinWorkflow,
    *INVENTORY_WORKFLOWS,
    *BATCH_WORKFLOWS,
    *BACKUP_WORKFLOWS,
    *COMMAND_WORKFLOWS,
    *WORKLOAD_WORKFLOWS,
    *WEBHOOK_WORKFLOWS,
    *MONITORING_WORKFLOWS,
    *AUDIT_WORKFLOWS,
    *CERTIFICATE_WORKFLOWS,
    *MAINTENANCE_WORKFLOWS,
)


def activity_callables(
    *,
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    kube: KubeActivities,
    publisher: MqttPublisher,
    broker: DeviceAccounts | None = None,
    executor: Executor | None = None,
) -> list[Any]:
    """Every activity; `broker` manages the devices' MQTT accounts (None: it checks none)."""
    emitter = WebhookEmitter(settings=settings, sessions=sessions)
    tokens = TokenActivities(settings=settings, sessions=sessions, cluster_ca=kube)
    accounts = MqttCredentialActivities(
        settings=settings, sessions=sessions, secrets=kube, broker=broker
    )
    events = PublisherEvents(publisher=publisher)
    inventory = InventoryActivities(sessions=sessions, events=events, webhooks=emitter)
    mqtt = NotifyActivities(publisher=publisher)
    provisioner = join_provisioner(
        tokens=tokens,
        kube=kube,
        inventory=inventory,
        mqtt=mqtt,
        accounts=accounts,
        batches=BatchActivities(sessions=sessions),
        executor=executor,
        webhooks=emitter,
    )
    return [
        provisioner.provision_device,
        tokens.issue_join_token,
        tokens.revoke_join_token,
        kube.apply_edgecore_configmap,
        kube.delete_edgecore_configmap,
        kube.apply_device_resource,
        kube.delete_device_resource,
        kube.apply_node_rbac,
        kube.delete_node_rbac,
        kube.read_node_status,
        inventory.validate_join,
        inventory.record_device,
        inventory.delete_device_record,
        inventory.set_device_status,
        inventory.complete_join,
        mqtt.notify_device_provisioned,
        accounts.issue_mqtt_credentials,
        accounts.revoke_mqtt_credentials,
        *inventory_activities(
            settings=settings,
            sessions=sessions,
            target=kube.target,
            tokens=tokens,
            accounts=accounts,
        ),
        *batch_activities(sessions=sessions, webhooks=emitter),
        *command_activities(sessions=sessions, publisher=publisher, webhooks=emitter),
        *backup_activities(
            settings=settings,
            sessions=sessions,
            target=kube.target,
            executor=executor,
            webhooks=emitter,
        ),
        *workload_activities(sessions=sessions, target=kube.target, webhooks=emitter),
        *webhook_activities(emitter=emitter),
        *monitoring_activities(sessions=sessions, publisher=publisher, webhooks=emitter),
        *audit_activities(sessions=sessions),
        *certificate_activities(target=kube.target, sessions=sessions),
        *maintenance_activities(
            settings=settings, sessions=sessions, events=events, webhooks=emitter
        ),
    ]


def join_provisioner(
    *,
    tokens: TokenActivities,
    kube: KubeActivities,
    inventory: InventoryActivities,
    mqtt: NotifyActivities,
    accounts: MqttCredentialActivities,
    batches: BatchActivities,
    executor: Executor | None = None,
    webhooks: WebhookEmitter | None = None,
) -> JoinProvisioner:
    """provision_device, running the very activities a join once ran one by one."""
    return JoinProvisioner(
        {
            JoinActivity.VALIDATE_JOIN: inventory.validate_join,
            JoinActivity.ISSUE_JOIN_TOKEN: tokens.issue_join_token,
            JoinActivity.APPLY_EDGECORE_CONFIGMAP: kube.apply_edgecore_configmap,
            JoinActivity.APPLY_DEVICE_RESOURCE: kube.apply_device_resource,
            JoinActivity.APPLY_NODE_RBAC: kube.apply_node_rbac,
            JoinActivity.RECORD_DEVICE: inventory.record_device,
            JoinActivity.ISSUE_MQTT_CREDENTIALS: accounts.issue_mqtt_credentials,
            JoinActivity.NOTIFY_DEVICE_PROVISIONED: mqtt.notify_device_provisioned,
            BatchActivity.RECORD_BATCH_RESULTS: batches.record_batch_results,
        },
        executor=executor,
        webhooks=webhooks,
    )


def build_worker(
    client: Client,
    *,
    settings: Settings,
    activities: list[Any],
    executor: ThreadPoolExecutor,
) -> Worker:
    # Sync activities (kubernetes, paho) run on `executor`; async ones on the event loop.
    return Worker(
        client,
        task_queue=settings.task_queue,
        workflows=list(WORKFLOWS),
        activities=activities,
        activity_executor=executor,
        max_concurrent_activities=executor._max_workers,
        # Memory against replays: each cached run costs memory, and an evicted run replays
        # its history at its next task, a batch parent's up to thousands of events
        # (docs/scaling.md, "Worker memory").
        max_cached_workflows=settings.worker_max_cached_workflows,
        # One thread per activation slot: the SDK's 2 s deadlock limit is wall-clock, so
        # an activation must not wait for the GIL behind dozens of others.
        max_concurrent_workflow_tasks=settings.worker_max_concurrent_workflow_tasks,
        workflow_runner=SANDBOX,
        # Given, not derived: temporalio's default hashes the code of every loaded module,
        # which took 5-30 s of each worker start (longer on a busy machine).
        build_id=settings.worker_build_id or f"edgewright-{package_version()}",
        # Runs started and finished, through the SDK's replay-safe meter.
        interceptors=[RunMetricsInterceptor()],
    )


@dataclass(frozen=True)
class ValidatedOnceSandbox(SandboxedWorkflowRunner):
    """The SDK's sandbox, validating each workflow definition once per process.

    Every Worker validates its workflows by importing each one in a fresh sandbox; a
    definition cannot change while the process runs, so a process that builds workers
    again (the tests build hundreds) validates nothing twice.
    """

    _validated: set[type] = field(default_factory=set, init=False, compare=False)

    def prepare_workflow(self, defn: workflow._Definition) -> None:
        if defn.cls in self._validated:
            return
        super().prepare_workflow(defn)
        self._validated.add(defn.cls)


# The sandbox re-imports a workflow's modules for every new run. The contracts package is
# pure declarations (pydantic models, names) but took ~100 ms to rebuild each time, which
# made it most of a command's round trip (measured with bench.command_latency); shared
# read-only between runs, it stays deterministic.
SHARED_CONTRACTS = "workflows.contracts"  # and every module inside it
# Workflow modules the sandbox imports once, not once per run. The SDK re-imports a
# workflow's own module to isolate module state between runs; these hold none (constants,
# functions and a class whose state is per instance: tests/workers/test_sandbox.py). With
# bytecode compiled, re-importing the command workflow was still 7.5 % of the worker's
# busy CPU under 50 commands at once (defining the class, and the SDK inspecting it and its
# handlers), measured with py-spy during bench.command_latency. CommandWorkflow itself now
# runs outside the sandbox (workflows/commands/command.py says why); the command job and
# connection test workflows, sandboxed, still import its module.
SHARED_WORKFLOW_MODULES = ("workflows.commands.command",)
SANDBOX = ValidatedOnceSandbox(
    restrictions=SandboxRestrictions.default.with_passthrough_modules(
        SHARED_CONTRACTS, *SHARED_WORKFLOW_MODULES
    )
)
