"""S3 through boto3: AWS, or MinIO or any S3 at EDGEWRIGHT_BACKUP_S3_ENDPOINT_URL.

Credentials come from boto3's usual chain and are never read or logged here. Large
archives go up through boto3's managed transfer in parts; when a part fails or the
progress callback raises (a cancelled activity), the transfer aborts the multipart
upload, and `abort_uploads` sweeps up after an attempt that crashed instead.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import botocore.session
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.loaders import Loader, create_loader

from adapters.storage.base import CHUNK, Progress, StoredObject
from adapters.storage.errors import storage_errors
from store.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


@functools.cache
def _shared_loader() -> Loader:
    """One botocore data loader for the process: it caches the S3 service model and the
    endpoint rules it parses, which was most of building a client (1.3 s of 1.5 s on the
    shared bench machine, once per activity class). Clients and credentials stay per store."""
    return create_loader()


def s3_client(settings: Settings) -> S3Client:
    # Path-style addressing when an endpoint is given: MinIO and most S3 look-alikes need it.
    addressing = {"addressing_style": "path"} if settings.backup_s3_endpoint_url else {}
    config = Config(
        retries={"mode": "standard", "max_attempts": 3},
        connect_timeout=5,
        read_timeout=60,
        s3=addressing,  # type: ignore[arg-type]
        user_agent_extra="edgewright",
    )
    core = botocore.session.get_session()
    core.register_component("data_loader", _shared_loader())
    client: S3Client = boto3.session.Session(botocore_session=core).client(
        "s3",
        endpoint_url=settings.backup_s3_endpoint_url,
        region_name=settings.backup_s3_region,
        config=config,
    )
    return client


class S3Store:
    def __init__(self, *, bucket: str, prefix: str, base_url: str, settings: Settings) -> None:
        self.base_url = base_url
        self._bucket, self._prefix = bucket, prefix
        self._client = s3_client(settings)
        self._threshold = settings.backup_multipart_threshold_bytes
        self._transfer = TransferConfig(
            multipart_threshold=settings.backup_multipart_threshold_bytes,
            multipart_chunksize=settings.backup_multipart_chunk_bytes,
            max_concurrency=4,
        )
        self._encryption: dict[str, str] = {}
        if settings.backup_sse != "none":
            self._encryption["ServerSideEncryption"] = settings.backup_sse
            if settings.backup_sse == "aws:kms" and settings.backup_sse_kms_key_id:
                self._encryption["SSEKMSKeyId"] = settings.backup_sse_kms_key_id

    def _key(self, name: str) -> str:
        return f"{self._prefix}/{name}" if self._prefix else name

    def url_of(self, name: str) -> str:
        return f"s3://{self._bucket}/{self._key(name)}"

    def upload(
        self, *, path: Path, name: str, metadata: dict[str, str], progress: Progress
    ) -> bool:
        extra: dict[str, Any] = {
            "Metadata": metadata,
            "ContentType": "application/gzip",
            **self._encryption,
        }
        with storage_errors(action="upload", url=self.url_of(name)):
            self._client.upload_file(
                str(path),
                self._bucket,
                self._key(name),
                ExtraArgs=extra,
                Config=self._transfer,
                Callback=progress,
            )
        return path.stat().st_size >= self._threshold

    def head(self, *, name: str) -> StoredObject | None:
        with storage_errors(action="head", url=self.url_of(name)):
            try:
                answer = self._client.head_object(Bucket=self._bucket, Key=self._key(name))
            except ClientError as exc:
                if exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404:
                    return None
                raise
        return StoredObject(
            size=int(answer["ContentLength"]),
            etag=answer.get("ETag"),
            metadata=dict(answer.get("Metadata") or {}),
        )

    def download(self, *, name: str, path: Path, progress: Progress) -> None:
        with storage_errors(action="download", url=self.url_of(name)):
            self._client.download_file(
                self._bucket, self._key(name), str(path), Config=self._transfer, Callback=progress
            )

    def read(self, *, name: str, progress: Progress) -> Iterator[bytes]:
        with storage_errors(action="read", url=self.url_of(name)):
            body = self._client.get_object(Bucket=self._bucket, Key=self._key(name))["Body"]
            try:
                for chunk in body.iter_chunks(CHUNK):
                    progress(len(chunk))
                    yield chunk
            finally:
                body.close()

    def delete(self, *, name: str) -> None:
        # S3 answers a delete of a missing key with success: gone is gone.
        with storage_errors(action="delete", url=self.url_of(name)):
            self._client.delete_object(Bucket=self._bucket, Key=self._key(name))

    def abort_uploads(self, *, name: str) -> int:
        key, aborted = self._key(name), 0
        with storage_errors(action="abort uploads of", url=self.url_of(name)):
            pages = self._client.get_paginator("list_multipart_uploads")
            for page in pages.paginate(Bucket=self._bucket, Prefix=key):
                for upload in page.get("Uploads", []):
                    if upload.get("Key") != key:
                        continue
                    with contextlib.suppress(ClientError):  # finished or aborted meanwhile
                        self._client.abort_multipart_upload(
                            Bucket=self._bucket, Key=key, UploadId=upload["UploadId"]
                        )
                        aborted += 1
        return aborted
