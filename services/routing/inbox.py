"""A caseworker's inbox as use cases on a unit of work: list, open, acknowledge, follow.

Only the caller's agency's notifications are ever shown; another agency's is not found, exactly
as a missing one, and the attempt is audited. Every look is audited with the fields it showed.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from schemas.v1 import (
    AuditAction,
    AuditEvent,
    AuditEventPayload,
    NotificationRoutedPayload,
    NotificationStatus,
    Topic,
)
from schemas.v1.events import NotificationChange
from services.common.auth import Caller
from services.common.messages import OutboxMessage
from services.routing.state import (
    ROUTED,
    DecisionRecord,
    InboxQuery,
    StoredNotification,
    change_entry,
)
from services.routing.unit_of_work import RoutingUnitOfWork
from services.routing.views import changed, summary_fields


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
    assignee: str | None = None
    order: str = "newest"
    offset: int = 0


@dataclass(frozen=True)
class InboxPage:
    """One page of an inbox and where the next one starts (if there is one)."""

    notifications: list[StoredNotification] = field(default_factory=list)
    next_before_seq: int | None = None
    next_offset: int | None = None
    counts: dict[str, int] = field(default_factory=dict)
    stream_position: int = 0


@dataclass(frozen=True)
class OpenedNotification:
    """A notification as opened: its inbox state and its decisions, oldest first."""

    stored: StoredNotification
    decisions: list[DecisionRecord] = field(default_factory=list)

    @property
    def notification(self) -> NotificationRoutedPayload:
        """The notification as routed."""
        return self.stored.notification


@dataclass(frozen=True)
class StreamItem:
    """One line of the agency's change log, with its notification as it stands now."""

    seq: int
    change: str
    stored: StoredNotification

    @property
    def notification(self) -> NotificationRoutedPayload:
        """The notification as routed."""
        return self.stored.notification

    @property
    def is_new(self) -> bool:
        """Whether the line is the notification's arrival rather than a change to it."""
        return self.change == ROUTED


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
    caller: Caller,
    found: list[StoredNotification],
    *,
    correlation_id: str,
    whole: bool = False,
    **details: Any,
) -> list[OutboxMessage]:
    # A summary carries only the names and date of birth it may; a whole notification, all of
    # what its profile disclosed.
    return [
        caller_audit(caller, AuditAction.NOTIFICATION_LISTED, correlation_id=correlation_id,
                     notification=n, details=details,
                     fields=n.notification.disclosed_fields if whole else summary_fields(n))
        for n in found
    ]  # fmt: skip


async def list_notifications(
    uow: RoutingUnitOfWork,
    caller: Caller,
    filters: InboxFilters,
    *,
    correlation_id: str,
    now: datetime | None = None,
) -> InboxPage:
    """The caller's agency's notifications as summaries; every one listed is audited.

    Newest first, or as a worklist; with counts per status and the stream's position, read
    before the page so a stream connected from it misses nothing that changes after.
    """
    query = InboxQuery(
        agency=caller.agency,
        limit=filters.limit + 1,
        now=now or datetime.now(UTC),
        before_seq=filters.before_seq,
        offset=filters.offset,
        concern_id=filters.concern_id,
        kind=filters.kind,
        status=filters.status,
        severity=filters.severity,
        assignee=filters.assignee,
        order=filters.order,
    )
    async with uow:
        position = await uow.changes.newest()
        found = await uow.notifications.inbox(query)
        counts = await uow.notifications.counts(query)
        page = found[: filters.limit]
        await uow.outbox.add(_looked_at(caller, page, correlation_id=correlation_id))
        await uow.commit()
    more = len(found) > filters.limit
    worklist = filters.order == "worklist"
    return InboxPage(
        notifications=page,
        next_before_seq=page[-1].seq if more and not worklist else None,
        next_offset=filters.offset + len(page) if more and worklist else None,
        # Every status, zero included, so a page can show each count.
        counts={status.value: counts.get(status.value, 0) for status in NotificationStatus},
        stream_position=position,
    )


async def own_notification(
    uow: RoutingUnitOfWork,
    caller: Caller,
    notification_id: UUID,
    *,
    correlation_id: str,
    path: str,
) -> StoredNotification:
    """The caller's agency's notification; another agency's is not found, and that is audited."""
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
) -> OpenedNotification:
    """Open one of the agency's notifications; the fields it discloses are audited."""
    async with uow:
        stored = await own_notification(
            uow, caller, notification_id, correlation_id=correlation_id, path=path
        )
        decisions = await uow.decisions.history(notification_id)
        viewed = caller_audit(
            caller,
            AuditAction.NOTIFICATION_VIEWED,
            correlation_id=correlation_id,
            notification=stored,
            fields=stored.notification.disclosed_fields,
        )
        await uow.outbox.add([viewed])
        await uow.commit()
    return OpenedNotification(stored, decisions)


async def decisions_of(uow: RoutingUnitOfWork, notification_id: UUID) -> list[DecisionRecord]:
    """A notification's decisions, oldest first (for a caller already shown to own it)."""
    async with uow:
        return await uow.decisions.history(notification_id)


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
        own = await own_notification(
            uow, caller, notification_id, correlation_id=correlation_id, path=path
        )
        role = caller.role.value
        if await uow.notifications.acknowledge(
            notification_id, by=caller.subject, at=now, role=role
        ):
            acknowledged = caller_audit(
                caller,
                AuditAction.NOTIFICATION_ACKNOWLEDGED,
                correlation_id=correlation_id,
                notification=own,
            )
            after = dataclasses.replace(
                own, status="acknowledged", acknowledged_by=caller.subject, acknowledged_at=now,
                acknowledged_by_role=role,
            )  # fmt: skip
            change = NotificationChange.ACKNOWLEDGED
            await uow.outbox.add(
                [acknowledged, changed(after, change, at=now, correlation_id=correlation_id)]
            )
            await uow.changes.append([change_entry(after, change)])
            await uow.commit()
        stored = await uow.notifications.get(notification_id)
        assert stored is not None
    return stored


async def newest_position(uow: RoutingUnitOfWork) -> int:
    """Where a stream with nothing to resume from starts: after the newest change."""
    async with uow:
        return await uow.changes.newest()


async def notifications_after(
    uow: RoutingUnitOfWork,
    caller: Caller,
    *,
    after_seq: int,
    limit: int,
    concern_id: UUID | None,
    correlation_id: str,
) -> list[StreamItem]:
    """The agency's new notifications and changes after a position, oldest first; audited.

    A new notification is sent whole (audited with its profile's fields), a change as a
    summary (audited with the summary's).
    """
    async with uow:
        found = [
            StreamItem(entry.seq, entry.change, stored)
            for entry, stored in await uow.changes.after(
                agency=caller.agency, after_seq=after_seq, limit=limit, concern_id=concern_id
            )
        ]
        if found:
            audits = [
                *_looked_at(caller, [i.stored for i in found if i.is_new],
                            correlation_id=correlation_id, whole=True, via="stream"),
                *_looked_at(caller, [i.stored for i in found if not i.is_new],
                            correlation_id=correlation_id, via="stream"),
            ]  # fmt: skip
            await uow.outbox.add(audits)
            await uow.commit()
    return found
