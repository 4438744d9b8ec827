"""What every feature's contracts share: the task queue, search attributes, labels,
the base model, validated ID types, and every `ApplicationError` type."""

from __future__ import annotations

import re
import unicodedata
from enum import StrEnum
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    StringConstraints,
)
from temporalio.common import SearchAttributeKey

TASK_QUEUE = "edgewright"


# Search attributes every run sets so operators can find it in the Temporal UI.
DEVICE_ID = SearchAttributeKey.for_keyword("DeviceId")


NODE_NAME = SearchAttributeKey.for_keyword("NodeName")


BATCH_ID = SearchAttributeKey.for_keyword("BatchId")


COMMAND_ID = SearchAttributeKey.for_keyword("CommandId")


WORKLOAD_ID = SearchAttributeKey.for_keyword("WorkloadId")


STAGE = SearchAttributeKey.for_keyword("Stage")


SEARCH_ATTRIBUTES = (DEVICE_ID, NODE_NAME, BATCH_ID, COMMAND_ID, WORKLOAD_ID, STAGE)


# Labels on every Kubernetes object edgewright creates, so it can find and clean them up.
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"


MANAGED_BY = "edgewright"


DEVICE_LABEL = "edgewright.io/device-id"


NODE_LABEL = "edgewright.io/node-name"


# `\Z`, not `$`: `$` also matches before a trailing newline, so "name\n" would pass a
# `.match`. Use `.fullmatch` all the same.
DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\Z")


DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?\Z")


# Kubernetes caps label values at 63 characters, and node names become label values
# (NODE_LABEL on every object of a node, kubernetes.io/hostname in workload selectors).
NODE_NAME_MAX = 63


def is_dns1123_subdomain(value: str) -> bool:
    return 0 < len(value) <= 253 and DNS1123_SUBDOMAIN.fullmatch(value) is not None


def is_dns1123_label(value: str) -> bool:
    return 0 < len(value) <= 63 and DNS1123_LABEL.fullmatch(value) is not None


def _dns1123_subdomain(value: str) -> str:
    if not is_dns1123_subdomain(value):
        raise ValueError(
            "must be a DNS-1123 name: at most 253 lowercase letters, digits, '-' or '.', "
            "starting and ending with a letter or digit"
        )
    return value


def _node_name(value: str) -> str:
    if not (len(value) <= NODE_NAME_MAX and is_dns1123_subdomain(value)):
        raise ValueError(
            f"must be a DNS-1123 name of at most {NODE_NAME_MAX} lowercase letters, digits, "
            "'-' or '.', starting and ending with a letter or digit (it becomes a "
            "Kubernetes label value)"
        )
    return value


def _dns1123_label(value: str) -> str:
    if not is_dns1123_label(value):
        raise ValueError(
            "must be a DNS-1123 label: at most 63 lowercase letters, digits or '-', "
            "starting and ending with a letter or digit"
        )
    return value


# Node names become Kubernetes object names, label values and `keadm --edgenode-name`: a
# DNS-1123 subdomain that also fits a label value.
NodeName = Annotated[str, AfterValidator(_node_name)]


# The node name of a device already in the inventory, which may predate the 63-character
# cap: removing such a device must still work.
KnownNodeName = Annotated[str, AfterValidator(_dns1123_subdomain)]


# Device IDs name the Device custom resource, MQTT topics and workflow IDs; a DNS-1123
# label keeps them safe in all three ('/', '+', '#' and spaces are impossible).
DeviceId = Annotated[str, AfterValidator(_dns1123_label)]


def has_control_characters(value: str) -> bool:
    """Control characters (C0, DEL, C1), invisible format characters (bidi overrides,
    zero-width) and line separators: nothing a name shown in logs and UIs should hold."""
    return any(unicodedata.category(char) in _INVISIBLE for char in value)


_INVISIBLE = {"Cc", "Cf", "Zl", "Zp"}


