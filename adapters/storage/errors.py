"""Object-storage failures, classified for Temporal like adapters/kubernetes/errors.py.

A 4xx other than 409 and 429 fails the same way on every retry (no such bucket, access
denied, a bad encryption setting), so it becomes a non-retryable `ApplicationError` with
a typed `type`; throttling, 409, 5xx, timeouts and connection errors stay retryable.
Messages name the object and S3's error code, never credentials or request headers.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from boto3.exceptions import S3TransferFailedError, S3UploadFailedError
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    CredentialRetrievalError,
    HTTPClientError,
    NoCredentialsError,
    PartialCredentialsError,
)
from temporalio.exceptions import ApplicationError

from workflows.contracts.common import BackupErrorType, TransientStorageError

_THROTTLING = {"SlowDown", "Throttling", "ThrottlingException", "RequestLimitExceeded"}
_NOT_FOUND = {"NoSuchBucket", "NoSuchKey", "NoSuchUpload", "404", "NotFound"}
_FORBIDDEN = {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken"}
_MAX_MESSAGE = 300


def classify_client_error(exc: ClientError, *, what: str) -> ApplicationError:
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    error = exc.response.get("Error", {})
    code = str(error.get("Code") or "")
    detail = str(error.get("Message") or "")[:_MAX_MESSAGE]
    text = f"{what}: HTTP {status} {code}" + (f": {detail}" if detail else "")
    if code in _THROTTLING or status in (429, 503):
        return ApplicationError(text, status, type=TransientStorageError.THROTTLED)
    if status == 409:
        return ApplicationError(text, status, type=TransientStorageError.CONFLICT)
    if status >= 500 or status == 0:
        return ApplicationError(text, status, type=TransientStorageError.SERVER_ERROR)
    if status == 404 or code in _NOT_FOUND:
        final = BackupErrorType.STORAGE_NOT_FOUND
    elif status in (401, 403) or code in _FORBIDDEN:
        final = BackupErrorType.STORAGE_FORBIDDEN
    else:
        final = BackupErrorType.STORAGE_REJECTED
    return ApplicationError(text, status, type=final, non_retryable=True)


def classify(exc: BaseException, *, what: str) -> ApplicationError | None:
    """The `ApplicationError` for a storage failure, or None when `exc` is not one."""
    if isinstance(exc, ClientError):
        return classify_client_error(exc, what=what)
    if isinstance(exc, NoCredentialsError | PartialCredentialsError | CredentialRetrievalError):
        return ApplicationError(
            f"{what}: no usable AWS credentials ({type(exc).__name__}). Provide them the "
            "usual way: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or a role",
            type=BackupErrorType.STORAGE_CREDENTIALS,
            non_retryable=True,
        )
    if isinstance(exc, S3UploadFailedError | S3TransferFailedError):
        # boto3's managed transfer wraps the real failure; classify what it wrapped.
        inner = exc.__cause__ or exc.__context__
        if inner is not None and inner is not exc:
            found = classify(inner, what=what)
            if found is not None:
                return found
        return _unavailable(exc, what=what)
    if isinstance(exc, HTTPClientError | BotoCoreError):
        return _unavailable(exc, what=what)
    return None


def _unavailable(exc: BaseException, *, what: str) -> ApplicationError:
    # botocore's connection messages name the endpoint URL, never a header or a key.
    detail = f"{type(exc).__name__}: {exc}"[:_MAX_MESSAGE]
    return ApplicationError(
        f"{what}: object storage unreachable ({detail})", type=TransientStorageError.UNAVAILABLE
    )


@contextmanager
def storage_errors(*, action: str, url: str) -> Iterator[None]:
    """Translate what boto3 raises into a classified `ApplicationError` (not chained: the
    original's text may carry response headers that do not belong in Temporal history)."""
    what = f"{action} {url}"
    try:
        yield
    except Exception as exc:
        classified = classify(exc, what=what)
        if classified is None:
            raise
        raise classified from None
