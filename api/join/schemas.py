"""CloudCore contract: the device join request (`POST /api/kubeedge/device/join`) and answer."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from api.join.keadm import is_valid_host
from workflows.contracts.common import ConfigScalar, DeviceId, NodeName, ShortText
from workflows.contracts.join import JoinStatus


def _host(value: str) -> str:
    if not is_valid_host(value):
        raise ValueError("must be an IP address or a DNS name")
    return value


def _configuration(value: dict[str, ConfigScalar]) -> dict[str, ConfigScalar]:
    if len(value) > 64:
        raise ValueError("at most 64 configuration keys")
    for key, item in value.items():
        if not 0 < len(key) <= 128:
            raise ValueError("keys must be 1-128 characters")
        if isinstance(item, str) and len(item) > 1024:
            raise ValueError(f"value of {key!r} is longer than 1024 characters")
    return value


class JoinRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    node_name: NodeName
    device_id: DeviceId
    cloud_ip: Annotated[str, AfterValidator(_host)] | None = Field(
        default=None, description="CloudCore address the device connects to; default from config"
    )
    device_type: ShortText | None = None
    location: ShortText | None = None
    configuration: Annotated[dict[str, ConfigScalar], AfterValidator(_configuration)] = Field(
        default_factory=dict
    )
    token_expiry_hours: float | None = Field(default=None, gt=0, le=24 * 30)


class JoinSteps(BaseModel):
    token_generated: bool
    configmap_created: bool
    device_crd_created: bool
    rbac_configured: bool
    inventory_recorded: bool
    notified: bool


class MqttAccess(BaseModel):
    """The device's own MQTT account (also in the Secret `edgecore-mqtt-{node_name}`)."""

    host: str
    port: int
    username: str
    password: str
    client_id: str = Field(description="the account works with this MQTT client ID only")


class JoinResponse(BaseModel):
    status: str = Field(
        default="success", description='"success" once provisioned; "accepted" with 202'
    )
    node_name: str
    device_id: str
    configmap_created: str | None
    device_crd_created: str | None
    join_command: str | None
    steps: JoinSteps
    join_status: JoinStatus
    token_expires_at: datetime | None
    mqtt: MqttAccess | None = Field(
        default=None, description="null for joins started before devices had MQTT accounts"
    )
    workflow_id: str
    temporal_ui_url: str
    status_url: str = Field(description="GET it for how the join goes (the POST's answer)")
