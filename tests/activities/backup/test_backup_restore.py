"""Backup and restore activities against real components: the store (SQLite and
PostgreSQL), the Kubernetes sandbox over HTTP, and moto's S3 server or a directory."""

from __future__ import annotations

import asyncio
import io
import json
import tarfile
import uuid
from datetime import timedelta
from pathlib import Path

import boto3
import pytest
from kubernetes import client
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.exceptions import ApplicationError, CancelledError
from temporalio.testing import ActivityEnvironment

from activities.join.kubernetes import KubeActivities
from adapters.storage.locations import archive_name
from store.db import create_engine, session_factory
from store.devices import inventory as devices
from store.devices import tokens
from store.devices.node_tokens import record_node_token, revoke_node_token
from store.models import JoinToken, NodeToken, RuntimeConfigRow, utcnow
from store.runtime_config import save_runtime_config
from tests.activities.backup_helpers import Rig, backup_settings, crafted_archive, tar_gz
from tests.support.backup_inventory import T0, device_names, kube_inputs, populate
from tests.support.storage_fixtures import Target
from tests.support.store_fixtures import migrate
from workflows.contracts.backup import (
    ALL_INCLUDES,
    BACKUP_FORMAT_VERSION,
    BackupKind,
    CreateArchiveInput,
    PartChange,
    RestoreMode,
    RestorePlan,
)
from workflows.contracts.common import BackupErrorType, ObjectRef

kube_env = ActivityEnvironment()
# Tables other features own; this test leaves them empty (they may not exist at all).
# Parts the populated inventory leaves empty (every table exists since migration 0008).
EMPTY_PARTS = (
    "commands",
    "node_tokens",
    "workloads",
    "workload_revisions",
    "rollouts",
    "workload_nodes",
)
EMPTY_TABLES = dict.fromkeys(EMPTY_PARTS, (0, 0, 0, 0))


def changes_by_part(changes: list[PartChange]) -> dict[str, tuple[int, int, int, int]]:
    return {c.name: (c.create, c.update, c.unchanged, c.delete) for c in changes}


@pytest.fixture
async def rig(
    backup_target: Target,
    tmp_path: Path,
    database_url: str,
    sessions: async_sessionmaker[AsyncSession],
    kube_sandbox_url: str,
) -> Rig:
    """Every backend pair: SQLite and PostgreSQL, each with S3 and with file://."""
    settings = backup_settings(
        backup_target, tmp_path=tmp_path, database_url=database_url, sandbox_url=kube_sandbox_url
    )
    return Rig.build(settings, sessions)


