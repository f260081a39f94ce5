"""Routing's Server-Sent Events: an agency's inbox as it fills and changes, each event audited.

Event ids are positions in the agency's change log: `notification` for a new notification
(the whole of it), `change` for a change of state (its summary and what changed).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID

from fastapi import Header, Query, Request
from fastapi.routing import APIRouter
from sse_starlette import EventSourceResponse, ServerSentEvent

from services.common.auth import CallerDep, require_role
from services.common.runtime import RuntimeDep
from services.routing import inbox, views
from services.routing.api import COMMON, MAX_POSITION, READERS, view
from services.routing.inbox import StreamItem
from services.routing.unit_of_work import routing_unit_of_work

router = APIRouter(prefix="/v1", tags=["notifications"])
POLL_SECONDS = 0.5
BATCH = 100


@router.get(
    "/notifications/stream",
    responses={**COMMON, 200: {"content": {"text/event-stream": {}}}},
    response_class=EventSourceResponse,
)
async def stream_notifications(
    caller: CallerDep,
    service: RuntimeDep,
    request: Request,
    concern_id: UUID | None = None,
    limit: Annotated[
        int | None, Query(ge=1, le=MAX_POSITION, description="Close after this many.")
    ] = None,
    after: Annotated[
        int | None,
        Query(ge=0, le=MAX_POSITION, description="Resume after this event id (a list's position)."),
    ] = None,
    last_event_id: Annotated[int | None, Header(ge=0, le=MAX_POSITION)] = None,
) -> EventSourceResponse:
    """The caller's agency's new notifications and changes as Server-Sent Events; audited.

    Each event's id is its position in the agency's change log: reconnect with `Last-Event-ID`
    (or `?after=`, e.g. a list's `stream_position`) to resume without a gap.
    """
    require_role(caller, *READERS)
    if last_event_id is None:
        last_event_id = after
    if last_event_id is None:
        last_event_id = await inbox.newest_position(routing_unit_of_work(service))
    start = last_event_id
    correlation_id: str = request.state.correlation_id

    async def events() -> AsyncIterator[ServerSentEvent]:
        position, remaining = start, limit
        while remaining is None or remaining > 0:
            batch = BATCH if remaining is None else min(BATCH, remaining)
            found = await inbox.notifications_after(
                routing_unit_of_work(service), caller, after_seq=position, limit=batch,
                concern_id=concern_id, correlation_id=correlation_id,
            )  # fmt: skip
            for item in found:
                position = item.seq
                yield server_sent_event(item)
            if remaining is not None:
                remaining -= len(found)
            if not found:
                await asyncio.sleep(POLL_SECONDS)

    return EventSourceResponse(events(), ping=15)


def server_sent_event(item: StreamItem) -> ServerSentEvent:
    """A new notification whole, or a change as the notification's summary and the change."""
    if item.is_new:
        return ServerSentEvent(
            data=view(item.stored).model_dump_json(), id=str(item.seq), event="notification"
        )
    row = views.summary(item.stored, now=datetime.now(UTC)).model_dump(mode="json")
    return ServerSentEvent(
        data=json.dumps({**row, "change": item.change}), id=str(item.seq), event="change"
    )
