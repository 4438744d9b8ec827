"""CloudCore contract: the device inventory (`GET /devices`, `GET/DELETE /device/{id}`).

Reads come from the store only (node facts are the worker's, see SyncNodesWorkflow);
removal runs DeviceRemovalWorkflow and answers with what it did.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, status
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from api.core.deps import OperatorUser, SessionDep, SettingsDep, TemporalDep, ViewerUser
from api.core.errors import ApiError
from api.core.listing import (
    LINK_HEADER,
    EncodedItems,
    ListDep,
    encoded_list_response,
)
from api.devices.removal_service import removal_input, removal_outcome, run_details, running_join
from api.devices.schemas import DeviceDetail, DeviceList, device_detail
from store.devices import inventory as devices
from store.models import utcnow
from store.monitoring.detections import day_of, detections_on
from store.monitoring.fleet import average_round_trip_ms
from workflows.contracts.devices import RevokedTokens

router = APIRouter(prefix="/api/kubeedge", tags=["devices"])

# Rows per read of the whole list: few round trips (asyncpg's cursor fetches in two per
# read; 200-row reads made the whole list three times slower), a couple of MB alive.
WHOLE_LIST_ROWS = 1000

DeviceIdPath = Annotated[str, Path(max_length=253, description="The device's device_id")]


class RemovalAnswer(BaseModel):
    status: str = Field(description='"success", or "accepted" with 202 (still removing)')
    message: str
    actions_taken: list[str]
    # ours
    device_id: str
    node_name: str
    join_cancelled: bool
    tokens_revoked: RevokedTokens
    workflow_id: str
    temporal_ui_url: str
    status_url: str = Field(description="The device: a 404 there once the removal is done")


@router.get("/devices", response_model=DeviceList, responses=LINK_HEADER)
async def list_devices(
    request: Request, _user: ViewerUser, session: SessionDep, window: ListDep
) -> Response:
    # The store renders each item's JSON (store/devices/list_json.py): the route joins them.
    now = utcnow()
    items = EncodedItems()
    if window.paged:  # at most MAX_LIMIT items: one statement, one buffer
        page = await devices.list_page(session, offset=window.offset, limit=window.limit, now=now)
        items.add_joined(page.joined, page.count)
        return encoded_list_response(
            request, key="devices", items=items, window=window, total=page.total
        )
    # The whole list: each chunk sent on before the next is read (memory).
    counted: int | None = None
    chunks = devices.list_chunks(
        session, offset=window.offset, limit=window.limit, size=WHOLE_LIST_ROWS, now=now
    )
    async for chunk, chunk_total in chunks:
        items.add_json(chunk)
        counted = chunk_total
    if counted is None:  # no devices at all
        counted = await devices.count_devices(session)
    return encoded_list_response(request, key="devices", items=items, window=window, total=counted)


@router.get("/device/{device_id}", response_model=DeviceDetail)
async def get_device(
    device_id: DeviceIdPath, _user: ViewerUser, session: SessionDep
) -> DeviceDetail:
    row = await devices.get_device(session, device_id=device_id)
    if row is None:
        raise ApiError(404, f"No device {device_id}", details={"device_id": device_id})
    now = utcnow()
    return device_detail(
        row,
        now=now,
        detections_today=await detections_on(session, day=day_of(now), device_id=device_id),
        latency_ms=await average_round_trip_ms(session, device_id=device_id),
    )


@router.delete(
    "/device/{device_id}",
    response_model=RemovalAnswer,
    responses={
        202: {
            "model": RemovalAnswer,
            "description": 'Removal still running: status "accepted"; the same DELETE '
            "attaches to it",
        }
    },
)
async def remove_device(
    device_id: DeviceIdPath,
    _user: OperatorUser,
    session: SessionDep,
    settings: SettingsDep,
    client: TemporalDep,
) -> Any:
    row = await devices.get_device(session, device_id=device_id)
    if row is not None:
        inp = removal_input(
            settings, device_id=row.device_id, node_name=row.node_name, node_id=row.node_id
        )
    else:  # half-joined before its inventory row was written: found through its run
        join = await running_join(client, device_id=device_id)
        if join is None:
            raise ApiError(404, f"No device {device_id}", details={"device_id": device_id})
        inp = removal_input(
            settings, device_id=join.device_id, node_name=join.node_name, node_id=None
        )
    progress, finished = await removal_outcome(client, settings=settings, inp=inp)
    answer = RemovalAnswer(
        status="success" if finished else "accepted",
        message=f"Device {inp.device_id} removed"
        if finished
        else f"Removal of device {inp.device_id} is still running ({progress.stage})",
        actions_taken=progress.actions_taken,
        device_id=inp.device_id,
        node_name=inp.node_name,
        join_cancelled=progress.join_cancelled,
        tokens_revoked=progress.tokens_revoked,
        **run_details(settings, inp.device_id),
        status_url=f"/api/kubeedge/device/{inp.device_id}",
    )
    if not finished:
        return JSONResponse(answer.model_dump(mode="json"), status_code=status.HTTP_202_ACCEPTED)
    return answer
