"""Request and answer shapes of the metrics endpoints of both documents."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from workflows.contracts.common import PrintableText

# Bounds on what a node may say: beyond these a reading is a bug, not a measurement.
Percent = Annotated[float, Field(ge=0, le=100_000, allow_inf_nan=False, strict=True)]
Gigabytes = Annotated[float, Field(ge=0, le=1e9, allow_inf_nan=False, strict=True)]
Celsius = Annotated[float, Field(ge=-273.15, le=2000, allow_inf_nan=False, strict=True)]
Bytes = Annotated[float, Field(ge=0, le=1e18, allow_inf_nan=False, strict=True)]
Megabytes = Annotated[float, Field(ge=0, le=1e12, allow_inf_nan=False, strict=True)]


class Network(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rx_bytes: Bytes | None = None
    tx_bytes: Bytes | None = None


class Container(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[PrintableText, StringConstraints(min_length=1, max_length=253)]
    cpu_usage: Percent | None = None
    memory_usage: Megabytes | None = None


class MetricsReport(BaseModel):
    """The Edge API document's body: usage in percent (CPU) and GB (memory, disk)."""

    model_config = ConfigDict(extra="forbid")

    timestamp: AwareDatetime | None = Field(
        default=None, description="When measured (with a zone); default: when received"
    )
    cpu_usage: Percent | None = Field(default=None, examples=[45.5])
    memory_usage: Gigabytes | None = Field(default=None, examples=[3.2])
    memory_total: Gigabytes | None = Field(default=None, examples=[8.0])
    disk_usage: Gigabytes | None = Field(default=None, examples=[42.8])
    disk_total: Gigabytes | None = Field(default=None, examples=[100.0])
    temperature: Celsius | None = Field(default=None, description="ours: degrees Celsius")
    network: Network | None = None
    containers: list[Container] | None = Field(default=None, max_length=256)

    @model_validator(mode="after")
    def _says_something(self) -> MetricsReport:
        readings = self.model_dump(exclude={"timestamp"}, exclude_none=True)
        if not readings or readings == {"network": {}}:
            raise ValueError("give at least one metric")
        return self


class Recorded(BaseModel):
    success: bool
    recorded_at: datetime = Field(description="The sample's timestamp as stored (whole seconds)")


class Point(BaseModel):
    timestamp: datetime = Field(description="Start of the bucket")
    value: float = Field(description="Average of the samples in the bucket")


class NodeMetrics(BaseModel):
    node_id: str
    node_name: str
    timeframe: str
    resolution: str
    metrics: dict[str, list[Point]] = Field(
        description="Per metric (cpu_usage, memory_usage, memory_total, disk_usage, "
        "disk_total, temperature, rx_bytes, tx_bytes) its per-bucket averages"
    )


class NodeAverages(BaseModel):
    model_config = ConfigDict(extra="allow")  # `{metric}_avg` for each metric it reported

    name: str


class FleetMetrics(BaseModel):
    timeframe: str
    resolution: str
    nodes_count: int = Field(description="Nodes that reported in the timeframe")
    aggregated: dict[str, list[Point]] = Field(
        description="`{metric}_avg`: per bucket, the average over every node's samples"
    )
    nodes: dict[str, NodeAverages] = Field(
        description="By node id: its name and `{metric}_avg` over the timeframe"
    )
