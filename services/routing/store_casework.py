"""Routing's casework tables and queries: decisions, assignment, and each agency's change log."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    String,
    Table,
    Text,
    Uuid,
    bindparam,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.deferred import defer
from services.routing.state import ChangeEntry, DecisionRecord, StoredNotification
from services.routing.store import SCHEMA, _stored, metadata, notifications

# Every decision and revision, never updated: the notification's row holds only the latest.
decisions = Table(
    "decisions",
    metadata,
    Column(
        "notification_id",
        Uuid,
        ForeignKey(f"{SCHEMA}.notifications.notification_id"),
        primary_key=True,
    ),
    Column("revision", Integer, primary_key=True),
    Column("decision", String(64), nullable=False),
    Column("decision_label", String(200), nullable=False),
    Column("rationale", Text, nullable=True),
    Column("decided_by", String(200), nullable=False),
    Column("decided_by_role", String(30), nullable=False),
    Column("decided_at", DateTime(timezone=True), nullable=False),
)

# Per agency, every notification stored and every change of state, in one order: the stream's
# event ids, so a reader resumes from any of them without a gap.
changes = Table(
    "changes",
    metadata,
    Column("seq", BigInteger, Identity(), primary_key=True),
    Column("agency", String(100), nullable=False),
    Column("notification_id", Uuid, nullable=False),
    Column("change", String(20), nullable=False),
    Column("changed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("changes_agency", "agency", "seq"),
)

# Held from the change log's insert to the commit, so change-log rows become visible in the
# order of their seq and a reader that has seen seq n can never later find one below it.
CHANGE_LOG_LOCK = 0x5AFE_C4A6


def _append_statement() -> Any:
    rows = select(
        func.unnest(bindparam("change_agencies", type_=ARRAY(String))),
        func.unnest(bindparam("change_ids", type_=ARRAY(Uuid))),
        func.unnest(bindparam("change_changes", type_=ARRAY(String))),
    ).where(
        # Taken before the first row's seq is drawn (PostgreSQL evaluates it once, as a
        # one-time filter, before producing any row), and so in the statement itself.
        func.pg_advisory_xact_lock(CHANGE_LOG_LOCK).is_not(None)
    )
    return insert(changes).from_select(["agency", "notification_id", "change"], rows)


APPEND = _append_statement()


async def append_changes(session: AsyncSession, entries: Sequence[ChangeEntry]) -> None:
    """Add these lines to the change log in one statement; call it last before the commit.

    Deferred (services.common.deferred): it goes with the commit, or with the next statement,
    and takes the change log's lock there.
    """
    if not entries:
        return
    defer(
        session,
        APPEND,
        {
            "change_agencies": [e.agency for e in entries],
            "change_ids": [e.notification_id for e in entries],
            "change_changes": [e.change for e in entries],
        },
    )


async def newest_change(session: AsyncSession) -> int:
    """The newest change-log position, 0 when there is none."""
    value = await session.scalar(select(func.max(changes.c.seq)))
    return int(value or 0)


async def changes_after(
    session: AsyncSession,
    *,
    agency: str,
    after_seq: int,
    limit: int,
    concern_id: UUID | None = None,
) -> list[tuple[ChangeEntry, StoredNotification]]:
    """An agency's change-log lines after a position, oldest first, each with its notification."""
    query = (
        select(changes.c.seq, changes.c.change, notifications)
        .join(notifications, notifications.c.notification_id == changes.c.notification_id)
        .where(changes.c.agency == agency, changes.c.seq > after_seq)
    )
    if concern_id is not None:
        query = query.where(notifications.c.concern_id == concern_id)
    rows = (await session.execute(query.order_by(changes.c.seq).limit(limit))).all()
    return [
        (ChangeEntry(agency, row.notification_id, row.change, row.seq), _stored(row))
        for row in rows
    ]


async def record_decision(session: AsyncSession, record: DecisionRecord) -> None:
    """Add a decision or revision to the history and make it the notification's latest."""
    await session.execute(
        insert(decisions).values(
            notification_id=record.notification_id,
            revision=record.revision,
            decision=record.decision,
            decision_label=record.decision_label,
            rationale=record.rationale,
            decided_by=record.decided_by,
            decided_by_role=record.decided_by_role,
            decided_at=record.decided_at,
        )
    )
    await session.execute(
        update(notifications)
        .where(notifications.c.notification_id == record.notification_id)
        .values(
            status="decided",
            decision=record.decision,
            decision_label=record.decision_label,
            decided_at=record.decided_at,
            revision=record.revision,
        )
    )


async def decision_history(session: AsyncSession, notification_id: UUID) -> list[DecisionRecord]:
    """Every decision and revision on a notification, oldest first."""
    rows = await session.execute(
        select(decisions)
        .where(decisions.c.notification_id == notification_id)
        .order_by(decisions.c.revision)
    )
    return [
        DecisionRecord(
            notification_id=row.notification_id, revision=row.revision, decision=row.decision,
            decision_label=row.decision_label, rationale=row.rationale,
            decided_by=row.decided_by, decided_by_role=row.decided_by_role,
            decided_at=row.decided_at,
        )
        for row in rows
    ]  # fmt: skip


async def lock_notification(
    session: AsyncSession, notification_id: UUID
) -> StoredNotification | None:
    """A notification, its row locked until the commit, so two decisions cannot interleave."""
    row = (
        await session.execute(
            select(notifications)
            .where(notifications.c.notification_id == notification_id)
            .with_for_update()
        )
    ).first()
    return None if row is None else _stored(row)


async def assign(session: AsyncSession, notification_id: UUID, *, assignee: str) -> bool:
    """Give a notification to someone; False if it was theirs already."""
    result = await session.execute(
        update(notifications)
        .where(
            notifications.c.notification_id == notification_id,
            notifications.c.assignee.is_distinct_from(assignee),
        )
        .values(assignee=assignee)
        .returning(notifications.c.notification_id)
    )
    return result.first() is not None


async def claim_undecided_notifications(
    session: AsyncSession, *, now: datetime, limit: int
) -> list[StoredNotification]:
    """Mark notifications undecided past their decision deadline escalated, once; return them.

    Rows another process is escalating are skipped, not waited for.
    """
    c = notifications.c
    undecided = (
        select(c.notification_id)
        .where(
            c.kind.in_(("concern", "cumulative_concern")),
            c.decided_at.is_(None),
            c.decision_escalated_at.is_(None),
            c.decide_by < now,
        )
        .order_by(c.decide_by)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    rows = await session.execute(
        update(notifications)
        .where(
            c.notification_id.in_(undecided),
            c.decided_at.is_(None),
            c.decision_escalated_at.is_(None),
        )
        .values(status="escalated", decision_escalated_at=now)
        .returning(*notifications.c)
    )
    return sorted((_stored(row) for row in rows), key=lambda stored: stored.seq)
