"""One HTTP connection pool with credentials, retries and typed errors.

Credentials: an API key (`X-API-Key`), a bearer token, or a username and password that
log in on first use and again when the token expires.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import httpx
from httpx_sse import EventSource, aconnect_sse

from .._base import Model
from .._retry import RETRY_STATUSES, RetryPolicy, asleep
from ..errors import ConnectionFailed, error_from_response, retry_after_seconds

M = TypeVar("M", bound=Model)
USER_AGENT = "kubeedge-cloudcore-sdk"
DEFAULT_TIMEOUT = 30.0
PAGE_SIZE = 100  # the largest page both contracts allow


def _query(params: Mapping[str, Any] | None) -> dict[str, Any]:
    """Leave out the parameters the caller did not set."""
    return {key: value for key, value in (params or {}).items() if value is not None}


class AsyncTransport:
    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        token: str | None = None,
        username: str | None = None,
        password: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        if sum(x is not None for x in (api_key, token, username)) > 1:
            raise ValueError("give one of api_key, token, or username and password")
        if (username is None) != (password is None):
            raise ValueError("username and password go together")
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.token = token
        self._username = username
        self._password = password
        self.retry = retry or RetryPolicy()
        self._http = http or httpx.AsyncClient(
            base_url=self.base_url, timeout=timeout, headers={"User-Agent": USER_AGENT}
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    def auth_headers(self) -> dict[str, str]:
        if self.api_key is not None:
            return {"X-API-Key": self.api_key}
        if self.token is not None:
            return {"Authorization": f"Bearer {self.token}"}
        return {}

    async def login(self, username: str, password: str) -> dict[str, Any]:
        """Log in and use the token from now on; answers the login response."""
        answer = await self.request(
            "POST",
            "/api/auth/login",
            json={"username": username, "password": password},
            authenticate=False,
        )
        body: dict[str, Any] = answer.json()
        self.token = body["token"]
        self.api_key = None
        return body

    async def _ensure_login(self) -> None:
        if self.token is None and self._username is not None and self._password is not None:
            await self.login(self._username, self._password)

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        authenticate: bool = True,
    ) -> httpx.Response:
        """Send, retrying 429 and 503 and connection failures; raise on an error status."""
        attempt = 0
        relogged = False
        while True:
            if authenticate:
                await self._ensure_login()
            sent = {**(self.auth_headers() if authenticate else {}), **(headers or {})}
            try:
                response = await self._http.request(
                    method, path, params=_query(params), json=json, content=content, headers=sent
                )
            except httpx.TransportError as err:
                wait = self.retry.delay(attempt, None)
                if wait is None or not isinstance(err, httpx.ConnectError):
                    raise ConnectionFailed(f"{self.base_url}: {err!r}") from err
                attempt += 1
                await asleep(wait)
                continue
            if response.status_code in RETRY_STATUSES:
                wait = self.retry.delay(attempt, retry_after_seconds(response))
                if wait is not None:
                    attempt += 1
                    await asleep(wait)
                    continue
            if response.status_code == 401 and self._username is not None and not relogged:
                # The login token expired: log in again once.
                relogged = True
                self.token = None
                continue
            if response.status_code >= 400:
                raise error_from_response(response)
            return response

    async def send(self, method: str, path: str, model: type[M], **kwargs: Any) -> M:
        response = await self.request(method, path, **kwargs)
        return model.model_validate(response.json())

    async def send_json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = await self.request(method, path, **kwargs)
        return response.json()

    @asynccontextmanager
    async def sse(
        self, path: str, *, params: Mapping[str, Any], last_event_id: str | None
    ) -> AsyncIterator[EventSource]:
        """An open SSE response; raises the typed error when the server refuses."""
        await self._ensure_login()
        headers = self.auth_headers()
        if last_event_id is not None:
            headers["Last-Event-ID"] = last_event_id
        try:
            async with aconnect_sse(
                self._http,
                "GET",
                path,
                params=_query(params),
                headers=headers,
                timeout=httpx.Timeout(None, connect=self._http.timeout.connect),
            ) as source:
                if source.response.status_code >= 400:
                    await source.response.aread()
                    raise error_from_response(source.response)
                yield source
        except httpx.TransportError as err:
            raise ConnectionFailed(f"{self.base_url}: {err!r}") from err
