"""CloudCore's Deployment and Service: read, apply, watch the rollout, restore, snapshot.

Sync activities (the kubernetes client is sync) run in the worker's thread pool; the
snapshot is async because it also writes the store. Creating is create-or-update: on 409
the existing Deployment is patched (also one keadm installed: managing CloudCore is what
this endpoint is for). An existing Service is left exactly as it is: its node ports are
what every edge node was told to connect to.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from kubernetes.client.exceptions import ApiException
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from activities.devices.sync import read_cloudcore
from adapters.kubernetes.client import MERGE_PATCH, REQUEST_TIMEOUT, KubeTarget
from adapters.kubernetes.cloudcore_manifests import (
    NAME,
    deployment_body,
    image_for,
    is_ours,
    resources_for,
    rollout_state,
    service_body,
    set_container_patch,
    state_of,
)
from adapters.kubernetes.errors import ignore_status, kube_errors
from adapters.kubernetes.reads import KubeReader, raw, raw_or_none
from store import cloudcore as observed
from store.models import utcnow
from workflows.contracts.cloudcore import (
    CloudCoreActivity,
    CloudCoreApplyInput,
    CloudCoreRestoreInput,
    CloudCoreRolloutState,
    CloudCoreState,
    CloudCoreTarget,
)


class CloudCoreActivities:
    def __init__(self, *, target: KubeTarget, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._reader = KubeReader(target=target)
        self._apps = self._reader.apps
        self._core = self._reader.core
        self._sessions = sessions

    @activity.defn(name=CloudCoreActivity.READ_CLOUDCORE)
    def read_cloudcore(self, target: CloudCoreTarget) -> CloudCoreState:
        ns = target.namespace
        with kube_errors(action="read", kind="Deployment", name=NAME, namespace=ns):
            deployment = raw_or_none(self._apps.read_namespaced_deployment, NAME, ns)
        with kube_errors(action="read", kind="Service", name=NAME, namespace=ns):
            service = raw_or_none(self._core.read_namespaced_service, NAME, ns)
        return state_of(deployment, service_exists=service is not None)

    @activity.defn(name=CloudCoreActivity.APPLY_CLOUDCORE)
    def apply_cloudcore(self, inp: CloudCoreApplyInput) -> None:
        target, ns = inp.target, inp.target.namespace
        with kube_errors(action="apply", kind="Deployment", name=NAME, namespace=ns):
            try:
                self._apps.create_namespaced_deployment(
                    ns, deployment_body(target, inp.spec), _request_timeout=REQUEST_TIMEOUT
                )
                activity.logger.info("Created Deployment %s/%s", ns, NAME)
            except ApiException as exc:
                if exc.status != 409:
                    raise
                existing = raw(self._apps.read_namespaced_deployment, NAME, ns)
                patch = set_container_patch(
                    existing,
                    image=image_for(target, inp.spec),
                    replicas=inp.spec.replicas,
                    resources=resources_for(inp.spec) or None,
                )
                self._patch(ns, patch)
                activity.logger.info("Updated Deployment %s/%s", ns, NAME)
        with kube_errors(action="apply", kind="Service", name=NAME, namespace=ns):
            try:
                self._core.create_namespaced_service(
                    ns, service_body(target), _request_timeout=REQUEST_TIMEOUT
                )
                activity.logger.info("Created Service %s/%s", ns, NAME)
            except ApiException as exc:
                if exc.status != 409:
                    raise

    @activity.defn(name=CloudCoreActivity.READ_CLOUDCORE_ROLLOUT)
    def read_cloudcore_rollout(self, inp: CloudCoreApplyInput) -> CloudCoreRolloutState:
        ns = inp.target.namespace
        with kube_errors(action="read", kind="Deployment", name=NAME, namespace=ns):
            deployment = raw_or_none(self._apps.read_namespaced_deployment, NAME, ns)
        return rollout_state(deployment, desired=inp.spec.replicas)

    @activity.defn(name=CloudCoreActivity.RESTORE_CLOUDCORE)
    def restore_cloudcore(self, inp: CloudCoreRestoreInput) -> None:
        """Put back what was there before the deploy; delete what the deploy created."""
        ns, previous = inp.target.namespace, inp.previous
        with kube_errors(action="restore", kind="Deployment", name=NAME, namespace=ns):
            current = raw_or_none(self._apps.read_namespaced_deployment, NAME, ns)
            if current is not None and not previous.deployment_existed:
                self._delete_if_ours(current, self._apps.delete_namespaced_deployment, ns)
            elif current is not None:
                patch = set_container_patch(
                    current,
                    image=previous.image,
                    replicas=previous.replicas,
                    resources=previous.resources,
                )
                self._patch(ns, patch)
                activity.logger.info("Restored Deployment %s/%s", ns, NAME)
        if not previous.service_existed:
            with kube_errors(action="restore", kind="Service", name=NAME, namespace=ns):
                service = raw_or_none(self._core.read_namespaced_service, NAME, ns)
                if service is not None:
                    self._delete_if_ours(service, self._core.delete_namespaced_service, ns)

    @activity.defn(name=CloudCoreActivity.SNAPSHOT_CLOUDCORE)
    async def snapshot_cloudcore(self, target: CloudCoreTarget) -> None:
        """Record what CloudCore looks like now, for GET /api/kubeedge/cloudcore/status."""
        observed_at = utcnow()  # before the read: see store.cloudcore.save_observed
        snapshot = await asyncio.to_thread(read_cloudcore, self._reader, namespace=target.namespace)
        async with self._sessions() as session, session.begin():
            await observed.save_observed(
                session, key=observed.CLOUDCORE, value=snapshot, observed_at=observed_at
            )

    def _patch(self, namespace: str, patch: dict[str, Any]) -> None:
        self._apps.patch_namespaced_deployment(
            NAME, namespace, patch, _content_type=MERGE_PATCH, _request_timeout=REQUEST_TIMEOUT
        )

    def _delete_if_ours(
        self, obj: dict[str, Any], delete: Callable[..., Any], namespace: str
    ) -> None:
        if not is_ours(obj):  # created by someone else meanwhile: not ours to remove
            activity.logger.warning(
                "Left %s %s/%s alone: not ours", obj.get("kind"), namespace, NAME
            )
            return
        with ignore_status(404):
            delete(NAME, namespace, _request_timeout=REQUEST_TIMEOUT)
        activity.logger.info("Deleted %s %s/%s (rollback)", obj.get("kind"), namespace, NAME)
