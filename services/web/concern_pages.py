"""The referrer's pages: the concerns an agency raised, how far each recipient got, feedback."""

from __future__ import annotations

from collections import defaultdict
from uuid import UUID

from fastapi import APIRouter, Request, Response

from schemas.v1 import ConcernStatusView, NotificationPage
from schemas.v1.api import ConcernStatusPage, NotificationSummary
from services.web.context import WebContext
from services.web.page_kit import READERS, SessionDep, WebDep, correlation, need, page
from services.web.session import Session

router = APIRouter(include_in_schema=False)
PAGE_SIZE = "20"
FEEDBACK_PAGE = "200"


async def _feedback(
    request: Request, context: WebContext, session: Session, concern_id: UUID | None = None
) -> dict[UUID, list[NotificationSummary]]:
    # The feedback notifications routed back to this agency, by the concern they report on.
    params = {"kind": "feedback", "limit": FEEDBACK_PAGE}
    if concern_id is not None:
        params["concern_id"] = str(concern_id)
    found = await context.upstream.call(context.upstream.routing, "GET", "/v1/notifications",
                                        answer=NotificationPage, token=session.token,
                                        params=params,
                                        correlation_id=correlation(request))  # fmt: skip
    by_concern: dict[UUID, list[NotificationSummary]] = defaultdict(list)
    for item in found.items:
        by_concern[item.concern_id].append(item)
    return by_concern


@router.get("/concerns")
async def concerns(
    request: Request, context: WebDep, session: SessionDep, cursor: str | None = None
) -> Response:
    """The concerns this agency raised, newest first, each recipient's progress and feedback."""
    need(session, *READERS)
    params = {"limit": PAGE_SIZE, **({"cursor": cursor} if cursor else {})}
    found = await context.upstream.call(context.upstream.intake, "GET", "/v1/concerns",
                                        answer=ConcernStatusPage, token=session.token,
                                        params=params,
                                        correlation_id=correlation(request))  # fmt: skip
    feedback = await _feedback(request, context, session)
    return page(request, "concerns.html", session, concerns=found.items, feedback=feedback,
                next_cursor=found.next_cursor)  # fmt: skip


@router.get("/concerns/{concern_id}")
async def concern(
    concern_id: UUID, request: Request, context: WebDep, session: SessionDep
) -> Response:
    """One concern this agency raised: where it went, what each recipient has done."""
    need(session, *READERS)
    found = await context.upstream.call(context.upstream.intake, "GET",
                                        f"/v1/concerns/{concern_id}",
                                        answer=ConcernStatusView, token=session.token,
                                        correlation_id=correlation(request))  # fmt: skip
    feedback = await _feedback(request, context, session, concern_id)
    return page(request, "concern.html", session, c=found, feedback=feedback)
