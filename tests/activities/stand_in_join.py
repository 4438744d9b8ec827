"""A stand-in for a join waiting for its node (in a module of its own: the workflow
sandbox re-imports it and must find nothing but temporalio here)."""

from __future__ import annotations

import asyncio

from temporalio import workflow


@workflow.defn(name="StandInJoin")
class StandInJoin:
    """Waits forever; on cancel it takes (workflow) time to undo itself, like the join."""

    def __init__(self) -> None:
        self.undone = False

    @workflow.run
    async def run(self) -> None:
        try:
            await workflow.wait_condition(lambda: False)
        except asyncio.CancelledError:
            await workflow.sleep(3)
            self.undone = True
            raise

    @workflow.query
    def was_undone(self) -> bool:
        return self.undone
