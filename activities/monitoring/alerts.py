"""The alert evaluation activity: one round in one transaction, then its transitions out.

Transitions go out after the commit, on `cloudcore/alerts` (QoS 1), as `alert` events
on the bus (SSE, WebSocket) and to the webhooks subscribed to `alert`. A publish or a
webhook start that fails is logged, not retried: the store holds the alert either way,
and a retry would evaluate again rather than resend.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from activities.webhooks.emitter import WebhookEmitter
from adapters.mqtt.events import EventSink, event_payload
from adapters.mqtt.publisher import MqttPublisher
from store.models import utcnow
from store.monitoring import alerts
from workflows.contracts.live import ALERTS_TOPIC, EventType
from workflows.contracts.monitoring import (
    AlertRound,
    AlertTransition,
    EvaluateAlertsInput,
    MonitoringActivity,
)
from workflows.contracts.webhooks import WebhookEvent

# The device views' rule: reported over the Edge API this recently means online.
ONLINE_WINDOW = timedelta(minutes=2)


def alert_fields(transition: AlertTransition) -> dict[str, Any]:
    """The seed's alert event (`level`, `message`) with what identifies the alert."""
    verb = "firing" if transition.state == alerts.FIRING else "resolved"
    return {
        "level": transition.severity,
        "message": f"{transition.device_id}: {transition.rule} {verb}: {transition.message}",
        "alert_id": transition.alert_id,
        "rule": transition.rule,
        "state": transition.state,
        "device_id": transition.device_id,
        "node_name": transition.node_name,
        "value": transition.value,
    }


class AlertActivities:
    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        publisher: MqttPublisher,
        events: EventSink,
        webhooks: WebhookEmitter | None = None,
    ) -> None:
        self._sessions = sessions
        self._publisher = publisher
        self._events = events
        self._webhooks = webhooks

    @activity.defn(name=MonitoringActivity.EVALUATE_ALERTS)
    async def evaluate_alerts(self, inp: EvaluateAlertsInput) -> AlertRound:
        async with self._sessions() as session, session.begin():
            changed = await alerts.evaluate(
                session,
                now=utcnow(),
                fresh_for=timedelta(seconds=inp.fresh_seconds),
                online_window=ONLINE_WINDOW,
            )
        transitions = [AlertTransition(**vars(change)) for change in changed]
        for transition in transitions:
            fields = alert_fields(transition)
            self._events.emit(EventType.ALERT, fields)
            try:
                await self._publisher.publish(
                    ALERTS_TOPIC, event_payload(EventType.ALERT, fields, at=transition.at)
                )
            except Exception:  # the store has it; subscribers miss this one message
                activity.logger.exception("could not publish alert %d", transition.alert_id)
            if self._webhooks is None:
                continue
            try:
                await self._webhooks.emit(
                    WebhookEvent.ALERT,
                    key=f"{transition.alert_id}:{transition.state}",
                    data=fields,
                    at=transition.at,
                )
            except Exception:  # as above: the alert stays in the store and the API
                activity.logger.exception(
                    "could not send alert %d to webhooks", transition.alert_id
                )
        return AlertRound(transitions=transitions)
