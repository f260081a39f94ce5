"""Routing's tables and queries: notifications and acknowledgements, for the caseworker inbox."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Identity,
    Index,
    Integer,
    MetaData,
    Select,
    String,
    Table,
    Uuid,
    and_,
    case,
    func,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from schemas.v1 import ConcernReceivedPayload, NotificationRoutedPayload
from schemas.v1.concern import ConcernSubmission
from services.common.db import unnested_insert, unnested_parameters
from services.common.deferred import defer
from services.routing.retention import retained_concern
from services.routing.state import SEVERITY_RANK, InboxQuery, StoredNotification

__all__ = ["InboxQuery", "StoredNotification"]

SCHEMA = "routing"
metadata = MetaData(schema=SCHEMA)

notifications = Table(
    "notifications",
    metadata,
    Column("seq", BigInteger, Identity(), nullable=False, unique=True),
    Column("notification_id", Uuid, primary_key=True),
    Column("concern_id", Uuid, nullable=False),
    Column("recipient_agency", String(100), nullable=False),
    Column("kind", String(30), nullable=False),
    Column("severity", String(20), nullable=False),
    Column("acknowledge_by", DateTime(timezone=True), nullable=False),
    Column("payload", JSONB, nullable=False),
    Column("status", String(20), nullable=False),
    Column("acknowledged_by", String(200), nullable=True),
    Column("acknowledged_at", DateTime(timezone=True), nullable=True),
    Column("escalated_at", DateTime(timezone=True), nullable=True),
    Column("decide_by", DateTime(timezone=True), nullable=True),
    Column("acknowledged_by_role", String(30), nullable=True),
    Column("assignee", String(200), nullable=True),
    Column("decision", String(64), nullable=True),
    Column("decision_label", String(200), nullable=True),
    Column("decided_at", DateTime(timezone=True), nullable=True),
    Column("revision", Integer, nullable=True),
    Column("decision_escalated_at", DateTime(timezone=True), nullable=True),
    Column("content_removed_at", DateTime(timezone=True), nullable=True),
    Index("notifications_inbox", "recipient_agency", "seq"),
    Index("notifications_concern", "concern_id"),
    Index(
        "notifications_awaiting_acknowledgement",
        "acknowledge_by",
        postgresql_where=text("status = 'new' AND kind = 'concern'"),
    ),
    Index(
        "notifications_awaiting_decision",
        "decide_by",
        postgresql_where=text("decided_at IS NULL AND decision_escalated_at IS NULL"),
    ),
)

# Each routed concern as received, so an escalation can cut it to a new recipient's profile.
concerns = Table(
    "concerns",
    metadata,
    Column("concern_id", Uuid, primary_key=True),
    Column("payload", JSONB, nullable=False),
    Column("source_agency", String(100), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("content_removed_at", DateTime(timezone=True), nullable=True),
    Index(
        "concerns_awaiting_retention",
        "received_at",
        postgresql_where=text("content_removed_at IS NULL"),
    ),
)


def _stored(row: Any) -> StoredNotification:
    return StoredNotification(
        seq=row.seq,
        notification=NotificationRoutedPayload.model_validate(row.payload),
        status=row.status,
        acknowledged_by=row.acknowledged_by,
        acknowledged_at=row.acknowledged_at,
        acknowledged_by_role=row.acknowledged_by_role,
        assignee=row.assignee,
        decision=row.decision,
        decision_label=row.decision_label,
        decided_at=row.decided_at,
        revision=row.revision,
        decision_escalated_at=row.decision_escalated_at,
        content_removed_at=row.content_removed_at,
    )


NOTIFICATION_COLUMNS = (
    "notification_id", "concern_id", "recipient_agency", "kind", "severity", "acknowledge_by",
    "decide_by", "payload", "status",
)  # fmt: skip
ADD_NOTIFICATIONS = unnested_insert(notifications, NOTIFICATION_COLUMNS, prefix="notification")


async def add_notifications(
    session: AsyncSession, routed: Sequence[NotificationRoutedPayload]
) -> None:
    """Persist notifications for their recipients' inboxes (deferred: with the next statement
    or the commit)."""
    if not routed:
        return
    rows = [
        {
            "notification_id": n.notification_id,
            "concern_id": n.concern_id,
            "recipient_agency": n.recipient_agency,
            "kind": n.kind.value,
            "severity": n.severity.value,
            "acknowledge_by": n.acknowledge_by,
            "decide_by": n.decide_by,
            "payload": n.model_dump(mode="json"),
            "status": "new",
        }
        for n in routed
    ]
    defer(
        session,
        ADD_NOTIFICATIONS,
        unnested_parameters(rows, NOTIFICATION_COLUMNS, prefix="notification"),
    )


async def find_notification(
    session: AsyncSession, notification_id: UUID
) -> StoredNotification | None:
    """A notification by id, whoever it is for."""
    row = (
        await session.execute(
            select(notifications).where(notifications.c.notification_id == notification_id)
        )
    ).first()
    return None if row is None else _stored(row)


def _overdue(now: datetime) -> ColumnElement[bool]:
    c = notifications.c
    return or_(
        and_(c.acknowledged_at.is_(None), c.acknowledge_by < now),
        and_(c.decide_by.is_not(None), c.decided_at.is_(None), c.decide_by < now),
    )


def _due_at() -> ColumnElement[datetime]:
    c = notifications.c
    return case(
        (c.acknowledged_at.is_(None), c.acknowledge_by),
        else_=func.coalesce(c.decide_by, c.acknowledge_by),
    )


def _filtered(query: Select[Any], q: InboxQuery, *, with_status: bool = True) -> Select[Any]:
    query = query.where(notifications.c.recipient_agency == q.agency)
    for column, value in (("concern_id", q.concern_id), ("kind", q.kind), ("severity", q.severity),
                          ("assignee", q.assignee),
                          ("status", q.status if with_status else None)):  # fmt: skip
        if value is not None:
            query = query.where(notifications.c[column] == value)
    return query


async def list_notifications(session: AsyncSession, q: InboxQuery) -> list[StoredNotification]:
    """An agency's notifications, filtered, newest first or as a worklist, from the cursor."""
    query = _filtered(select(notifications), q)
    if q.order == "worklist":
        rank = case(SEVERITY_RANK, value=notifications.c.severity, else_=0)
        query = query.order_by(
            _overdue(q.now).desc(), _due_at(), rank.desc(), notifications.c.seq.desc()
        ).offset(q.offset)
    else:
        if q.before_seq is not None:
            query = query.where(notifications.c.seq < q.before_seq)
        query = query.order_by(notifications.c.seq.desc())
    rows = (await session.execute(query.limit(q.limit))).all()
    return [_stored(row) for row in rows]


