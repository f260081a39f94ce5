"""Routing's HTTP routes: an agency's inbox of notifications: list, open, acknowledge."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status

from schemas.v1 import (
    NotificationKind,
    NotificationPage,
    NotificationStatus,
    NotificationView,
    Severity,
)
from schemas.v1.api import DecisionCodeView
from services.common.auth import CallerDep, Role, require_role
from services.common.problems import problem_doc
from services.common.runtime import RuntimeDep
from services.partnership import Partnership
from services.partnership.holder import PartnershipHolder
from services.routing import inbox, views
from services.routing.decision_policy import can_be_decided
from services.routing.inbox import InboxFilters, NotificationNotFound
from services.routing.state import DecisionRecord, StoredNotification
from services.routing.unit_of_work import RoutingUnitOfWork, routing_unit_of_work

router = APIRouter(prefix="/v1", tags=["notifications"])
READERS = (Role.CASEWORKER, Role.AGENCY_SYSTEM)


COMMON: dict[int | str, dict[str, Any]] = {
    401: problem_doc("Missing, expired or forged bearer token."),
    403: problem_doc("The role may not read notifications."),
    503: problem_doc("The database is unreachable for a moment; retry."),
}
NOT_FOUND = problem_doc("No such notification for the caller's agency.")
LISTED: dict[int | str, dict[str, Any]] = {
    **COMMON,
    400: problem_doc("The cursor is not one a page of this listing gave."),
}
# Positions are PostgreSQL bigints; a cursor is the base64 of one (a worklist's with a `w`).
MAX_POSITION = 2**63 - 1
MAX_CURSOR = 40


def codes_for(stored: StoredNotification, partnership: Partnership) -> list[DecisionCodeView]:
    """The decisions the recipient may record on this notification (none on feedback)."""
    if not can_be_decided(stored.notification):
        return []
    agency = stored.notification.recipient_agency
    return [
        DecisionCodeView(code=c.code, label=c.label) for c in partnership.decision_codes(agency)
    ]


def view(
    stored: StoredNotification,
    *,
    partnership: Partnership | None = None,
    decisions: Sequence[DecisionRecord] = (),
) -> NotificationView:
    """A stored notification as its recipient sees it on opening it."""
    codes = codes_for(stored, partnership) if partnership else []
    return views.detail(stored, now=datetime.now(UTC), decisions=decisions, codes=codes)


def partnership_of(request: Request) -> Partnership:
    """The partnership in force now (a changed file is picked up without a restart)."""
    holder: PartnershipHolder = request.app.state.partnership_holder
    return holder.current


PartnershipDep = Annotated[Partnership, Depends(partnership_of)]


async def routing_uow(service: RuntimeDep) -> RoutingUnitOfWork:
    """A unit of work on routing's database for this request."""
    return routing_unit_of_work(service)


RoutingUowDep = Annotated[RoutingUnitOfWork, Depends(routing_uow)]


def request_correlation_id(request: Request) -> str:
    """The correlation id the middleware gave this request."""
    value: str = request.state.correlation_id
    return value


def _cursor(position: int, *, worklist: bool = False) -> str:
    # Newest first pages on from a seq; a worklist (whose order moves with the clock) by offset.
    text = f"w{position}" if worklist else str(position)
    return base64.urlsafe_b64encode(text.encode()).decode()


def _position(cursor: str | None, *, worklist: bool) -> int | None:
    if cursor is None:
        return None
    try:
        if len(cursor) > MAX_CURSOR:
            raise ValueError("longer than any cursor a page gives")
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
        if text.startswith("w") != worklist:
            raise ValueError("a cursor of another order")
        position = int(text.removeprefix("w"))
        if not 0 <= position <= MAX_POSITION:
            raise ValueError("outside the positions a listing has")
        return position
    except ValueError as error:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "The cursor is not valid.") from error


class InboxOrder(StrEnum):
    """How a list is ordered."""

    NEWEST = "newest"
    WORKLIST = "worklist"


@router.get("/notifications", response_model=NotificationPage, responses=LISTED)
async def list_notifications(
    caller: CallerDep,
    uow: RoutingUowDep,
    request: Request,
    concern_id: UUID | None = None,
    kind: NotificationKind | None = None,
    status_: Annotated[NotificationStatus | None, Query(alias="status")] = None,
    severity: Severity | None = None,
    assignee: Annotated[
        str | None, Query(max_length=200, description="A subject, or `me` for the caller.")
    ] = None,
    order: Annotated[
        InboxOrder,
        Query(description="newest first, or a worklist: overdue, then due time, then severity."),
    ] = InboxOrder.NEWEST,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[
        str | None, Query(description="`next_cursor` of the page before (at most 40 characters).")
    ] = None,
) -> NotificationPage:
    """The caller's agency's notifications as summaries; every listing is audited."""
    require_role(caller, *READERS)
    worklist = order is InboxOrder.WORKLIST
    position = _position(cursor, worklist=worklist)
    filters = InboxFilters(
        limit=limit,
        before_seq=None if worklist else position,
        offset=(position or 0) if worklist else 0,
        concern_id=concern_id,
        kind=kind.value if kind else None,
        status=status_.value if status_ else None,
        severity=severity.value if severity else None,
        assignee=caller.subject if assignee == "me" else assignee,
        order=order.value,
    )
    now = datetime.now(UTC)
    page = await inbox.list_notifications(
        uow, caller, filters, correlation_id=request_correlation_id(request), now=now
    )
    if page.next_offset is not None:
        next_cursor: str | None = _cursor(page.next_offset, worklist=True)
    elif page.next_before_seq is not None:
        next_cursor = _cursor(page.next_before_seq)
    else:
        next_cursor = None
    return NotificationPage(
        items=[views.summary(n, now=now) for n in page.notifications],
        next_cursor=next_cursor,
        counts=page.counts,
        stream_position=page.stream_position,
    )


@router.get(
    "/notifications/{notification_id}",
    response_model=NotificationView,
    responses={**COMMON, 404: NOT_FOUND},
)
async def open_notification(
    notification_id: UUID,
    caller: CallerDep,
    uow: RoutingUowDep,
    partnership: PartnershipDep,
    request: Request,
) -> NotificationView:
    """Open one notification; the fields it discloses are audited."""
    require_role(caller, *READERS)
    try:
        opened = await inbox.open_notification(
            uow, caller, notification_id,
            correlation_id=request_correlation_id(request), path=request.url.path,
        )  # fmt: skip
    except NotificationNotFound as missing:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "No such notification.") from missing
    return view(opened.stored, partnership=partnership, decisions=opened.decisions)


@router.post(
    "/notifications/{notification_id}/acknowledge",
    response_model=NotificationView,
    responses={**COMMON, 404: NOT_FOUND},
)
async def acknowledge_notification(
    notification_id: UUID,
    caller: CallerDep,
    uow: RoutingUowDep,
    partnership: PartnershipDep,
    request: Request,
) -> NotificationView:
    """Acknowledge a notification; repeating it changes nothing."""
    require_role(caller, *READERS)
    try:
        stored = await inbox.acknowledge_notification(
            uow, caller, notification_id, now=datetime.now(UTC),
            correlation_id=request_correlation_id(request), path=request.url.path,
        )  # fmt: skip
    except NotificationNotFound as missing:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "No such notification.") from missing
    decisions = await inbox.decisions_of(uow, notification_id) if stored.revision else []
    return view(stored, partnership=partnership, decisions=decisions)
