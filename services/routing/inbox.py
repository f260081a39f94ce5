"""A caseworker's inbox as use cases on a unit of work: list, open, acknowledge, follow.

Only the caller's agency's notifications are ever shown; another agency's is not found, exactly
as a missing one, and the attempt is audited. Every look is audited with the fields it showed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from schemas.v1 import AuditAction, AuditEvent, AuditEventPayload, Topic
from services.common.auth import Caller
from services.common.messages import OutboxMessage
from services.routing.store import StoredNotification
from services.routing.unit_of_work import RoutingUnitOfWork


class NotificationNotFound(LookupError):
    """No such notification for the caller's agency (missing, or another agency's)."""


@dataclass(frozen=True)
class InboxFilters:
    """Which of the agency's notifications to list, and from where."""

    limit: int = 50
    before_seq: int | None = None
    concern_id: UUID | None = None
    kind: str | None = None
    status: str | None = None
    severity: str | None = None


@dataclass(frozen=True)
class InboxPage:
    """One page of an inbox, newest first, and where the next one starts (if there is one)."""

    notifications: list[StoredNotification] = field(default_factory=list)
    next_before_seq: int | None = None


def caller_audit(
    caller: Caller,
    action: AuditAction,
    *,
    correlation_id: str,
    notification: StoredNotification | None = None,
    fields: list[str] | None = None,
    details: dict[str, Any] | None = None,
) -> OutboxMessage:
    """The audit record of what a caller did with (or was refused) a notification."""
    payload = notification.notification if notification else None
    event = AuditEvent(
        producer="routing",
        correlation_id=correlation_id,
        payload=AuditEventPayload(
            action=action,
            actor=caller.as_actor(),
            concern_id=payload.concern_id if payload else None,
            notification_id=payload.notification_id if payload else None,
            fields=fields or [],
            details=details or {},
        ),
    )
    return OutboxMessage(event, Topic.AUDIT_EVENTS, str(payload.concern_id) if payload else None)


def _looked_at(
    caller: Caller, found: list[StoredNotification], *, correlation_id: str, **details: Any
) -> list[OutboxMessage]:
    return [
        caller_audit(caller, AuditAction.NOTIFICATION_LISTED, correlation_id=correlation_id,
                     notification=n, fields=n.notification.disclosed_fields, details=details)
        for n in found
    ]  # fmt: skip


async def list_notifications(
    uow: RoutingUnitOfWork, caller: Caller, filters: InboxFilters, *, correlation_id: str
) -> InboxPage:
    """The caller's agency's notifications, newest first; every one listed is audited."""
    async with uow:
        found = await uow.notifications.inbox(
            agency=caller.agency,
            limit=filters.limit + 1,
            before_seq=filters.before_seq,
            concern_id=filters.concern_id,
            kind=filters.kind,
            status=filters.status,
            severity=filters.severity,
        )
        page = found[: filters.limit]
        await uow.outbox.add(_looked_at(caller, page, correlation_id=correlation_id))
        await uow.commit()
    more = len(found) > filters.limit
    return InboxPage(notifications=page, next_before_seq=page[-1].seq if more else None)


async def _own_notification(
    uow: RoutingUnitOfWork,
    caller: Caller,
    notification_id: UUID,
    *,
    correlation_id: str,
    path: str,
) -> StoredNotification:
    stored = await uow.notifications.get(notification_id)
    if stored is None or stored.notification.recipient_agency != caller.agency:
        if stored is not None:
            # Someone asked for another agency's notification: answer as if missing, and record
            # it with the notification, so the refusal appears in its concern's audit trail.
            denied = caller_audit(caller, AuditAction.ACCESS_DENIED, correlation_id=correlation_id,
                                  notification=stored, details={"path": path})  # fmt: skip
            await uow.outbox.add([denied])
            await uow.commit()
        raise NotificationNotFound(notification_id)
    return stored


async def open_notification(
    uow: RoutingUnitOfWork,
    caller: Caller,
    notification_id: UUID,
    *,
    correlation_id: str,
    path: str,
) -> StoredNotification:
    """Open one of the agency's notifications; the fields it discloses are audited."""
    async with uow:
        stored = await _own_notification(
            uow, caller, notification_id, correlation_id=correlation_id, path=path
        )
        viewed = caller_audit(
            caller,
            AuditAction.NOTIFICATION_VIEWED,
            correlation_id=correlation_id,
            notification=stored,
            fields=stored.notification.disclosed_fields,
        )
        await uow.outbox.add([viewed])
        await uow.commit()
    return stored


async def acknowledge_notification(
    uow: RoutingUnitOfWork,
    caller: Caller,
    notification_id: UUID,
    *,
    now: datetime,
    correlation_id: str,
    path: str,
) -> StoredNotification:
    """Acknowledge one of the agency's notifications; only the first is recorded and audited."""
    async with uow:
        own = await _own_notification(
            uow, caller, notification_id, correlation_id=correlation_id, path=path
        )
        if await uow.notifications.acknowledge(notification_id, by=caller.subject, at=now):
            acknowledged = caller_audit(
                caller,
                AuditAction.NOTIFICATION_ACKNOWLEDGED,
                correlation_id=correlation_id,
                notification=own,
            )
            await uow.outbox.add([acknowledged])
            await uow.commit()
        stored = await uow.notifications.get(notification_id)
        assert stored is not None
    return stored


async def newest_position(uow: RoutingUnitOfWork) -> int:
    """Where a stream with nothing to resume from starts: after the newest notification."""
    async with uow:
        return await uow.notifications.last_seq()


async def notifications_after(
    uow: RoutingUnitOfWork,
    caller: Caller,
    *,
    after_seq: int,
    limit: int,
    concern_id: UUID | None,
    correlation_id: str,
) -> list[StoredNotification]:
    """The agency's notifications stored after a position, oldest first; each one is audited."""
    async with uow:
        found = await uow.notifications.inbox_after(
            agency=caller.agency, after_seq=after_seq, limit=limit, concern_id=concern_id
        )
        if found:
            await uow.outbox.add(
                _looked_at(caller, found, correlation_id=correlation_id, via="stream")
            )
            await uow.commit()
    return found
