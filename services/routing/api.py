"""Routing's HTTP routes: a caseworker's inbox of notifications for their agency."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status

from schemas.v1 import (
    AcknowledgementView,
    NotificationKind,
    NotificationPage,
    NotificationStatus,
    NotificationView,
    Severity,
)
from services.common.auth import CallerDep, Role, require_role
from services.common.problems import problem_doc
from services.common.runtime import RuntimeDep
from services.routing import inbox, store
from services.routing.inbox import InboxFilters, NotificationNotFound
from services.routing.unit_of_work import RoutingUnitOfWork, routing_unit_of_work

router = APIRouter(prefix="/v1", tags=["notifications"])
READERS = (Role.CASEWORKER, Role.AGENCY_SYSTEM)


COMMON: dict[int | str, dict[str, Any]] = {
    401: problem_doc("Missing, expired or forged bearer token."),
    403: problem_doc("The role may not read notifications."),
}
NOT_FOUND = problem_doc("No such notification for the caller's agency.")


def view(stored: store.StoredNotification) -> NotificationView:
    """A stored notification as its recipient sees it."""
    n = stored.notification
    acknowledgement = (
        AcknowledgementView(
            acknowledged_by=stored.acknowledged_by, acknowledged_at=stored.acknowledged_at
        )
        if stored.acknowledged_by and stored.acknowledged_at
        else None
    )
    return NotificationView(
        notification_id=n.notification_id,
        concern_id=n.concern_id,
        kind=n.kind,
        status=NotificationStatus(stored.status),
        category=n.category,
        severity=n.severity,
        source_agency=n.source_agency,
        received_at=n.received_at,
        reasons=n.reasons,
        policy_version=n.policy_version,
        acknowledge_by=n.acknowledge_by,
        acknowledgement=acknowledgement,
        escalation_of=n.escalation_of,
        concern=n.concern,
        disclosed_fields=n.disclosed_fields,
        chronology=n.chronology,
    )


async def routing_uow(service: RuntimeDep) -> RoutingUnitOfWork:
    """A unit of work on routing's database for this request."""
    return routing_unit_of_work(service)


RoutingUowDep = Annotated[RoutingUnitOfWork, Depends(routing_uow)]


def _correlation_id(request: Request) -> str:
    value: str = request.state.correlation_id
    return value


def _cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(str(seq).encode()).decode()


def _seq(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    try:
        return int(base64.urlsafe_b64decode(cursor.encode()).decode())
    except ValueError as error:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "The cursor is not valid.") from error


@router.get("/notifications", response_model=NotificationPage, responses=COMMON)
async def list_notifications(
    caller: CallerDep,
    uow: RoutingUowDep,
    request: Request,
    concern_id: UUID | None = None,
    kind: NotificationKind | None = None,
    status_: Annotated[NotificationStatus | None, Query(alias="status")] = None,
    severity: Severity | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: str | None = None,
) -> NotificationPage:
    """The caller's agency's notifications, newest first; every listing is audited."""
    require_role(caller, *READERS)
    filters = InboxFilters(
        limit=limit,
        before_seq=_seq(cursor),
        concern_id=concern_id,
        kind=kind.value if kind else None,
        status=status_.value if status_ else None,
        severity=severity.value if severity else None,
    )
    page = await inbox.list_notifications(
        uow, caller, filters, correlation_id=_correlation_id(request)
    )
    next_cursor = None if page.next_before_seq is None else _cursor(page.next_before_seq)
    return NotificationPage(items=[view(n) for n in page.notifications], next_cursor=next_cursor)


@router.get(
    "/notifications/{notification_id}",
    response_model=NotificationView,
    responses={**COMMON, 404: NOT_FOUND},
)
async def open_notification(
    notification_id: UUID, caller: CallerDep, uow: RoutingUowDep, request: Request
) -> NotificationView:
    """Open one notification; the fields it discloses are audited."""
    require_role(caller, *READERS)
    try:
        stored = await inbox.open_notification(
            uow, caller, notification_id,
            correlation_id=_correlation_id(request), path=request.url.path,
        )  # fmt: skip
    except NotificationNotFound as missing:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "No such notification.") from missing
    return view(stored)


@router.post(
    "/notifications/{notification_id}/acknowledge",
    response_model=NotificationView,
    responses={**COMMON, 404: NOT_FOUND},
)
async def acknowledge_notification(
    notification_id: UUID, caller: CallerDep, uow: RoutingUowDep, request: Request
) -> NotificationView:
    """Acknowledge a notification; repeating it changes nothing."""
    require_role(caller, *READERS)
    try:
        stored = await inbox.acknowledge_notification(
            uow, caller, notification_id, now=datetime.now(UTC),
            correlation_id=_correlation_id(request), path=request.url.path,
        )  # fmt: skip
    except NotificationNotFound as missing:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "No such notification.") from missing
    return view(stored)
