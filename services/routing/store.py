"""Routing's tables and queries: notifications and acknowledgements, for the caseworker inbox."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Identity,
    Index,
    MetaData,
    String,
    Table,
    Uuid,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from schemas.v1 import ConcernReceivedPayload, NotificationRoutedPayload
from schemas.v1.concern import ConcernSubmission

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
    Index("notifications_inbox", "recipient_agency", "seq"),
    Index("notifications_concern", "concern_id"),
    Index(
        "notifications_awaiting_acknowledgement",
        "acknowledge_by",
        postgresql_where=text("status = 'new' AND kind = 'concern'"),
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
)


@dataclass(frozen=True)
class StoredNotification:
    """A notification with its inbox state."""

    seq: int
    notification: NotificationRoutedPayload
    status: str
    acknowledged_by: str | None
    acknowledged_at: datetime | None


def _stored(row: Any) -> StoredNotification:
    return StoredNotification(
        seq=row.seq,
        notification=NotificationRoutedPayload.model_validate(row.payload),
        status=row.status,
        acknowledged_by=row.acknowledged_by,
        acknowledged_at=row.acknowledged_at,
    )


async def add_notifications(
    session: AsyncSession, routed: Sequence[NotificationRoutedPayload]
) -> None:
    """Persist notifications for their recipients' inboxes."""
    if not routed:
        return
    await session.execute(
        insert(notifications),
        [
            {
                "notification_id": n.notification_id,
                "concern_id": n.concern_id,
                "recipient_agency": n.recipient_agency,
                "kind": n.kind.value,
                "severity": n.severity.value,
                "acknowledge_by": n.acknowledge_by,
                "payload": n.model_dump(mode="json"),
                "status": "new",
            }
            for n in routed
        ],
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


async def list_notifications(
    session: AsyncSession,
    *,
    agency: str,
    limit: int,
    before_seq: int | None = None,
    concern_id: UUID | None = None,
    kind: str | None = None,
    status: str | None = None,
    severity: str | None = None,
) -> list[StoredNotification]:
    """An agency's notifications, newest first, after the cursor, filtered."""
    query = select(notifications).where(notifications.c.recipient_agency == agency)
    if before_seq is not None:
        query = query.where(notifications.c.seq < before_seq)
    for column, value in (("concern_id", concern_id), ("kind", kind), ("status", status),
                          ("severity", severity)):  # fmt: skip
        if value is not None:
            query = query.where(notifications.c[column] == value)
    rows = (await session.execute(query.order_by(notifications.c.seq.desc()).limit(limit))).all()
    return [_stored(row) for row in rows]


async def acknowledge(
    session: AsyncSession, notification_id: UUID, *, by: str, at: datetime
) -> bool:
    """Record the first acknowledgement; False if it was acknowledged already."""
    result = await session.execute(
        update(notifications)
        .where(
            notifications.c.notification_id == notification_id,
            notifications.c.acknowledged_at.is_(None),
        )
        .values(status="acknowledged", acknowledged_by=by, acknowledged_at=at)
        .returning(notifications.c.notification_id)
    )
    return result.first() is not None


async def add_concerns(session: AsyncSession, received: Sequence[ConcernReceivedPayload]) -> None:
    """Keep routed concerns (once each) for escalations that need them later."""
    if not received:
        return
    await session.execute(
        pg_insert(concerns).on_conflict_do_nothing(),
        [
            {
                "concern_id": r.concern_id,
                "payload": r.concern.model_dump(mode="json"),
                "source_agency": r.source_agency,
                "received_at": r.received_at,
            }
            for r in received
        ],
    )


async def find_concerns(
    session: AsyncSession, concern_ids: Sequence[UUID]
) -> dict[UUID, ConcernSubmission]:
    """The stored concerns among these ids, by id."""
    if not concern_ids:
        return {}
    rows = await session.execute(
        select(concerns.c.concern_id, concerns.c.payload).where(
            concerns.c.concern_id.in_(set(concern_ids))
        )
    )
    return {row.concern_id: ConcernSubmission.model_validate(row.payload) for row in rows}


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


async def list_notifications_after(
    session: AsyncSession,
    *,
    agency: str,
    after_seq: int,
    limit: int,
    concern_id: UUID | None = None,
) -> list[StoredNotification]:
    """An agency's notifications stored after a sequence number, oldest first."""
    query = select(notifications).where(
        notifications.c.recipient_agency == agency, notifications.c.seq > after_seq
    )
    if concern_id is not None:
        query = query.where(notifications.c.concern_id == concern_id)
    rows = (await session.execute(query.order_by(notifications.c.seq).limit(limit))).all()
    return [_stored(row) for row in rows]


async def last_seq(session: AsyncSession) -> int:
    """The sequence number of the newest notification, 0 when there is none."""
    value = await session.scalar(select(func.max(notifications.c.seq)))
    return int(value or 0)
