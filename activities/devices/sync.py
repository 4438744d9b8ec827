"""The node sync: list Nodes and Pods, write node facts, used-up tokens and CloudCore's
state into the store, so the API answers inventory reads without asking Kubernetes.

One activity does the listing and the writing: ten thousand nodes' facts must not cross
Temporal history (2 MB per payload), and a round is one store transaction, so readers see
one consistent round. Kubernetes calls run in a thread (the client is sync); the activity
heartbeats between pages.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from adapters.kubernetes.client import KubeTarget
from adapters.kubernetes.errors import kube_errors
from adapters.kubernetes.facts import active_pods_by_node, cloudcore_snapshot, node_facts
from adapters.kubernetes.reads import Body, KubeReader, raw_or_none
from store import cloudcore as observed
from store.devices import node_facts as facts_store
from store.devices import tokens
from store.devices.node_facts import NodeFacts
from store.models import utcnow
from workflows.contracts.devices import DevicesActivity, SyncClusterInput, SyncSummary

CLOUDCORE_DEPLOYMENT = "cloudcore"


def read_cloudcore(reader: KubeReader, *, namespace: str) -> Body:
    """CloudCore's Deployment, pods and services in `namespace`, as a snapshot (sync)."""
    with kube_errors(
        action="read", kind="CloudCore", name=CLOUDCORE_DEPLOYMENT, namespace=namespace
    ):
        deployment = raw_or_none(
            reader.apps.read_namespaced_deployment, CLOUDCORE_DEPLOYMENT, namespace
        )
        pods = [
            p
            for page in reader.pages(reader.core.list_namespaced_pod, namespace, page_size=500)
            for p in page
        ]
        services = [
            s
            for page in reader.pages(reader.core.list_namespaced_service, namespace, page_size=500)
            for s in page
        ]
    return cloudcore_snapshot(deployment=deployment, services=services, pods=pods)


class ClusterSyncActivities:
    def __init__(self, *, target: KubeTarget, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._reader = KubeReader(target=target)
        self._sessions = sessions

    @activity.defn(name=DevicesActivity.SYNC_CLUSTER)
    async def sync_cluster(self, inp: SyncClusterInput) -> SyncSummary:
        observed_at = utcnow()
        # Pods first, so that each page of Nodes becomes facts as it arrives: 10,000 Nodes'
        # bodies, as the sandbox serves them, are 46 MB of Python objects and their facts 7.
        by_node: dict[str, list[Body]] = {}
        pods_seen = 0
        pod_pages = self._pages(
            self._reader.core.list_pod_for_all_namespaces, kind="Pod", size=inp.page_size
        )
        async for page in pod_pages:
            for node, active in active_pods_by_node(page).items():
                by_node.setdefault(node, []).extend(active)
            pods_seen += len(page)
        facts: list[NodeFacts] = []
        async for page in self._pages(self._reader.core.list_node, kind="Node", size=inp.page_size):
            facts += [node_facts(node, by_node.get(_name(node), [])) for node in page]
        cloudcore = await asyncio.to_thread(
            read_cloudcore, self._reader, namespace=inp.kubeedge_namespace
        )
        version = await asyncio.to_thread(self._server_version)
        ready_since = [(f.node_name, f.ready_since or observed_at) for f in facts if f.ready]
        async with self._sessions() as session, session.begin():
            await facts_store.apply_node_facts(session, facts=facts, observed_at=observed_at)
            seen = await facts_store.count_seen(session, observed_at=observed_at)
            forgotten = await facts_store.forget_unseen(session, observed_at=observed_at)
            used = await tokens.use_up_tokens(session, now=observed_at, ready_since=ready_since)
            await observed.save_observed(
                session, key=observed.CLOUDCORE, value=cloudcore, observed_at=observed_at
            )
            cluster = {"kubernetes_version": version, "nodes": len(facts), "pods": pods_seen}
            await observed.save_observed(
                session, key=observed.CLUSTER, value=cluster, observed_at=observed_at
            )
        activity.logger.info(
            "node sync: %d nodes, %d pods, %d rows without a node, %d tokens used up",
            len(facts), pods_seen, forgotten, used,
        )  # fmt: skip
        return SyncSummary(
            observed_at=observed_at,
            nodes_seen=len(facts),
            pods_seen=pods_seen,
            devices_updated=seen,
            tokens_used=used,
        )

    async def _pages(self, call: Any, *, kind: str, size: int) -> AsyncIterator[list[Body]]:
        """The list call's items a page at a time, heartbeating the count so far."""
        pages = self._reader.pages(call, page_size=size)
        listed = 0
        with kube_errors(action="list", kind=kind, name="*"):
            while (page := await asyncio.to_thread(next, pages, None)) is not None:
                listed += len(page)
                activity.heartbeat(kind, listed)
                yield page

    def _server_version(self) -> str | None:
        with kube_errors(action="read", kind="version", name="/version"):
            return self._reader.server_version()


def _name(obj: Body) -> str:
    return str((obj.get("metadata") or {}).get("name"))
