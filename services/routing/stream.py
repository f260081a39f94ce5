"""Routing's Server-Sent Events: a caseworker's inbox as it fills, each notification audited."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated
from uuid import UUID

from fastapi import Header, Query, Request
from fastapi.routing import APIRouter
from sse_starlette import EventSourceResponse, ServerSentEvent

from services.common.auth import CallerDep, require_role
from services.common.runtime import RuntimeDep
from services.routing import inbox
from services.routing.api import COMMON, READERS, view
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
    limit: Annotated[int | None, Query(ge=1, description="Close after this many.")] = None,
    last_event_id: Annotated[int | None, Header(ge=0)] = None,
) -> EventSourceResponse:
    """The caller's agency's new notifications as Server-Sent Events; each one sent is audited.

    Each event's id is its position in the inbox: reconnect with `Last-Event-ID` to resume.
    """
    require_role(caller, *READERS)
    if last_event_id is None:
        last_event_id = await inbox.newest_position(routing_unit_of_work(service))
    start = last_event_id
    correlation_id: str = request.state.correlation_id

    async def events() -> AsyncIterator[ServerSentEvent]:
        after, remaining = start, limit
        while remaining is None or remaining > 0:
            batch = BATCH if remaining is None else min(BATCH, remaining)
            found = await inbox.notifications_after(
                routing_unit_of_work(service), caller, after_seq=after, limit=batch,
                concern_id=concern_id, correlation_id=correlation_id,
            )  # fmt: skip
            for stored in found:
                after = stored.seq
                yield ServerSentEvent(
                    data=view(stored).model_dump_json(), id=str(stored.seq), event="notification"
                )
            if remaining is not None:
                remaining -= len(found)
            if not found:
                await asyncio.sleep(POLL_SECONDS)

    return EventSourceResponse(events(), ping=15)