async def count_by_status(session: AsyncSession, q: InboxQuery) -> dict[str, int]:
    """How many of the agency's notifications match every filter but status, per status."""
    query = _filtered(select(notifications.c.status, func.count()), q, with_status=False).group_by(
        notifications.c.status
    )
    return {status: int(count) for status, count in (await session.execute(query)).all()}


async def acknowledge(
    session: AsyncSession,
    notification_id: UUID,
    *,
    by: str,
    at: datetime,
    role: str | None = None,
) -> bool:
    """Record the first acknowledgement; False if it was acknowledged already."""
    result = await session.execute(
        update(notifications)
        .where(
            notifications.c.notification_id == notification_id,
            notifications.c.acknowledged_at.is_(None),
        )
        .values(
            status="acknowledged",
            acknowledged_by=by,
            acknowledged_at=at,
            acknowledged_by_role=role,
        )
        .returning(notifications.c.notification_id)
    )
    return result.first() is not None


CONCERN_COLUMNS = ("concern_id", "payload", "source_agency", "received_at")
ADD_CONCERNS = unnested_insert(concerns, CONCERN_COLUMNS, prefix="concern").on_conflict_do_nothing()


async def add_concerns(session: AsyncSession, received: Sequence[ConcernReceivedPayload]) -> None:
    """Keep routed concerns (once each) for escalations that need them later (deferred: with the
    next statement or the commit)."""
    if not received:
        return
    rows = [
        {
            "concern_id": r.concern_id,
            "payload": r.concern.model_dump(mode="json"),
            "source_agency": r.source_agency,
            "received_at": r.received_at,
        }
        for r in received
    ]
    defer(session, ADD_CONCERNS, unnested_parameters(rows, CONCERN_COLUMNS, prefix="concern"))


async def find_concerns(
    session: AsyncSession, concern_ids: Sequence[UUID]
) -> dict[UUID, ConcernSubmission]:
    """The stored concerns among these ids, by id."""
    if not concern_ids:
        return {}
    c = concerns.c
    rows = await session.execute(
        select(c.concern_id, c.payload, c.content_removed_at).where(
            c.concern_id.in_(set(concern_ids))
        )
    )
    return {
        row.concern_id: ConcernSubmission.model_validate(row.payload)
        if row.content_removed_at is None
        else retained_concern(row.payload, removed_at=row.content_removed_at)
        for row in rows
    }


async def claim_overdue_notifications(
    session: AsyncSession, *, now: datetime, limit: int
) -> list[StoredNotification]:
    """Mark concern notifications unacknowledged past their deadline as escalated; return them.

    Rows another process is escalating are skipped, not waited for, and a row is escalated
    only while its status is `new`, so each notification is escalated once.
    """
    overdue = (
        select(notifications.c.notification_id)
        .where(
            notifications.c.kind == "concern",
            notifications.c.status == "new",
            notifications.c.acknowledge_by < now,
        )
        .order_by(notifications.c.acknowledge_by)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    rows = await session.execute(
        update(notifications)
        .where(notifications.c.notification_id.in_(overdue), notifications.c.status == "new")
        .values(status="escalated", escalated_at=now)
        .returning(*notifications.c)
    )
    return sorted((_stored(row) for row in rows), key=lambda stored: stored.seq)
