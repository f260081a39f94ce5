"""Which agency each concern came from and each notification went to: what an auditor may see."""

from __future__ import annotations

import functools
from collections.abc import Sequence

from sqlalchemy import Column, ColumnElement, Index, Insert, String, Table, Uuid, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from schemas.v1 import AuditAction, AuditEvent
from services.audit.store import entries, metadata
from services.common.db import unnested_insert, unnested_parameters

# Entries about a whole concern rather than one agency's notification: how it reached each
# recipient. Every recipient agency's auditor sees these for the concerns it received.
CONCERN_LEVEL = (AuditAction.CONCERN_SUBMITTED.value, AuditAction.CONCERN_ROUTED.value)
# Entries about the whole partnership: the policy in force is every agency's business.
PARTNERSHIP_LEVEL = (AuditAction.POLICY_APPLIED.value,)

concern_sources = Table(
    "concern_sources",
    metadata,
    Column("concern_id", Uuid, primary_key=True),
    Column("source_agency", String(100), nullable=False),
    Index("concern_sources_agency", "source_agency"),
)
notification_recipients = Table(
    "notification_recipients",
    metadata,
    Column("notification_id", Uuid, primary_key=True),
    Column("concern_id", Uuid, nullable=True),
    Column("recipient_agency", String(100), nullable=False),
    Index("notification_recipients_agency", "recipient_agency"),
)


def concern_source(event: AuditEvent) -> dict[str, object] | None:
    """The index row a concern.submitted entry gives: the concern and the agency that raised it."""
    p = event.payload
    if p.action is not AuditAction.CONCERN_SUBMITTED or p.concern_id is None or not p.actor.agency:
        return None
    return {"concern_id": p.concern_id, "source_agency": p.actor.agency}


def notification_recipient(event: AuditEvent) -> dict[str, object] | None:
    """The index row a notification.delivered entry gives: the notification and its agency."""
    p = event.payload
    agency = p.details.get("recipient_agency")
    if p.action is not AuditAction.NOTIFICATION_DELIVERED or p.notification_id is None:
        return None
    if not isinstance(agency, str) or not agency:
        return None
    return {"notification_id": p.notification_id, "concern_id": p.concern_id,
            "recipient_agency": agency}  # fmt: skip


@functools.cache
def _index_insert(table: Table) -> tuple[Insert, tuple[str, ...]]:
    """The one INSERT of an index table's rows from unnested arrays, and its columns."""
    columns = tuple(column.name for column in table.columns)
    statement = unnested_insert(table, columns, prefix=table.name).on_conflict_do_nothing()
    return statement, columns


async def index_agencies(session: AsyncSession, events: Sequence[AuditEvent]) -> None:
    """Record where the appended concerns came from and where their notifications went."""
    for table, row_of in (
        (concern_sources, concern_source),
        (notification_recipients, notification_recipient),
    ):
        rows = [row for event in events if (row := row_of(event)) is not None]
        if rows:
            statement, columns = _index_insert(table)
            await session.execute(statement, unnested_parameters(rows, columns, prefix=table.name))


def visible_to(agency: str) -> ColumnElement[bool]:
    """Entries an agency's auditor may see: what its staff did, the policy versions in force,
    and every access to its concerns and notifications (with how one it received was routed)."""
    raised = select(concern_sources.c.concern_id).where(concern_sources.c.source_agency == agency)
    ours = notification_recipients.c.recipient_agency == agency
    received = select(notification_recipients.c.notification_id).where(ours)
    received_concerns = select(notification_recipients.c.concern_id).where(ours)
    return or_(
        entries.c.actor_agency == agency,
        entries.c.action.in_(PARTNERSHIP_LEVEL),
        entries.c.concern_id.in_(raised),
        entries.c.notification_id.in_(received),
        and_(
            entries.c.notification_id.is_(None),
            entries.c.action.in_(CONCERN_LEVEL),
            entries.c.concern_id.in_(received_concerns),
        ),
    )
