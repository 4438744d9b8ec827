"""provision_device: every forward step in one local activity.

Against the real store, sandbox and broker for what it does; with stand-in steps for how it
reports a failure.
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from kubernetes import client
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.devices.inventory import InventoryActivities
from activities.devices.tokens import TokenActivities
from activities.join.batches import BatchActivities
from activities.join.kubernetes import KubeActivities
from activities.join.mqtt_credentials import MqttCredentialActivities
from activities.join.notify import NotifyActivities
from activities.join.provisioning import DONE_STEPS, FAILED_STEP, JoinProvisioner
from adapters.kubernetes.client import connect_kube
from adapters.mqtt.credentials import MqttCredentials
from adapters.mqtt.dynsec import DynsecClient
from adapters.mqtt.publisher import MqttPublisher
from store import join as batches
from store.devices import inventory as devices
from store.devices import mqtt_credentials, tokens
from store.sealing import unseal
from store.settings import Settings
from tests.support.mqtt_fixtures import Broker, broker_settings, can_connect
from workers.worker import join_provisioner
from workflows.contracts.common import DeviceRef, TransientKubeError
from workflows.contracts.join import (
    BatchActivity,
    BatchDeviceResult,
    DeviceRecordInput,
    DeviceResourceInput,
    EdgecoreConfigMapInput,
    IssueJoinTokenInput,
    JoinActivity,
    JoinStep,
    MqttCredentialsInput,
    NodeRbacInput,
    ProvisionDeviceInput,
    RecordBatchResultsInput,
    edgecore_configmap_name,
)

Sessions = async_sessionmaker[AsyncSession]
ALL_STEPS = [
    JoinStep.VALIDATE,
    JoinStep.ISSUE_TOKEN,
    JoinStep.CREATE_CONFIGMAP,
    JoinStep.CREATE_DEVICE,
    JoinStep.CONFIGURE_RBAC,
    JoinStep.RECORD_INVENTORY,
    JoinStep.NOTIFY,
]


def plan(device_id: str, node_name: str, *, batch_id: str | None = None) -> ProvisionDeviceInput:
    ref = DeviceRef(device_id=device_id, node_name=node_name)
    batch_result = None
    if batch_id is not None:
        done = BatchDeviceResult(device_id=device_id, succeeded=True)
        batch_result = RecordBatchResultsInput(batch_id=batch_id, results=[done])
    return ProvisionDeviceInput(
        validate_join=ref,
        token=IssueJoinTokenInput(
            device_id=device_id,
            node_name=node_name,
            token_id=str(uuid.uuid4()),
            expires_at=(datetime.now(UTC) + timedelta(hours=1)).replace(microsecond=0),
        ),
        configmap=EdgecoreConfigMapInput(
            device_id=device_id,
            node_name=node_name,
            namespace="kubeedge",
            cloudcore_host="10.0.0.1",
            cloudcore_port=10000,
        ),
        device=DeviceResourceInput(device_id=device_id, node_name=node_name, namespace="default"),
        rbac=NodeRbacInput(node_name=node_name, namespace="kubeedge"),
        record=DeviceRecordInput(
            device_id=device_id,
            node_name=node_name,
            status="waiting_for_node",
            workflow_id=f"device-join/{device_id}",
        ),
        notify=ref,
        batch_result=batch_result,
    )


@pytest.fixture
async def real_provisioner(settings: Settings, sessions: Sessions, mqtt_broker: Broker) -> Any:
    settings = Settings.model_validate({**settings.model_dump(), **broker_settings(mqtt_broker)})
    kube = KubeActivities(target=connect_kube(settings))
    publisher = MqttPublisher(
        host=mqtt_broker.host,
        port=mqtt_broker.port,
        client_id=f"prov-{uuid.uuid4().hex[:6]}",
        credentials=mqtt_broker.credentials,
    )
    await publisher.start()
    broker = None
    if mqtt_broker.enforces_auth:
        broker = DynsecClient(
            host=mqtt_broker.host,
            port=mqtt_broker.port,
            credentials=mqtt_broker.control,
            client_id=f"prov-control-{uuid.uuid4().hex[:6]}",
        )
        await broker.start()
    accounts = MqttCredentialActivities(
        settings=settings, sessions=sessions, secrets=kube, broker=broker
    )
    provisioner = join_provisioner(
        tokens=TokenActivities(settings=settings, sessions=sessions, cluster_ca=kube),
        kube=kube,
        inventory=InventoryActivities(sessions=sessions),
        mqtt=NotifyActivities(publisher=publisher),
        accounts=accounts,
        batches=BatchActivities(sessions=sessions),
    )
    yield provisioner, kube.target.api_client, accounts, settings
    if broker is not None:
        await broker.stop()
    await publisher.stop()


async def test_every_step_is_done_once_even_when_run_twice(
    real_provisioner: Any, sessions: Sessions
) -> None:
    provisioner, api, _, _ = real_provisioner
    tag = uuid.uuid4().hex[:6]
    device, node = f"cam-{tag}", f"node-{tag}"
    async with sessions() as session, session.begin():
        await batches.create_batch(
            session,
            batch_id=f"b-{tag}",
            fingerprint="fp",
            devices=[{"device_id": device, "node_name": node, "fingerprint": "fp"}],
            created_by=None,
        )
    inp = plan(device, node, batch_id=f"b-{tag}")

    first = await ActivityEnvironment().run(provisioner.provision_device, inp)
    second = await ActivityEnvironment().run(provisioner.provision_device, inp)  # a retry

    for outcome in (first, second):
        assert outcome.done == ALL_STEPS
        assert outcome.failure is None
        assert outcome.reported
        assert outcome.token is not None
        assert outcome.token.token_id == inp.token.token_id
    core, rbac = client.CoreV1Api(api), client.RbacAuthorizationV1Api(api)
    core.read_namespaced_config_map(edgecore_configmap_name(node), "kubeedge")
    client.CustomObjectsApi(api).get_namespaced_custom_object(
        "devices.kubeedge.io", "v1beta1", "default", "devices", device
    )
    assert rbac.read_namespaced_role_binding(f"edgewright-node-{node}", "kubeedge").metadata
    async with sessions() as session:
        row = await devices.get_device(session, device_id=device)
        token = await tokens.get_token(session, token_id=inp.token.token_id)
        [(batch_row, _)] = await batches.device_report(
            session, batch_id=f"b-{tag}", offset=0, limit=10
        )
    assert row is not None
    assert row.status == "waiting_for_node"
    assert token is not None
    assert batch_row.result == "success"


async def test_a_refused_step_names_itself_and_the_steps_done_before_it(
    real_provisioner: Any,
) -> None:
    provisioner, api, _, _ = real_provisioner
    tag = uuid.uuid4().hex[:6]
    device, node = f"cam-{tag}", f"node-{tag}"
    foreign = client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name=edgecore_configmap_name(node), namespace="kubeedge")
    )
    client.CoreV1Api(api).create_namespaced_config_map("kubeedge", foreign)

    outcome = await ActivityEnvironment().run(provisioner.provision_device, plan(device, node))

    assert outcome.done == [JoinStep.VALIDATE, JoinStep.ISSUE_TOKEN]
    assert outcome.failure is not None
    assert outcome.failure.step == JoinStep.CREATE_CONFIGMAP
    assert outcome.failure.error_type == "Conflict"
    assert not outcome.failure.maybe_applied
    assert outcome.token is not None  # issued, so the workflow revokes it


class StandInSteps:
    """Steps that record their calls; `broken` raises `error` (a transient one), `times`
    times or for ever."""

    def __init__(
        self,
        broken: JoinActivity | BatchActivity | None = None,
        *,
        error: Exception | None = None,
        times: int | None = None,
    ) -> None:
        self.calls: list[str] = []
        self.broken = broken
        self.error = error or ConnectionResetError("connection reset by peer")
        self.times = times

    def mapping(self) -> dict[JoinActivity | BatchActivity, Any]:
        names = [
            JoinActivity.VALIDATE_JOIN,
            JoinActivity.ISSUE_JOIN_TOKEN,
            JoinActivity.APPLY_EDGECORE_CONFIGMAP,
            JoinActivity.APPLY_DEVICE_RESOURCE,
            JoinActivity.APPLY_NODE_RBAC,
            JoinActivity.RECORD_DEVICE,
            JoinActivity.NOTIFY_DEVICE_PROVISIONED,
            BatchActivity.RECORD_BATCH_RESULTS,
        ]
        return {name: self._step(name) for name in names}

    def _step(self, name: JoinActivity | BatchActivity) -> Any:
        def step(arg: Any) -> None:  # sync, as the Kubernetes and MQTT steps are
            self.calls.append(name.value)
            if name == self.broken and (self.times is None or self.calls.count(name) <= self.times):
                raise self.error

        return step


async def test_a_transient_failure_is_raised_with_the_step_and_the_steps_done() -> None:
    steps = StandInSteps(broken=JoinActivity.APPLY_NODE_RBAC)
    provisioner = JoinProvisioner(steps.mapping())
    with pytest.raises(ApplicationError) as raised:
        await ActivityEnvironment().run(provisioner.provision_device, plan("cam", "node"))
    assert not raised.value.non_retryable  # Temporal retries the whole run
    assert raised.value.type == "ConnectionResetError"
    assert raised.value.details[0] == {
        FAILED_STEP: JoinStep.CONFIGURE_RBAC.value,
        DONE_STEPS: [s.value for s in ALL_STEPS[:4]],
    }
    assert JoinActivity.RECORD_DEVICE.value not in steps.calls


def server_error() -> ApplicationError:
    return ApplicationError("apply Role: HTTP 503", type=TransientKubeError.SERVER_ERROR)


async def test_a_kubernetes_5xx_is_retried_for_that_step_alone() -> None:
    steps = StandInSteps(JoinActivity.APPLY_NODE_RBAC, error=server_error(), times=3)
    provisioner = JoinProvisioner(steps.mapping(), retry_delays=(0, 0, 0, 0))
    outcome = await ActivityEnvironment().run(provisioner.provision_device, plan("cam", "node"))
    assert outcome.done == ALL_STEPS
    assert outcome.failure is None
    assert steps.calls.count(JoinActivity.APPLY_NODE_RBAC.value) == 4
    assert steps.calls.count(JoinActivity.APPLY_DEVICE_RESOURCE.value) == 1  # not re-done


async def test_a_kubernetes_5xx_that_lasts_is_left_to_temporal() -> None:
    steps = StandInSteps(JoinActivity.APPLY_NODE_RBAC, error=server_error())
    provisioner = JoinProvisioner(steps.mapping(), retry_delays=(0, 0))
    with pytest.raises(ApplicationError) as raised:
        await ActivityEnvironment().run(provisioner.provision_device, plan("cam", "node"))
    assert not raised.value.non_retryable
    assert raised.value.type == TransientKubeError.SERVER_ERROR
    assert raised.value.details[0][FAILED_STEP] == JoinStep.CONFIGURE_RBAC.value
    assert steps.calls.count(JoinActivity.APPLY_NODE_RBAC.value) == 3  # the first try and two


async def test_a_transient_error_of_another_kind_is_not_retried_in_the_step() -> None:
    steps = StandInSteps(JoinActivity.APPLY_NODE_RBAC)  # a connection reset, not classified
    provisioner = JoinProvisioner(steps.mapping(), retry_delays=(0, 0))
    with pytest.raises(ApplicationError):
        await ActivityEnvironment().run(provisioner.provision_device, plan("cam", "node"))
    assert steps.calls.count(JoinActivity.APPLY_NODE_RBAC.value) == 1


async def test_a_batch_result_not_written_is_left_to_the_workflow() -> None:
    steps = StandInSteps(broken=BatchActivity.RECORD_BATCH_RESULTS)
    provisioner = JoinProvisioner(steps.mapping())
    outcome = await ActivityEnvironment().run(
        provisioner.provision_device, plan("cam", "node", batch_id="b-1")
    )
    assert outcome.done == ALL_STEPS
    assert outcome.failure is None
    assert not outcome.reported


async def test_the_device_gets_an_mqtt_account_of_its_own(
    real_provisioner: Any, sessions: Sessions, mqtt_broker: Broker
) -> None:
    provisioner, api, accounts, settings = real_provisioner
    tag = uuid.uuid4().hex[:6]
    device, node = f"cam-{tag}", f"node-{tag}"
    inp = plan(device, node).model_copy(
        update={
            "mqtt": MqttCredentialsInput(
                device_id=device, node_name=node, namespace="kubeedge", credential_id=tag
            )
        }
    )

    first = await ActivityEnvironment().run(provisioner.provision_device, inp)
    second = await ActivityEnvironment().run(provisioner.provision_device, inp)  # a retry

    assert first.done == [*ALL_STEPS[:-1], JoinStep.ISSUE_MQTT_CREDENTIALS, JoinStep.NOTIFY]
    assert first.mqtt is not None
    assert second.mqtt is not None
    assert first.mqtt.username == device
    password = unseal(settings, first.mqtt.sealed_password)
    assert unseal(settings, second.mqtt.sealed_password) == password  # the same, retried
    assert password not in first.mqtt.sealed_password
    # The node's Secret has it, beside the ConfigMap, which does not.
    core = client.CoreV1Api(api)
    secret = core.read_namespaced_secret(f"edgecore-mqtt-{node}", "kubeedge")
    held = {key: base64.b64decode(value).decode() for key, value in secret.data.items()}
    assert held == {
        "host": mqtt_broker.host,
        "port": str(mqtt_broker.port),
        "username": device,
        "clientId": device,
        "password": password,
    }
    configmap = core.read_namespaced_config_map(edgecore_configmap_name(node), "kubeedge")
    assert password not in json.dumps(configmap.data)
    # Our store keeps its sha256 only.
    async with sessions() as session:
        kept = await mqtt_credentials.get(session, device_id=device)
    assert kept is not None
    assert kept.password_hash == hashlib.sha256(password.encode()).hexdigest()

    own = MqttCredentials(username=device, password=password)
    if mqtt_broker.enforces_auth:
        assert await can_connect(mqtt_broker, own, client_id=device)

    # Revoked (the join's undo, its expiry, the device's removal): all three are gone.
    undo = MqttCredentialsInput(
        device_id=device, node_name=node, namespace="kubeedge", credential_id=tag
    )
    await ActivityEnvironment().run(accounts.revoke_mqtt_credentials, undo)
    await ActivityEnvironment().run(accounts.revoke_mqtt_credentials, undo)  # idempotent
    with pytest.raises(client.ApiException) as gone:
        core.read_namespaced_secret(f"edgecore-mqtt-{node}", "kubeedge")
    assert gone.value.status == 404
    async with sessions() as session:
        assert await mqtt_credentials.get(session, device_id=device) is None
    if mqtt_broker.enforces_auth:
        assert not await can_connect(mqtt_broker, own, client_id=device)