@pytest.fixture
async def sqlite_rig(backup_target: Target, tmp_path: Path, kube_sandbox_url: str) -> Rig:
    """SQLite only, for the refusals: what they check does not depend on the database."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'edgewright.db'}"
    await migrate(url)
    settings = backup_settings(
        backup_target, tmp_path=tmp_path, database_url=url, sandbox_url=kube_sandbox_url
    )
    return Rig.build(settings, session_factory(create_engine(url)))


async def mutate(rig: Rig, prefix: str) -> None:
    """Lose two devices and a ConfigMap, change config and a Device, add a stranger."""
    names = device_names(prefix, 4)
    async with rig.sessions() as session, session.begin():
        for device_id, _ in names[:2]:
            await devices.delete_device(session, device_id=device_id)
        await save_runtime_config(session, changes={"max_devices": 7}, settings=rig.settings)
        await devices.upsert_device(
            session, device_id=f"{prefix}-stranger", node_name=f"{prefix}-n-x", status="joined"
        )
    acts = KubeActivities(target=rig.kube)
    ns = rig.settings.kubeedge_namespace
    kube_env.run(
        acts.delete_edgecore_configmap,
        ObjectRef(namespace=ns, name=f"edgecore-config-{names[0][1]}"),
    )
    device_id, node_name = names[3]
    device_input = kube_inputs(rig.settings, device_id=device_id, node_name=node_name)[1][1]
    kube_env.run(acts.apply_device_resource, device_input.model_copy(update={"location": "moved"}))
    stranger = kube_inputs(rig.settings, device_id=f"{prefix}-stranger", node_name=f"{prefix}-n-x")
    kube_env.run(acts.apply_edgecore_configmap, stranger[0][1])


async def test_round_trip_restores_the_inventory_exactly(rig: Rig) -> None:
    prefix = uuid.uuid4().hex[:6]
    await populate(rig.sessions, settings=rig.settings, kube=rig.kube, prefix=prefix)
    before = await rig.picture()

    info = await rig.make_backup("nightly-1")
    counts = {part.name: part.count for part in info.parts}
    assert counts | dict.fromkeys(EMPTY_PARTS, 0) == {
        "config": 1,
        "join_tokens": 4,
        "devices": 4,
        "kube/configmaps": 4,
        "kube/roles": 4,
        "kube/rolebindings": 4,
        "kube/devices": 4,
        **dict.fromkeys(EMPTY_PARTS, 0),
    }
    assert not info.skipped
    assert info.location.endswith("/nightly-1.tar.gz")

    await mutate(rig, prefix)
    assert await rig.picture() != before
    plan = await rig.inspect("nightly-1")
    assert changes_by_part(plan.changes) | EMPTY_TABLES == {
        "config": (0, 1, 0, 0),
        "join_tokens": (0, 0, 4, 0),
        "devices": (2, 0, 2, 1),
        "kube/configmaps": (1, 0, 3, 1),
        "kube/roles": (0, 0, 4, 0),
        "kube/rolebindings": (0, 0, 4, 0),
        "kube/devices": (0, 1, 3, 0),
        **EMPTY_TABLES,
    }
    assert plan.sha256 == info.sha256
    assert plan.format_version == BACKUP_FORMAT_VERSION

    applied = await rig.apply(plan)
    assert changes_by_part(applied.changes) == changes_by_part(plan.changes)
    assert await rig.picture() == before

    # Idempotent: restoring again finds nothing to do.
    again = await rig.inspect("nightly-1")
    assert all((c.create, c.update, c.delete) == (0, 0, 0) for c in again.changes)


async def test_merge_mode_keeps_what_the_archive_lacks(sqlite_rig: Rig) -> None:
    rig, prefix = sqlite_rig, uuid.uuid4().hex[:6]
    await populate(rig.sessions, settings=rig.settings, kube=rig.kube, prefix=prefix)
    await rig.make_backup("merge-1")
    await mutate(rig, prefix)
    plan = await rig.inspect("merge-1", mode=RestoreMode.MERGE)
    assert changes_by_part(plan.changes)["devices"] == (2, 0, 2, 0)
    await rig.apply(plan, mode=RestoreMode.MERGE)
    after = await rig.picture()
    device_ids = {row["device_id"] for row in after["devices"]}
    assert f"{prefix}-stranger" in device_ids
    assert {d for d, _ in device_names(prefix, 4)} <= device_ids


async def token_states(rig: Rig) -> dict[str, tuple[object, object]]:
    async with rig.sessions() as session:
        joins = await session.execute(
            select(JoinToken.token_id, JoinToken.used_at, JoinToken.revoked_at)
        )
        nodes = await session.execute(select(NodeToken.token_id, NodeToken.revoked_at))
    return {
        **{token_id: (used, revoked) for token_id, used, revoked in joins},
        **{token_id: (None, revoked) for token_id, revoked in nodes},
    }


async def test_a_restore_never_revives_a_revoked_or_used_token(rig: Rig) -> None:
    prefix = uuid.uuid4().hex[:6]
    await populate(rig.sessions, settings=rig.settings, kube=None, prefix=prefix)
    async with rig.sessions() as session, session.begin():
        await record_node_token(
            session,
            token_id=f"{prefix}-node-token",
            token=f"node-token-{prefix}",
            node_id=str(uuid.uuid4()),
            expires_at=T0 + timedelta(days=1),
            created_by="admin",
            now=T0,
        )
    await rig.make_backup("before-revocation")
    async with rig.sessions() as session, session.begin():
        for token_id in await session.scalars(select(JoinToken.token_id)):
            await tokens.mark_used(session, token_id=token_id)
            assert await tokens.revoke_token(session, token_id=token_id)
        await revoke_node_token(session, token_id=f"{prefix}-node-token", now=utcnow())
    revoked = await token_states(rig)
    assert len(revoked) == 5
    assert all(revoked_at is not None for _, revoked_at in revoked.values())

    for mode in (RestoreMode.MERGE, RestoreMode.REPLACE):
        plan = await rig.inspect("before-revocation", mode=mode)
        changes = changes_by_part(plan.changes)
        # Only revocations and uses moved since the backup: nothing to restore there.
        assert (changes["join_tokens"], changes["node_tokens"]) == ((0, 0, 4, 0), (0, 0, 1, 0))
        await rig.apply(plan, mode=mode)
        assert await token_states(rig) == revoked, mode


async def test_restore_without_a_record_uses_the_objects_checksum(sqlite_rig: Rig) -> None:
    # After a disaster the store is new and knows no backups; the archive still restores.
    rig, prefix = sqlite_rig, uuid.uuid4().hex[:6]
    await populate(rig.sessions, settings=rig.settings, kube=rig.kube, prefix=prefix)
    before = await rig.picture()
    info = await rig.make_backup("unrecorded", record=False)
    await mutate(rig, prefix)
    plan = await rig.inspect("unrecorded")
    assert plan.sha256 == info.sha256
    await rig.apply(plan)
    assert await rig.picture() == before


async def refused(rig: Rig, backup_id: str, error_type: BackupErrorType) -> ApplicationError:
    """Inspect and apply both refuse, and nothing changed."""
    before = await rig.picture()
    with pytest.raises(ApplicationError) as inspected:
        await rig.inspect(backup_id)
    assert inspected.value.type == error_type
    assert inspected.value.non_retryable
    plan = RestorePlan(
        backup_id=backup_id,
        location=rig.store.url_of(archive_name(backup_id)),
        sha256="0" * 64,
        size_bytes=0,
        format_version=1,
        archive_created_at=T0,
        include=ALL_INCLUDES,
    )
    with pytest.raises(ApplicationError):
        await rig.apply(plan)
    assert await rig.picture() == before
    return inspected.value


async def test_missing_object_is_refused(sqlite_rig: Rig) -> None:
    error = await refused(sqlite_rig, "never-made", BackupErrorType.ARCHIVE_MISSING)
    assert "never-made" in error.message


async def test_wrong_checksum_is_refused(sqlite_rig: Rig) -> None:
    rig = sqlite_rig
    await populate(rig.sessions, settings=rig.settings, kube=rig.kube, prefix="wc")
    info = await rig.make_backup("tampered")
    await rig.record(info.model_copy(update={"sha256": "f" * 64}))
    await refused(rig, "tampered", BackupErrorType.CHECKSUM_MISMATCH)


async def test_changed_bytes_are_refused(sqlite_rig: Rig, tmp_path: Path) -> None:
    rig = sqlite_rig
    await populate(rig.sessions, settings=rig.settings, kube=rig.kube, prefix="cb")
    await rig.make_backup("flipped")
    data = bytearray(b"".join(rig.store.read(name="flipped.tar.gz", progress=lambda _: None)))
    data[len(data) // 2] ^= 0xFF
    rig.put_raw("flipped", bytes(data), tmp_path, sha256=False)
    await refused(rig, "flipped", BackupErrorType.CHECKSUM_MISMATCH)


@pytest.mark.parametrize(
    ("data", "error_type"),
    [
        (b"not a tarball at all", BackupErrorType.ARCHIVE_CORRUPT),
        (crafted_archive("corrupt")[:-40], BackupErrorType.ARCHIVE_CORRUPT),
        (tar_gz([("etc/hosts", b"127.0.0.1 localhost\n")]), BackupErrorType.FOREIGN_ARCHIVE),
        (crafted_archive("corrupt", format="someone-elses"), BackupErrorType.FOREIGN_ARCHIVE),
        (crafted_archive("corrupt", backup_id="another"), BackupErrorType.FOREIGN_ARCHIVE),
        (
            crafted_archive("corrupt", format_version=BACKUP_FORMAT_VERSION + 1),
            BackupErrorType.UNSUPPORTED_FORMAT,
        ),
    ],
    ids=["garbage", "truncated", "foreign-tar", "foreign-format", "other-backup", "newer-format"],
)
async def test_unusable_archives_are_refused(
    sqlite_rig: Rig, tmp_path: Path, data: bytes, error_type: BackupErrorType
) -> None:
    # The whole-archive sha256 matches (it is stored with the bytes): the content decides.
    sqlite_rig.put_raw("corrupt", data, tmp_path)
    await refused(sqlite_rig, "corrupt", error_type)


async def test_wrong_part_checksum_is_refused(sqlite_rig: Rig, tmp_path: Path) -> None:
    archive = crafted_archive("parts")
    manifest = json.loads(_member(archive, "manifest.json"))
    manifest["parts"][0]["sha256"] = "0" * 64
    part = _member(archive, "parts/config.jsonl")
    sqlite_rig.put_raw(
        "parts",
        tar_gz([("manifest.json", json.dumps(manifest).encode()), ("parts/config.jsonl", part)]),
        tmp_path,
    )
    error = await refused(sqlite_rig, "parts", BackupErrorType.CHECKSUM_MISMATCH)
    assert "config" in error.message


def _member(archive: bytes, name: str) -> bytes:
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        member = tar.extractfile(name)
        assert member is not None
        return member.read()


async def test_an_object_that_is_not_ours_stops_the_restore(sqlite_rig: Rig) -> None:
    rig, prefix = sqlite_rig, uuid.uuid4().hex[:6]
    await populate(rig.sessions, settings=rig.settings, kube=rig.kube, prefix=prefix)
    await rig.make_backup("conflict")
    await mutate(rig, prefix)
    # Someone else takes the name of the ConfigMap the restore has to recreate.
    ns, node = rig.settings.kubeedge_namespace, device_names(prefix, 4)[0][1]
    core_body = {"metadata": {"name": f"edgecore-config-{node}", "namespace": ns}, "data": {}}
    client.CoreV1Api(rig.kube.api_client).create_namespaced_config_map(ns, core_body)
    plan = await rig.inspect("conflict")
    with pytest.raises(ApplicationError) as info:
        await rig.apply(plan)
    assert info.value.type == BackupErrorType.RESTORE_CONFLICT
    assert info.value.non_retryable


async def test_cancelled_upload_leaves_nothing(sqlite_rig: Rig, backup_target: Target) -> None:
    rig = sqlite_rig
    await populate(rig.sessions, settings=rig.settings, kube=None, prefix="cx", count=50)
    rig.backup.heartbeat_seconds = 0.0  # every progress report heartbeats
    env = ActivityEnvironment()

    def cancel_once_uploading(*details: object) -> None:
        if any(isinstance(d, dict) and "uploaded" in d for d in details):
            env.cancel()

    env.on_heartbeat = cancel_once_uploading
    created = CreateArchiveInput(
        backup_id="cancelled", kind=BackupKind.MANUAL, include=ALL_INCLUDES, created_at=T0
    )
    with pytest.raises((CancelledError, asyncio.CancelledError)):
        await env.run(rig.backup.create_backup_archive, created)
    assert rig.store.head(name="cancelled.tar.gz") is None
    if backup_target.bucket is not None:
        s3 = boto3.client("s3", endpoint_url=backup_target.endpoint)
        assert not s3.list_multipart_uploads(Bucket=backup_target.bucket).get("Uploads")
        assert not s3.list_objects_v2(Bucket=backup_target.bucket).get("Contents")
    else:
        assert backup_target.root is not None
        assert not backup_target.root.exists() or not list(backup_target.root.iterdir())


@pytest.mark.parametrize("backup_target", ["s3"], indirect=True)
async def test_multipart_archive_round_trip(
    backup_target: Target, tmp_path: Path, kube_sandbox_url: str
) -> None:
    # Any archive is "large" with a 1-byte threshold: the whole backup path goes multipart.
    url = f"sqlite+aiosqlite:///{tmp_path / 'edgewright.db'}"
    await migrate(url)
    settings = backup_settings(
        backup_target,
        tmp_path=tmp_path,
        database_url=url,
        sandbox_url=kube_sandbox_url,
        backup_multipart_threshold_bytes=1,
    )
    rig = Rig.build(settings, session_factory(create_engine(url)))
    prefix = uuid.uuid4().hex[:6]
    await populate(rig.sessions, settings=rig.settings, kube=rig.kube, prefix=prefix)
    before = await rig.picture()
    info = await rig.make_backup("in-parts")
    assert info.multipart
    s3 = boto3.client("s3", endpoint_url=backup_target.endpoint)
    head = s3.head_object(Bucket=backup_target.bucket, Key="edgewright/in-parts.tar.gz")
    assert head["ETag"].endswith('-1"')  # a multipart upload of one part
    await mutate(rig, prefix)
    await rig.apply(await rig.inspect("in-parts"))
    assert await rig.picture() == before


async def test_restore_into_an_emptied_store(sqlite_rig: Rig) -> None:
    # The disaster case: every table empty, so nothing is compared or deleted, only written.
    rig, prefix = sqlite_rig, uuid.uuid4().hex[:6]
    await populate(rig.sessions, settings=rig.settings, kube=rig.kube, prefix=prefix)
    before = await rig.picture()
    await rig.make_backup("from-scratch")
    async with rig.sessions() as session, session.begin():
        for table in ("devices", "join_tokens", "runtime_config"):
            await session.execute(text(f"DELETE FROM {table}"))  # noqa: S608
    plan = await rig.inspect("from-scratch")
    assert changes_by_part(plan.changes)["devices"] == (4, 0, 0, 0)
    await rig.apply(plan)
    assert await rig.picture() == before


async def test_an_archive_of_the_earlier_writer_restores(sqlite_rig: Rig, tmp_path: Path) -> None:
    # Archives made before JSON columns were copied as text encode each row whole, keys
    # sorted at every depth; a current backup puts JSON columns last. Both read the same.
    rig = sqlite_rig
    value = {"b": [1, {"z": None, "a": "é\n"}], "a": {"nested": True}}
    row = {"key": "earlier", "updated_at": "2026-01-15T10:30:00+00:00", "value": value}
    part = json.dumps(row, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n"
    rig.put_raw("earlier", crafted_archive("earlier", part=part.encode()), tmp_path)
    plan = await rig.inspect("earlier", mode=RestoreMode.MERGE)
    assert changes_by_part(plan.changes)["config"][0] == 1
    await rig.apply(plan, mode=RestoreMode.MERGE)
    async with rig.sessions() as session:
        stored = await session.scalar(
            select(RuntimeConfigRow.value).where(RuntimeConfigRow.key == "earlier")
        )
    assert stored == value
    # And a backup made now of that row restores it the same.
    await rig.make_backup("now")
    async with rig.sessions() as session, session.begin():
        await session.execute(text("DELETE FROM runtime_config WHERE key = 'earlier'"))
    await rig.apply(await rig.inspect("now", mode=RestoreMode.MERGE), mode=RestoreMode.MERGE)
    async with rig.sessions() as session:
        again = await session.scalar(
            select(RuntimeConfigRow.value).where(RuntimeConfigRow.key == "earlier")
        )
    assert again == value
