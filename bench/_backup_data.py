"""Data and baseline for bench/backup.py.

`python -m bench._backup_data DB COUNT` fills a migrated SQLite store with COUNT devices,
one join token each and one command each (in its own process, so its memory does not
count against the benchmark's). `bare_backup` / `bare_restore` are the baseline: the same
tables dumped with the stdlib sqlite3 module to JSON lines, tar.gz at the same level,
and moved with boto3 directly; no workflow, no checks, no diffing.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import sys
import tarfile
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

TABLES = {"devices": "device_id", "join_tokens": "token_id", "commands": "command_id"}
BATCH = 5000


def populate(db: Path, count: int) -> None:
    now = datetime.now(UTC)
    connection = sqlite3.connect(db)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        columns = {table: _columns(connection, table) for table in TABLES}
        for start in range(0, count, BATCH):
            batch = range(start, min(start + BATCH, count))
            _insert(connection, "devices", columns["devices"], [_device(i, now) for i in batch])
            _insert(
                connection, "join_tokens", columns["join_tokens"], [_token(i, now) for i in batch]
            )
            _insert(connection, "commands", columns["commands"], [_command(i, now) for i in batch])
            connection.commit()
    finally:
        connection.close()


def _columns(connection: sqlite3.Connection, table: str) -> list[str]:
    return [row[1] for row in connection.execute(f"PRAGMA table_info({table})")]


def _insert(
    connection: sqlite3.Connection, table: str, columns: list[str], rows: list[dict[str, Any]]
) -> None:
    names = [name for name in columns if name in rows[0]]
    marks = ", ".join("?" for _ in names)
    values = [tuple(row[name] for name in names) for row in rows]
    connection.executemany(f"INSERT INTO {table} ({', '.join(names)}) VALUES ({marks})", values)  # noqa: S608


def _time(value: datetime) -> str:
    # As SQLAlchemy's SQLite DATETIME stores a UTC datetime (store.models.UTCDateTime).
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _device(i: int, now: datetime) -> dict[str, Any]:
    return {
        "device_id": f"cam-{i:06d}",
        "node_name": f"edge-node-{i:06d}",
        "node_id": str(uuid.UUID(bytes=hashlib.md5(f"node-{i}".encode()).digest())),  # noqa: S324
        "device_type": "camera",
        "location": f"Site {i % 97}, rack {i % 13}",
        "status": "joined",
        "configuration": json.dumps(
            {"fps": 15, "resolution": "1920x1080", "night_mode": i % 2 == 0}
        ),
        "workflow_id": f"device-join/cam-{i:06d}",
        "joined_at": _time(now),
        "created_at": _time(now),
        "updated_at": _time(now),
        "presence_online": i % 3 == 0,
    }


def _token(i: int, now: datetime) -> dict[str, Any]:
    return {
        "token_id": str(uuid.UUID(bytes=hashlib.md5(f"token-{i}".encode()).digest())),  # noqa: S324
        "token_hash": hashlib.sha256(f"token-{i}".encode()).hexdigest(),
        "node_name": f"edge-node-{i:06d}",
        "device_id": f"cam-{i:06d}",
        "description": f"join of device cam-{i:06d}",
        "expires_at": _time(now + timedelta(days=1)),
        "used_at": _time(now),
        "created_at": _time(now),
    }


def _command(i: int, now: datetime) -> dict[str, Any]:
    return {
        "command_id": f"cmd-{i:07d}",
        "device_id": f"cam-{i:06d}",
        "command": "capture_image",
        "parameters": json.dumps({"resolution": "1920x1080", "format": "jpg", "quality": 90}),
        "status": "completed",
        "success": True,
        "result": json.dumps({"image_url": f"s3://images/{i}.jpg", "size": "1.2MB"}),
        "answered": 1,
        "timeout_seconds": 30.0,
        "connect_timeout_seconds": 0.0,
        "workflow_id": f"command/cmd-{i:07d}",
        "queued_at": _time(now),
        "sent_at": _time(now),
        "completed_at": _time(now),
        "created_at": _time(now),
        "updated_at": _time(now),
    }


def bare_backup(*, db: Path, scratch: Path, s3: S3Client, bucket: str, key: str) -> int:
    """Dump, tar.gz and upload; returns the archive's size."""
    connection = sqlite3.connect(db)
    connection.row_factory = sqlite3.Row
    try:
        for table in TABLES:
            with (scratch / f"{table}.jsonl").open("w") as out:
                for row in connection.execute(f"SELECT * FROM {table}"):  # noqa: S608
                    out.write(json.dumps(dict(row)) + "\n")
    finally:
        connection.close()
    archive = scratch / "bare.tar.gz"
    with tarfile.open(archive, "w:gz", compresslevel=6) as tar:
        for table in TABLES:
            tar.add(scratch / f"{table}.jsonl", arcname=f"{table}.jsonl")
    s3.upload_file(str(archive), bucket, key)
    return archive.stat().st_size


def bare_restore(*, db: Path, scratch: Path, s3: S3Client, bucket: str, key: str) -> None:
    """Download, unpack and insert into the emptied tables."""
    archive = scratch / "bare-restore.tar.gz"
    s3.download_file(bucket, key, str(archive))
    with tarfile.open(archive, "r:gz") as tar:
        tar.extractall(scratch / "bare-restore", filter="data")
    connection = sqlite3.connect(db)
    try:
        for table in TABLES:
            with (scratch / "bare-restore" / f"{table}.jsonl").open() as lines:
                rows = [json.loads(line) for line in lines]
            _insert(connection, table, list(rows[0]), rows)
        connection.commit()
    finally:
        connection.close()


def empty_tables(db: Path) -> None:
    connection = sqlite3.connect(db)
    try:
        for table in TABLES:
            connection.execute(f"DELETE FROM {table}")  # noqa: S608
        connection.commit()
    finally:
        connection.close()


if __name__ == "__main__":
    populate(Path(sys.argv[1]), int(sys.argv[2]))
