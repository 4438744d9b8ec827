"""Per-phase wall times of a workflow run, read from its history after it closed.

Each activity counts from its scheduling to its close (the wait for a worker slot
included), each child workflow from its initiation to its close; repeated activities of
one type add up. `workflow` is the rest: from the run's start to its close, the time
spent between those steps (workflow tasks, timers, the server's round trips).
"""

from __future__ import annotations

from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client

_ACTIVITY_CLOSED = {
    EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED: "activity_task_completed_event_attributes",
    EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED: "activity_task_failed_event_attributes",
    EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT: "activity_task_timed_out_event_attributes",
    EventType.EVENT_TYPE_ACTIVITY_TASK_CANCELED: "activity_task_canceled_event_attributes",
}
_CHILD_CLOSED = {
    EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_COMPLETED: (
        "child_workflow_execution_completed_event_attributes"
    ),
    EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_FAILED: (
        "child_workflow_execution_failed_event_attributes"
    ),
}


def _seconds(event: HistoryEvent) -> float:
    return event.event_time.ToMicroseconds() / 1e6


async def phase_seconds(client: Client, workflow_id: str) -> dict[str, float]:
    """{step: seconds} in the order the steps closed, then `workflow` and `total`."""
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    events = list(history.events)
    by_id = {event.event_id: event for event in events}
    phases: dict[str, float] = {}
    for event in events:
        if event.event_type in _ACTIVITY_CLOSED:
            attributes = getattr(event, _ACTIVITY_CLOSED[event.event_type])
            scheduled = by_id[attributes.scheduled_event_id]
            name = scheduled.activity_task_scheduled_event_attributes.activity_type.name
        elif event.event_type in _CHILD_CLOSED:
            attributes = getattr(event, _CHILD_CLOSED[event.event_type])
            scheduled = by_id[attributes.initiated_event_id]
            name = "child:" + attributes.workflow_type.name
        else:
            continue
        phases[name] = phases.get(name, 0.0) + _seconds(event) - _seconds(scheduled)
    total = _seconds(events[-1]) - _seconds(events[0])
    phases["workflow"] = total - sum(phases.values())
    phases["total"] = total
    return {name: round(seconds, 2) for name, seconds in phases.items()}
