"""Tell the workflows what the devices said: command results, devices back online.

Command results must not be lost, so the bridge acknowledges a result message only once
its signal is delivered (or the result is recorded as late), and takes it only for a
command recorded for the device that sent it; a failing Temporal or store
is retried with backoff meanwhile. An error no retry can mend (Temporal refusing the
payload) is final: the run gets a short failure in the result's place, and a result
that cannot be delivered even so is logged, counted and given up, so that it does not
hold its place in the broker's window for ever. Signals about presence are hints (the
workflows also poll), so their failures are only logged.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from adapters.mqtt.events import EventSink
from store import commands
from store.devices import presence
from workflows.contracts.commands import (
    COMMAND_DEVICE_ONLINE_SIGNAL,
    COMMAND_RESULT_SIGNAL,
    DeviceResult,
    command_workflow_id,
)
from workflows.contracts.join import JOIN_NODE_READY_SIGNAL, device_join_workflow_id
from workflows.contracts.live import EventType

log = logging.getLogger(__name__)

# What Temporal answers for a request it will never take, whatever the retries: a payload
# over its blob limit, an ID it cannot use.
_REFUSED = (RPCStatusCode.INVALID_ARGUMENT, RPCStatusCode.OUT_OF_RANGE)


class WorkflowSignals:
    def __init__(
        self,
        *,
        client: Client,
        sessions: async_sessionmaker[AsyncSession],
        events: EventSink,
        max_backoff: float = 10.0,
    ) -> None:
        self._client = client
        self._sessions = sessions
        self._events = events
        self._max_backoff = max_backoff
        self.results = 0
        self.late_results = 0
        self.undeliverable = 0
        self.refused = 0

    async def deliver_result(self, result: DeviceResult) -> None:
        """Signal the command's run; a run that is over gets the answer recorded as late.

        Returns once delivered or given up for good; retries only what may yet succeed.
        """
        delay = 0.2
        substituted = False
        while True:
            try:
                await self._deliver(result)
                return
            except Exception as err:
                if not is_permanent(err):  # Temporal or the store away: the result must wait
                    log.warning(
                        "could not deliver result of %s (%s); retrying", result.command_id, err
                    )
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, self._max_backoff)
                    continue
                reason = _reason(err)
                if substituted:  # the short failure was refused too: nothing smaller to send
                    self.undeliverable += 1
                    log.error(
                        "result of %s from %s given up: %s",
                        result.command_id,
                        result.device_id,
                        reason,
                    )
                    return
                log.warning(
                    "result of %s from %s refused (%s); passing on a failure instead",
                    result.command_id,
                    result.device_id,
                    reason,
                )
                substituted = True
                result = result.model_copy(
                    update={
                        "success": False,
                        "result": None,
                        "error": f"result could not be delivered: {reason}",
                    }
                )

    async def _deliver(self, result: DeviceResult) -> None:
        async with self._sessions() as session:
            allowed = await commands.answerable_by(
                session, command_id=result.command_id, device_id=result.device_id
            )
        if not allowed:
            # The topic proves the sender (the broker lets a device publish on its own
            # topics only), but not that the command is its own: another device's
            # command ID in its own result must not answer that command.
            self.refused += 1
            log.warning(
                "result of %s from %s dropped: %s",
                result.command_id,
                result.device_id,
                "not a command of this device" if allowed is False else "no such command",
            )
            return
        handle = self._client.get_workflow_handle(command_workflow_id(result.command_id))
        try:
            await handle.signal(COMMAND_RESULT_SIGNAL, result)
            self.results += 1
            return
        except RPCError as err:
            if err.status != RPCStatusCode.NOT_FOUND:
                raise
        # The run is closed (or never existed): keep the answer beside the final state.
        async with self._sessions() as session, session.begin():
            recorded = await commands.record_late_result(
                session, command_id=result.command_id, result=result
            )
        if recorded:
            self.late_results += 1
            self._events.emit(
                EventType.COMMAND_RESULT,
                {
                    "command_id": result.command_id,
                    "device_id": result.device_id,
                    "late": True,
                    "success": result.success,
                    "result": result.result,
                    "error": result.error,
                },
            )
        else:
            log.info("result for unknown command %s dropped", result.command_id)

    async def devices_online(self, device_ids: Sequence[str]) -> None:
        """Wake the joins waiting for these nodes and the commands queued for them."""
        async with self._sessions() as session:
            joins = await presence.joins_waiting(session, device_ids=device_ids)
            queued = await commands.queued_for_devices(session, device_ids=device_ids)
        targets = [(device_join_workflow_id(d), JOIN_NODE_READY_SIGNAL) for d in joins]
        targets += [(command_workflow_id(c), COMMAND_DEVICE_ONLINE_SIGNAL) for c, _ in queued]
        await asyncio.gather(*(self._hint(wf, signal) for wf, signal in targets))

    async def _hint(self, workflow_id: str, signal: str) -> None:
        try:
            await self._client.get_workflow_handle(workflow_id).signal(signal)
        except RPCError as err:
            if err.status != RPCStatusCode.NOT_FOUND:
                log.warning("signal %s to %s failed: %s", signal, workflow_id, err)


def is_permanent(err: BaseException) -> bool:
    """True for an error a retry of the same delivery cannot mend."""
    if isinstance(err, RPCError):
        return err.status in _REFUSED
    # A value the data converter or the store cannot take as it is.
    return isinstance(err, TypeError | ValueError | DataError | IntegrityError)


def _reason(err: BaseException) -> str:
    text = err.message if isinstance(err, RPCError) else str(err)
    return (text or type(err).__name__)[:200]