def _printable(value: str) -> str:
    if has_control_characters(value):
        raise ValueError("must not contain control or invisible formatting characters")
    return value


# Free-form names and label values: any text without control characters.
PrintableText = Annotated[str, AfterValidator(_printable)]


ShortText = Annotated[str, StringConstraints(max_length=200)]


ConfigScalar = str | int | float | bool


class ContractModel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ErrorType(StrEnum):
    """`ApplicationError.type` values; everything here but the transient ones is final."""

    INVALID = "Invalid"
    CONFLICT = "Conflict"
    NOT_FOUND = "NotFound"
    FORBIDDEN = "Forbidden"
    UNAUTHORIZED = "Unauthorized"
    KUBE_REJECTED = "KubernetesRejected"
    MISSING_CLUSTER_CA = "MissingClusterCA"


class TransientKubeError(StrEnum):
    """`ApplicationError.type` of the retryable Kubernetes failures."""

    CONFLICT = "KubernetesConflict"  # 409: lost an optimistic-concurrency race
    THROTTLED = "KubernetesThrottled"  # 429: API priority and fairness said "later"
    SERVER_ERROR = "KubernetesServerError"  # 5xx
    UNAVAILABLE = "KubernetesUnavailable"  # no HTTP answer at all: refused, reset, timed out


class TransientStorageError(StrEnum):
    """`ApplicationError.type` of the retryable object-storage failures."""

    THROTTLED = "StorageThrottled"  # 429, 503 SlowDown
    CONFLICT = "StorageConflict"  # 409: a concurrent operation on the same bucket or key
    SERVER_ERROR = "StorageServerError"  # 5xx
    UNAVAILABLE = "StorageUnavailable"  # no HTTP answer: refused, reset, timed out


# The failure a DeviceJoinWorkflow ends with when a step fails for good.
JOIN_FAILED = "JoinFailed"


class DeviceRef(ContractModel):
    device_id: DeviceId
    node_name: NodeName


class ObjectRef(ContractModel):
    namespace: str
    name: str


class NodeRef(ContractModel):
    node_name: NodeName


# Failure types the workflows end with; the API maps them (and their details) to answers.
BACKUP_FAILED = "BackupFailed"


RESTORE_FAILED = "RestoreFailed"


class BackupErrorType(StrEnum):
    """`ApplicationError.type` of the final backup and restore failures."""

    ARCHIVE_MISSING = "ArchiveMissing"
    CHECKSUM_MISMATCH = "ChecksumMismatch"
    ARCHIVE_CORRUPT = "ArchiveCorrupt"
    FOREIGN_ARCHIVE = "ForeignArchive"
    UNSUPPORTED_FORMAT = "UnsupportedFormatVersion"
    RESTORE_CONFLICT = "RestoreConflict"
    STORAGE_NOT_FOUND = "StorageNotFound"
    STORAGE_FORBIDDEN = "StorageForbidden"
    STORAGE_REJECTED = "StorageRejected"
    STORAGE_CREDENTIALS = "StorageCredentialsMissing"
    INVALID_LOCATION = "InvalidBackupLocation"


# Failure types the workflows end with; the API maps them (and their details) to answers.
REMOVAL_FAILED = "RemovalFailed"


DEPLOY_FAILED = "CloudCoreDeployFailed"


RENEWAL_FAILED = "CertificateRenewalFailed"


# The label every edge node carries (KubeEdge's edge role); only such Nodes are ever deleted.
EDGE_ROLE_LABEL = "node-role.kubernetes.io/edge"


NODE_ROLE_PREFIX = "node-role.kubernetes.io/"


class CommandErrorType(StrEnum):
    UNKNOWN_DEVICE = "UnknownDevice"
    UNREACHABLE = "DeviceUnreachable"
    DEVICE_FAILED = "DeviceFailed"
    TIMED_OUT = "TimedOut"
    CANCELLED = "Cancelled"
