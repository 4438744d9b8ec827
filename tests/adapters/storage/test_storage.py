"""The object stores against real backends: moto's S3 server over HTTP, and a directory."""

from __future__ import annotations

import os
from pathlib import Path

import boto3
import pytest
from temporalio.exceptions import ApplicationError

from adapters.archive.reader import open_archive
from adapters.archive.writer import ArchiveWriter
from adapters.storage.locations import (
    FileStore,
    ObjectStore,
    StoreFactory,
    open_store,
    split_object_url,
)
from tests.api.helpers import closed_port
from tests.support.modes import mode
from tests.support.storage_fixtures import S3Server, Target, settings_for
from workflows.contracts.backup import BackupInclude
from workflows.contracts.common import BackupErrorType, TransientStorageError

MIB = 1024 * 1024


def store_for(target: Target, tmp_path: Path, **overrides: object) -> ObjectStore:
    return StoreFactory(settings=settings_for(target, data_dir=tmp_path, **overrides)).get()


def write_random(path: Path, size: int) -> bytes:
    data = os.urandom(size)
    path.write_bytes(data)
    return data


def no_progress(_: int) -> None:
    return None


def test_round_trip(backup_target: Target, tmp_path: Path) -> None:
    store = store_for(backup_target, tmp_path)
    data = write_random(tmp_path / "a.tar.gz", 300_000)
    multipart = store.upload(
        path=tmp_path / "a.tar.gz",
        name="b1.tar.gz",
        metadata={"sha256": "abc"},
        progress=no_progress,
    )
    assert not multipart
    head = store.head(name="b1.tar.gz")
    assert head is not None
    assert head.size == len(data)
    assert head.metadata["sha256"] == "abc"
    store.download(name="b1.tar.gz", path=tmp_path / "back", progress=no_progress)
    assert (tmp_path / "back").read_bytes() == data
    assert b"".join(store.read(name="b1.tar.gz", progress=no_progress)) == data
    store.delete(name="b1.tar.gz")
    store.delete(name="b1.tar.gz")  # gone is gone: a second delete is fine
    assert store.head(name="b1.tar.gz") is None
    assert store.url_of("b1.tar.gz") == f"{backup_target.location}/b1.tar.gz"


def test_multipart_upload_with_encryption(
    s3_server: S3Server, s3_bucket: str, tmp_path: Path
) -> None:
    target = Target(kind="s3", location=f"s3://{s3_bucket}/p", endpoint=s3_server.endpoint)
    store = store_for(
        target,
        tmp_path,
        backup_multipart_threshold_bytes=5 * MIB,
        backup_multipart_chunk_bytes=5 * MIB,
        backup_sse="AES256",
    )
    data = write_random(tmp_path / "big", 11 * MIB)
    moved: list[int] = []
    assert store.upload(
        path=tmp_path / "big", name="big.tar.gz", metadata={}, progress=moved.append
    )
    assert sum(moved) == len(data)
    s3 = boto3.client("s3", endpoint_url=s3_server.endpoint)
    head = s3.head_object(Bucket=s3_bucket, Key="p/big.tar.gz")
    assert head["ETag"].endswith('-3"')  # three parts: 5 + 5 + 1 MiB
    assert head["ServerSideEncryption"] == "AES256"
    store.download(name="big.tar.gz", path=tmp_path / "back", progress=no_progress)
    assert (tmp_path / "back").read_bytes() == data


def test_failed_multipart_upload_leaves_nothing(
    s3_server: S3Server, s3_bucket: str, tmp_path: Path
) -> None:
    target = Target(kind="s3", location=f"s3://{s3_bucket}", endpoint=s3_server.endpoint)
    store = store_for(
        target,
        tmp_path,
        backup_multipart_threshold_bytes=5 * MIB,
        backup_multipart_chunk_bytes=5 * MIB,
    )
    write_random(tmp_path / "big", 11 * MIB)
    moved = 0

    def fail_midway(amount: int) -> None:
        nonlocal moved
        moved += amount
        if moved > 6 * MIB:
            raise RuntimeError("injected: the activity was cancelled")

    with pytest.raises(RuntimeError, match="injected"):
        store.upload(path=tmp_path / "big", name="x.tar.gz", metadata={}, progress=fail_midway)
    s3 = boto3.client("s3", endpoint_url=s3_server.endpoint)
    assert not s3.list_multipart_uploads(Bucket=s3_bucket).get("Uploads")
    assert store.head(name="x.tar.gz") is None


def test_abort_uploads_sweeps_what_a_crash_left(
    s3_server: S3Server, s3_bucket: str, tmp_path: Path
) -> None:
    target = Target(kind="s3", location=f"s3://{s3_bucket}", endpoint=s3_server.endpoint)
    store = store_for(target, tmp_path)
    s3 = boto3.client("s3", endpoint_url=s3_server.endpoint)
    s3.create_multipart_upload(Bucket=s3_bucket, Key="crashed.tar.gz")
    s3.create_multipart_upload(Bucket=s3_bucket, Key="crashed.tar.gz.other")
    assert store.abort_uploads(name="crashed.tar.gz") == 1
    left = s3.list_multipart_uploads(Bucket=s3_bucket).get("Uploads") or []
    assert [upload["Key"] for upload in left] == ["crashed.tar.gz.other"]


