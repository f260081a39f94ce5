"""Routing's Server-Sent Events: an agency's inbox as it fills and changes, each event audited.

Event ids are positions in the agency's change log: `notification` for a new notification
(the whole of it), `change` for a change of state (its summary and what changed).
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import Header, Query, Request
from fastapi.responses import JSONResponse
from fastapi.routing import APIRouter
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.types import Receive, Scope, Send

from services.common.auth import CallerDep, require_role
from services.common.problems import problem_doc, problem_response
from services.common.runtime import RuntimeDep
from services.routing import inbox, views
from services.routing.api import COMMON, MAX_POSITION, READERS, view
from services.routing.inbox import StreamItem
from services.routing.unit_of_work import routing_unit_of_work

router = APIRouter(prefix="/v1", tags=["notifications"])
POLL_SECONDS = 0.5
BATCH = 100
RETRY_AFTER_SECONDS = 10
STREAM_DOCS: dict[int | str, dict[str, Any]] = {
    **COMMON,
    200: {"content": {"text/event-stream": {}}},
    429: problem_doc("The agency has as many streams open as it may; retry after Retry-After."),
}


class OpenStreams:
    """How many inbox streams each agency has open, up to a cap per agency."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self._open: Counter[str] = Counter()

    def open(self, agency: str) -> bool:
        """Count one more stream of the agency, unless it already holds `cap`."""
        if self._open[agency] >= self.cap:
            return False
        self._open[agency] += 1
        return True

    def close(self, agency: str) -> None:
        """One stream of the agency has ended."""
        self._open[agency] -= 1
        if self._open[agency] <= 0:
            del self._open[agency]

    def count(self, agency: str) -> int:
        """The agency's open streams."""
        return self._open[agency]


def open_streams(request: Request) -> OpenStreams:
    """The app's count of open streams (made on first use, with the configured cap)."""
    state = request.app.state
    if getattr(state, "open_streams", None) is None:
        state.open_streams = OpenStreams(getattr(state.settings, "stream_max_per_agency", 20))
    streams: OpenStreams = state.open_streams
    return streams


class CountedEventSourceResponse(EventSourceResponse):
    """A stream that gives its place back when it ends however it ends (a disconnect too)."""

    def __init__(self, *args: Any, streams: OpenStreams, agency: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.streams, self.agency = streams, agency

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Stream, then count the stream closed."""
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.streams.close(self.agency)


@router.get(
    "/notifications/stream",
    responses=STREAM_DOCS,
    response_class=EventSourceResponse,
    response_model=None,
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
) -> EventSourceResponse | JSONResponse:
    """The caller's agency's new notifications and changes as Server-Sent Events; audited.

    Each event's id is its position in the agency's change log: reconnect with `Last-Event-ID`
    (or `?after=`, e.g. a list's `stream_position`) to resume without a gap. An agency holds
    at most STREAM_MAX_PER_AGENCY streams at once.
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

    streams = open_streams(request)
    if not streams.open(caller.agency):
        refused = problem_response(
            429,
            f"The agency already has {streams.cap} streams open; close one or retry later.",
            request=request,
        )
        refused.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return refused
    return CountedEventSourceResponse(events(), ping=15, streams=streams, agency=caller.agency)


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
