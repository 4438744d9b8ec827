"""Alerts, webhooks, maintenance, configuration, health and apps (CloudCore contract)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from ..models import (
    AlertList,
    AlertView,
    AppItem,
    AppList,
    CloudCoreHealth,
    CloudCoreStatus,
    ConfigAnswer,
    ConfigUpdated,
    Deleted,
    DeliveryList,
    DeliveryOut,
    DeliveryStarted,
    DeployApp,
    Deployed,
    FleetSummary,
    MaintenanceView,
    RuleList,
    RuleSpec,
    RuleView,
    WebhookAnswer,
    WebhookCreate,
    WebhookCreated,
    WebhookList,
    WebhookOut,
    WebhookUpdate,
)
from .base import AsyncBase, body_of

MAINTENANCE = "/api/kubeedge/maintenance"


class AsyncOperations(AsyncBase):
    async def iter_alerts(
        self, *, state: str | None = None, device_id: str | None = None
    ) -> AsyncIterator[AlertView]:
        params = {"state": state, "device_id": device_id}
        async for item in self._pages("/api/kubeedge/alerts", AlertList, "alerts", params):
            yield item

    async def list_alerts(
        self, *, state: str | None = None, device_id: str | None = None
    ) -> list[AlertView]:
        return [item async for item in self.iter_alerts(state=state, device_id=device_id)]

    async def acknowledge_alert(self, alert_id: int | str) -> AlertView:
        return await self._t.send("POST", f"/api/kubeedge/alerts/{alert_id}/acknowledge", AlertView)

    async def list_alert_rules(self) -> list[RuleView]:
        answer = await self._t.send("GET", "/api/kubeedge/alerts/rules", RuleList)
        return list(answer.rules)

    async def put_alert_rule(
        self, name: str, *, body: RuleSpec | None = None, **fields: Any
    ) -> RuleView:
        data = body_of(body, fields)
        return await self._t.send("PUT", f"/api/kubeedge/alerts/rules/{name}", RuleView, json=data)

    async def create_webhook(
        self,
        url: str,
        events: list[str],
        secret: str,
        *,
        body: WebhookCreate | None = None,
        **fields: Any,
    ) -> WebhookCreated:
        data = body_of(body, {"url": url, "events": events, "secret": secret, **fields})
        return await self._t.send("POST", "/api/kubeedge/webhooks", WebhookCreated, json=data)

    async def list_webhooks(self) -> list[WebhookOut]:
        return [
            item async for item in self._pages("/api/kubeedge/webhooks", WebhookList, "webhooks")
        ]

    async def get_webhook(self, webhook_id: str) -> WebhookOut:
        return await self._t.send("GET", f"/api/kubeedge/webhooks/{webhook_id}", WebhookOut)

    async def update_webhook(
        self, webhook_id: str, *, body: WebhookUpdate | None = None, **fields: Any
    ) -> WebhookAnswer:
        data = body_of(body, fields)
        return await self._t.send(
            "PUT", f"/api/kubeedge/webhooks/{webhook_id}", WebhookAnswer, json=data
        )

    async def delete_webhook(self, webhook_id: str) -> Deleted:
        return await self._t.send("DELETE", f"/api/kubeedge/webhooks/{webhook_id}", Deleted)

    async def test_webhook(self, webhook_id: str) -> DeliveryStarted:
        return await self._t.send(
            "POST", f"/api/kubeedge/webhooks/{webhook_id}/test", DeliveryStarted
        )

    async def list_webhook_deliveries(self, webhook_id: str) -> list[DeliveryOut]:
        path = f"/api/kubeedge/webhooks/{webhook_id}/deliveries"
        return [item async for item in self._pages(path, DeliveryList, "deliveries")]

    async def redeliver_webhook(self, webhook_id: str, delivery_id: str) -> DeliveryStarted:
        path = f"/api/kubeedge/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver"
        return await self._t.send("POST", path, DeliveryStarted)

    async def start_maintenance(
        self, reason: str, duration_minutes: int, message: str | None = None
    ) -> MaintenanceView:
        """Open a window: writes are refused (503) until it is stopped or ends by itself.

        `status` is "accepted" when the window did not answer in time; it opens anyway."""
        data = body_of(
            None, {"reason": reason, "duration_minutes": duration_minutes, "message": message}
        )
        return await self._t.send("POST", f"{MAINTENANCE}/start", MaintenanceView, json=data)

    async def stop_maintenance(self) -> MaintenanceView:
        return await self._t.send("POST", f"{MAINTENANCE}/stop", MaintenanceView)

    async def maintenance_status(self) -> MaintenanceView:
        return await self._t.send("GET", f"{MAINTENANCE}/status", MaintenanceView)

    async def get_config(self) -> ConfigAnswer:
        return await self._t.send("GET", "/api/kubeedge/config", ConfigAnswer)

    async def update_config(self, **fields: Any) -> ConfigUpdated:
        return await self._t.send(
            "PUT", "/api/kubeedge/config", ConfigUpdated, json=body_of(None, fields)
        )

    async def health(self) -> CloudCoreHealth:
        return await self._t.send("GET", "/api/health", CloudCoreHealth)

    async def cloudcore_status(self) -> CloudCoreStatus:
        return await self._t.send("GET", "/api/kubeedge/cloudcore/status", CloudCoreStatus)

    async def fleet_summary(self) -> FleetSummary:
        return await self._t.send("GET", "/api/kubeedge/metrics", FleetSummary)

    async def deploy_app(self, *, body: DeployApp | None = None, **fields: Any) -> Deployed:
        data = body_of(body, fields)
        return await self._t.send("POST", "/api/kubeedge/apps/deploy", Deployed, json=data)

    async def list_apps(self) -> list[AppItem]:
        return [item async for item in self._pages("/api/kubeedge/apps", AppList, "apps")]
