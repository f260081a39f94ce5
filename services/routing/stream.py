"""Routing's Server-Sent Events: a caseworker's inbox as it fills, each notification audited."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated
from uuid import UUID

from fastapi import Header, Query, Request
from fastapi.routing import APIRouter
from sse_starlette import EventSourceResponse, ServerSentEvent

from schemas.v1 import AuditAction
from services.common.auth import Caller, CallerDep, require_role
from services.common.outbox import enqueue_all
from services.common.runtime import RuntimeDep, ServiceRuntime
from services.routing import store
from services.routing.api import COMMON, READERS, _audit, view

router = APIRouter(prefix="/v1", tags=["notifications"])
POLL_SECONDS = 0.5
BATCH = 100


async def _next_batch(
    request: Request,
    caller: Caller,
    service: ServiceRuntime,
    *,
    after_seq: int,
    limit: int,
    concern_id: UUID | None,
) -> list[store.StoredNotification]:
    async with service.unit_of_work() as uow:
        found = await store.list_notifications_after(
            uow.session, agency=caller.agency, after_seq=after_seq, limit=limit,
            concern_id=concern_id,
        )  # fmt: skip
        if found:
            await enqueue_all(
                uow.session,
                service.outbox,
                [_audit(request, caller, AuditAction.NOTIFICATION_LISTED, notification=n,
                        fields=n.notification.disclosed_fields, details={"via": "stream"})
                 for n in found],
            )  # fmt: skip
            await uow.commit()
    if found:
        service.relay.wake()
    return found


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
        async with service.unit_of_work() as uow:
            last_event_id = await store.last_seq(uow.session)
    start = last_event_id

    async def events() -> AsyncIterator[ServerSentEvent]:
        after, remaining = start, limit
        while remaining is None or remaining > 0:
            batch = BATCH if remaining is None else min(BATCH, remaining)
            found = await _next_batch(
                request, caller, service, after_seq=after, limit=batch, concern_id=concern_id
            )
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
