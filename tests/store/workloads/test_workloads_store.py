"""Workload rows on SQLite and PostgreSQL: revisions, rollouts, nodes, service ports."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from store import workloads
from store.devices import inventory as devices
from store.models import Rollout, WorkloadNode, utcnow
from workflows.contracts.workloads import (
    Placement,
    PlacementConstraint,
    RolloutStrategy,
    WorkloadSpec,
)

Sessions = async_sessionmaker[AsyncSession]


def spec(name: str = "web-app", **changes: object) -> WorkloadSpec:
    values: dict[str, object] = {
        "name": name,
        "namespace": "default",
        "image": "nginx:1.27",
        "replicas": 3,
        "placement": Placement(
            constraints=[PlacementConstraint(key="location", operator="In", values=["dc-1"])]
        ),
        **changes,
    }
    return WorkloadSpec.model_validate(values)


async def test_create_revise_and_list(sessions: Sessions) -> None:
    async with sessions() as session, session.begin():
        for index in range(5):
            source = "apps" if index % 2 else "v1"
            await workloads.create_workload(
                session, workload_id=f"w-{index}", spec=spec(f"app-{index}"), source=source,
                created_by="operator-user",
            )  # fmt: skip
    async with sessions() as session, session.begin():
        row = await workloads.get_by_name(session, namespace="default", name="app-0")
        assert row is not None
        assert row.workload_id == "w-0"
        assert (row.revision, row.status, row.deployed_revision) == (1, "created", None)
        assert await workloads.get_spec(session, workload_id="w-0", revision=1) == spec("app-0")
        revision = await workloads.add_revision(
            session, workload=row, spec=spec("app-0", replicas=5)
        )
        assert revision == 2
    async with sessions() as session:
        row = await workloads.get_workload(session, workload_id="w-0")
        assert row is not None
        assert row.revision == 2
        second = await workloads.get_spec(session, workload_id="w-0", revision=2)
        assert second.replicas == 5
        page, total = await workloads.list_workloads(session, offset=2, limit=2)
        assert total == 5
        assert [r.workload_id for r in page] == ["w-2", "w-3"]
        apps, total = await workloads.list_workloads(session, offset=0, limit=10, source="apps")
        assert (total, [r.workload_id for r in apps]) == (2, ["w-1", "w-3"])


async def test_rollouts_newest_and_running(sessions: Sessions) -> None:
    async with sessions() as session, session.begin():
        await workloads.create_workload(
            session, workload_id="w", spec=spec(), source="v1", created_by=None
        )
        for rollout_id, revision in (("r1", 1), ("r2", 2)):
            await workloads.create_rollout(
                session,
                rollout_id=rollout_id,
                workload_id="w",
                revision=revision,
                strategy=RolloutStrategy(),
                target_nodes=["n1"],
                requested_by="op",
            )
        # r1 started earlier and finished.
        await session.execute(
            update(Rollout)
            .where(Rollout.rollout_id == "r1")
            .values(state="completed", started_at=utcnow() - timedelta(minutes=5))
        )
    async with sessions() as session, session.begin():
        newest = await workloads.latest_rollout(session, workload_id="w")
        assert newest is not None
        assert (newest.rollout_id, newest.workflow_id, newest.state) == (
            "r2",
            "rollout/w/2",
            "pending",
        )
        running = await workloads.running_rollouts(session, workload_id="w")
        assert [r.rollout_id for r in running] == ["r2"]
        assert await workloads.get_rollout(session, workload_id="other", rollout_id="r2") is None
        await workloads.fail_rollout(session, rollout_id="r2", error="could not start")
    async with sessions() as session:
        assert await workloads.running_rollouts(session, workload_id="w") == []
        failed = await workloads.get_rollout(session, workload_id="w", rollout_id="r2")
        assert failed is not None
        assert failed.state == "failed"
        assert failed.finished_at is not None
        assert await workloads.latest_rollouts(session, workload_ids=[]) == {}


async def test_service_ports_are_stable_per_device_and_unique_per_node(sessions: Sessions) -> None:
    async with sessions() as session, session.begin():
        first = await workloads.allocate_service_ports(
            session, workload_id="a", revision=1, node_names=["n1", "n2"],
            first_port=5001, last_port=5003,
        )  # fmt: skip
        assert first == {"n1": 5001, "n2": 5001}
        other = await workloads.allocate_service_ports(
            session, workload_id="b", revision=1, node_names=["n1"],
            first_port=5001, last_port=5003,
        )  # fmt: skip
        assert other == {"n1": 5002}
    async with sessions() as session, session.begin():
        again = await workloads.allocate_service_ports(
            session, workload_id="a", revision=2, node_names=["n2", "n1", "n3"],
            first_port=5001, last_port=5003,
        )  # fmt: skip
        assert again == {"n2": 5001, "n1": 5001, "n3": 5001}
        await workloads.allocate_service_ports(
            session, workload_id="c", revision=1, node_names=["n1"],
            first_port=5001, last_port=5003,
        )  # fmt: skip
    async with sessions() as session:
        with pytest.raises(ValueError, match="n1"):
            await workloads.allocate_service_ports(
                session, workload_id="d", revision=1, node_names=["n1"],
                first_port=5001, last_port=5003,
            )  # fmt: skip


async def test_where_a_workload_runs_and_node_lookups(sessions: Sessions) -> None:
    async with sessions() as session, session.begin():
        for name in ("cam-1", "cam-2"):
            await devices.upsert_device(
                session, device_id=name, node_name=f"{name}-node", status="joined"
            )
        for node, state in (
            ("cam-1-node", "ready"),
            ("cam-2-node", "pending"),
            ("x", "applied"),
        ):
            session.add(WorkloadNode(workload_id="w", node_name=node, revision=1, state=state))
    async with sessions() as session:
        rows = await workloads.workload_nodes(session, workload_ids=["w", "none"])
        assert rows["none"] == []
        assert workloads.runs_on(rows["w"]) == ["cam-1-node", "x"]
        device = await devices.get_device(session, device_id="cam-1")
        assert device is not None
        found = await workloads.find_nodes(session, refs=[device.node_id, "cam-2-node", "nope"])
        assert found == {device.node_id: "cam-1-node", "cam-2-node": "cam-2-node"}
        assert await workloads.device_nodes(session, device_ids=["cam-2", "zz"]) == {
            "cam-2": "cam-2-node"
        }
        assert await workloads.node_devices(session, node_names=["cam-1-node", "x"]) == {
            "cam-1-node": "cam-1"
        }
        ids = await workloads.node_ids(session, node_names=["cam-1-node"])
        assert ids == {"cam-1-node": device.node_id}
