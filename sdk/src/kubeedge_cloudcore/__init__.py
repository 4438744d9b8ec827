"""Python client of edgewright's two REST contracts (CloudCore and the Edge API).

from kubeedge_cloudcore import CloudCoreClient
client = CloudCoreClient(base_url="http://127.0.0.1:8000", api_key="ek_...")
devices = client.list_devices()
"""

from __future__ import annotations

from . import models
from ._async.clients import AsyncCloudCoreClient, AsyncEdgeClient
from ._retry import NO_RETRY, RetryPolicy
from ._sync.clients import CloudCoreClient, EdgeClient
from .errors import (
    ApiError,
    BadGateway,
    BadRequest,
    CloudCoreError,
    Conflict,
    ConnectionFailed,
    Forbidden,
    GatewayTimeout,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    ServerError,
    StreamRevoked,
    Unauthorized,
    Unavailable,
    UnsupportedMediaType,
    WaitTimeout,
)
from .subscribe import AsyncSubscription, Subscription

__all__ = [
    "NO_RETRY",
    "ApiError",
    "AsyncCloudCoreClient",
    "AsyncEdgeClient",
    "AsyncSubscription",
    "BadGateway",
    "BadRequest",
    "CloudCoreClient",
    "CloudCoreError",
    "Conflict",
    "ConnectionFailed",
    "EdgeClient",
    "Forbidden",
    "GatewayTimeout",
    "MethodNotAllowed",
    "NotFound",
    "PayloadTooLarge",
    "RateLimited",
    "RetryPolicy",
    "ServerError",
    "StreamRevoked",
    "Subscription",
    "Unauthorized",
    "Unavailable",
    "UnsupportedMediaType",
    "WaitTimeout",
    "models",
]
