"""Join-token activities: mint a per-node token from the cluster CA, record its hash, revoke."""

from __future__ import annotations

import asyncio
import time
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from adapters.kubernetes.kubeedge_token import mint_join_token
from store.devices import tokens
from store.sealing import seal
from store.settings import Settings
from workflows.contracts.devices import DevicesActivity, IssueNodeTokenInput
from workflows.contracts.join import IssuedJoinToken, IssueJoinTokenInput, JoinActivity, TokenRef


class ClusterCA(Protocol):
    def read_cluster_ca(self, namespace: str) -> tuple[bytes, bytes]: ...


# CloudCore's CA changes only when an operator rotates it; reading the Secret for every
# token was one more Kubernetes round trip per join. A rotation reaches new tokens within
# this many seconds.
CA_CACHE_SECONDS = 30.0


class TokenActivities:
    def __init__(
        self,
        *,
        settings: Settings,
        sessions: async_sessionmaker[AsyncSession],
        cluster_ca: ClusterCA,
    ) -> None:
        self._settings = settings
        self._sessions = sessions
        self._cluster_ca = cluster_ca
        self._ca_cache: dict[str, tuple[float, tuple[bytes, bytes]]] = {}

    @activity.defn(name=JoinActivity.ISSUE_JOIN_TOKEN)
    async def issue_join_token(self, inp: IssueJoinTokenInput) -> IssuedJoinToken:
        return await self.issue_node_token(IssueNodeTokenInput.model_validate(inp.model_dump()))

    @activity.defn(name=DevicesActivity.ISSUE_NODE_TOKEN)
    async def issue_node_token(self, inp: IssueNodeTokenInput) -> IssuedJoinToken:
        """A join token for any node, also one no device is recorded for (token/generate)."""
        cadata, cakeydata = await self._read_cluster_ca(inp.kubeedge_namespace)
        token = mint_join_token(
            cadata=cadata,
            cakeydata=cakeydata,
            node_name=inp.node_name,
            token_id=inp.token_id,
            expires_at=inp.expires_at,
        )
        async with self._sessions() as session, session.begin():
            await tokens.record_token(
                session,
                token_id=inp.token_id,
                token=token,
                node_name=inp.node_name,
                device_id=inp.device_id,
                expires_at=inp.expires_at,
                description=inp.description,
            )
        activity.logger.info("issued join token %s for node %s", inp.token_id, inp.node_name)
        return IssuedJoinToken(
            token_id=inp.token_id,
            sealed_token=seal(self._settings, token),
            expires_at=inp.expires_at,
        )

    async def _read_cluster_ca(self, namespace: str) -> tuple[bytes, bytes]:
        cached = self._ca_cache.get(namespace)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        ca = await asyncio.to_thread(self._cluster_ca.read_cluster_ca, namespace)
        self._ca_cache[namespace] = (time.monotonic() + CA_CACHE_SECONDS, ca)
        return ca

    @activity.defn(name=JoinActivity.REVOKE_JOIN_TOKEN)
    async def revoke_join_token(self, inp: TokenRef) -> None:
        async with self._sessions() as session, session.begin():
            changed = await tokens.revoke_token(session, token_id=inp.token_id)
        activity.logger.info("join token %s revoked (changed=%s)", inp.token_id, changed)