def test_file_store_failure_leaves_no_partial_file(tmp_path: Path) -> None:
    store = FileStore(root=tmp_path / "backups", base_url=f"file://{tmp_path / 'backups'}")
    write_random(tmp_path / "a", 3 * MIB)

    def fail(_: int) -> None:
        raise RuntimeError("injected")

    with pytest.raises(RuntimeError):
        store.upload(path=tmp_path / "a", name="a.tar.gz", metadata={}, progress=fail)
    assert store.head(name="a.tar.gz") is None
    assert [p.name for p in (tmp_path / "backups").iterdir()] == ["a.tar.gz.meta.json"]
    store.delete(name="a.tar.gz")
    assert not list((tmp_path / "backups").iterdir())


def test_missing_bucket_is_final(s3_server: S3Server, tmp_path: Path) -> None:
    target = Target(kind="s3", location="s3://no-such-bucket-here", endpoint=s3_server.endpoint)
    store = store_for(target, tmp_path)
    write_random(tmp_path / "a", 1000)
    with pytest.raises(ApplicationError) as info:
        store.upload(path=tmp_path / "a", name="a.tar.gz", metadata={}, progress=no_progress)
    assert info.value.type == BackupErrorType.STORAGE_NOT_FOUND
    assert info.value.non_retryable
    assert "no-such-bucket-here" in info.value.message


def test_unreachable_endpoint_is_retried(s3_server: S3Server, tmp_path: Path) -> None:
    endpoint = f"http://127.0.0.1:{closed_port()}"
    target = Target(kind="s3", location="s3://bucket", endpoint=endpoint)
    store = store_for(target, tmp_path)
    with pytest.raises(ApplicationError) as info:
        store.head(name="a.tar.gz")
    assert info.value.type == TransientStorageError.UNAVAILABLE
    assert not info.value.non_retryable
    assert "testing" not in info.value.message  # the credentials never show


@pytest.mark.parametrize("url", ["ftp://host/x", "s3://", "file://", "bucket/prefix"])
def test_bad_locations_are_refused(url: str, tmp_path: Path) -> None:
    settings = settings_for(Target("file", f"file://{tmp_path}", None), data_dir=tmp_path)
    with pytest.raises(ApplicationError) as info:
        open_store(url, settings=settings)
    assert info.value.type == BackupErrorType.INVALID_LOCATION


def test_split_object_url() -> None:
    assert split_object_url("s3://b/p/q/x.tar.gz") == ("s3://b/p/q", "x.tar.gz")
    assert split_object_url("file://data/backups/x.tar.gz") == ("file://data/backups", "x.tar.gz")


@pytest.mark.usefixtures("usual_umask")
def test_file_store_archives_are_private(tmp_path: Path) -> None:
    root = tmp_path / "data" / "backups"
    store = FileStore(root=root, base_url=f"file://{root}")
    source = tmp_path / "archive.tar.gz"
    source.write_bytes(b"archive bytes")
    store.upload(path=source, name="b1.tar.gz", metadata={"sha256": "x"}, progress=lambda _: None)
    fetched = tmp_path / "fetched"
    store.download(name="b1.tar.gz", path=fetched, progress=lambda _: None)

    assert (mode(tmp_path / "data"), mode(root)) == (0o700, 0o700)
    assert mode(root / "b1.tar.gz") == 0o600
    assert mode(root / "b1.tar.gz.meta.json") == 0o600
    assert mode(fetched) == 0o600


@pytest.mark.usefixtures("usual_umask")
def test_archive_scratch_files_are_private(tmp_path: Path) -> None:
    scratch = tmp_path / "scratch"
    manifest = {
        "backup_id": "b2",
        "kind": "manual",
        "created_at": "2026-01-15T10:30:00+00:00",
        "include": ["config"],
    }
    writer = ArchiveWriter(scratch=scratch, manifest=manifest)
    part = writer.open_part(name="config", include=BackupInclude.CONFIG, source="table")
    part.write([{"key": "runtime", "value": {}}])
    writer.add(part)
    target = scratch / "b2.tar.gz"
    writer.finish(target=target, beat=lambda _: None)
    unpacked = tmp_path / "unpacked"
    unpacked.mkdir(mode=0o700)
    open_archive(path=target, scratch=unpacked, backup_id="b2", beat=lambda _: None)

    assert mode(scratch / "parts") == 0o700
    assert mode(scratch / "parts" / "config.jsonl") == 0o600
    assert mode(target) == 0o600
    assert mode(unpacked / "parts") == 0o700
    assert mode(unpacked / "parts" / "config.jsonl") == 0o600
