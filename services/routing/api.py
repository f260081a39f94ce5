"""Routing's HTTP routes: a caseworker's inbox of notifications for their agency."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, HTTPException, Query, Request, status

from schemas.v1 import (
    AcknowledgementView,
    AuditAction,
    AuditEvent,
    AuditEventPayload,
    NotificationKind,
    NotificationPage,
    NotificationStatus,
    NotificationView,
    Severity,
    Topic,
)
from services.common.auth import Caller, CallerDep, Role, require_role
from services.common.outbox import OutboxMessage, enqueue_all
from services.common.problems import problem_doc
from services.common.runtime import RuntimeDep, ServiceRuntime
from services.routing import store

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


def _audit(
    request: Request,
    caller: Caller,
    action: AuditAction,
    *,
    notification: store.StoredNotification | None = None,
    notification_id: UUID | None = None,
    fields: list[str] | None = None,
    details: dict[str, Any] | None = None,
) -> OutboxMessage:
    payload = notification.notification if notification else None
    event = AuditEvent(
        producer="routing",
        correlation_id=request.state.correlation_id,
        payload=AuditEventPayload(
            action=action,
            actor=caller.as_actor(),
            concern_id=payload.concern_id if payload else None,
            notification_id=payload.notification_id if payload else notification_id,
            fields=fields or [],
            details=details or {},
        ),
    )
    return OutboxMessage(event, Topic.AUDIT_EVENTS, str(payload.concern_id) if payload else None)


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
    service: RuntimeDep,
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
    async with service.unit_of_work() as uow:
        found = await store.list_notifications(
            uow.session,
            agency=caller.agency,
            limit=limit + 1,
            before_seq=_seq(cursor),
            concern_id=concern_id,
            kind=kind.value if kind else None,
            status=status_.value if status_ else None,
            severity=severity.value if severity else None,
        )
        page = found[:limit]
        await enqueue_all(
            uow.session,
            service.outbox,
            [
                _audit(request, caller, AuditAction.NOTIFICATION_LISTED, notification=n,
                       fields=n.notification.disclosed_fields)
                for n in page
            ],
        )  # fmt: skip
        await uow.commit()
    service.relay.wake()
    next_cursor = _cursor(page[-1].seq) if len(found) > limit else None
    return NotificationPage(items=[view(n) for n in page], next_cursor=next_cursor)


async def _own_notification(
    uow_session: Any,
    request: Request,
    caller: Caller,
    service: ServiceRuntime,
    notification_id: UUID,
) -> store.StoredNotification:
    stored = await store.find_notification(uow_session, notification_id)
    if stored is None or stored.notification.recipient_agency != caller.agency:
        if stored is not None:
            # Someone asked for another agency's notification: answer as if missing, and record it.
            await enqueue_all(
                uow_session,
                service.outbox,
                # With the notification, so the refusal appears in its concern's audit trail.
                [_audit(request, caller, AuditAction.ACCESS_DENIED, notification=stored,
                        details={"path": request.url.path})],
            )  # fmt: skip
            await uow_session.commit()
            service.relay.wake()
        raise HTTPException(status.HTTP_404_NOT_FOUND, "No such notification.")
    return stored


@router.get(
    "/notifications/{notification_id}",
    response_model=NotificationView,
    responses={**COMMON, 404: NOT_FOUND},
)
async def open_notification(
    notification_id: UUID, caller: CallerDep, service: RuntimeDep, request: Request
) -> NotificationView:
    """Open one notification; the fields it discloses are audited."""
    require_role(caller, *READERS)
    async with service.unit_of_work() as uow:
        stored = await _own_notification(uow.session, request, caller, service, notification_id)
        await enqueue_all(
            uow.session,
            service.outbox,
            [_audit(request, caller, AuditAction.NOTIFICATION_VIEWED, notification=stored,
                    fields=stored.notification.disclosed_fields)],
        )  # fmt: skip
        await uow.commit()
    service.relay.wake()
    return view(stored)


@router.post(
    "/notifications/{notification_id}/acknowledge",
    response_model=NotificationView,
    responses={**COMMON, 404: NOT_FOUND},
)
async def acknowledge_notification(
    notification_id: UUID, caller: CallerDep, service: RuntimeDep, request: Request
) -> NotificationView:
    """Acknowledge a notification; repeating it changes nothing."""
    require_role(caller, *READERS)
    async with service.unit_of_work() as uow:
        own = await _own_notification(uow.session, request, caller, service, notification_id)
        now = datetime.now(UTC)
        if await store.acknowledge(uow.session, notification_id, by=caller.subject, at=now):
            audit = _audit(request, caller, AuditAction.NOTIFICATION_ACKNOWLEDGED, notification=own)
            await enqueue_all(uow.session, service.outbox, [audit])
            await uow.commit()
            service.relay.wake()
        stored = await store.find_notification(uow.session, notification_id)
        assert stored is not None
    return view(stored)
