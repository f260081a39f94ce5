"""Intake's table of how far each recipient has got with a concern, newest change kept."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Index,
    Insert,
    String,
    Table,
    Text,
    Uuid,
    any_,
    bindparam,
    case,
    or_,
    select,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.model import RecipientProgress
from services.intake.store import metadata

recipient_progress = Table(
    "recipient_progress",
    metadata,
    Column("notification_id", Uuid, primary_key=True),
    Column("concern_id", Uuid, nullable=False),
    Column("agency", String(100), nullable=False),
    Column("changed_at", DateTime(timezone=True), nullable=False),
    Column("acknowledge_by", DateTime(timezone=True), nullable=False),
    Column("decide_by", DateTime(timezone=True), nullable=True),
    Column("acknowledged_at", DateTime(timezone=True), nullable=True),
    Column("decision", Text, nullable=True),
    Column("decision_label", Text, nullable=True),
    Column("decided_at", DateTime(timezone=True), nullable=True),
    Column("assigned", Boolean, nullable=False),
    Column("escalated", Boolean, nullable=False),
    Index("recipient_progress_by_concern", "concern_id"),
)

STATE = (
    "concern_id", "agency", "changed_at", "acknowledge_by", "decide_by", "acknowledged_at",
    "decision", "decision_label", "decided_at", "assigned",
)  # fmt: skip


@functools.cache
def _keep_newest() -> Insert:
    # The same rule as progress.merge_progress, in one statement: a change replaces a state not
    # newer than itself (every CASE reads the row as it was), and escalation is never forgotten.
    statement = pg_insert(recipient_progress)
    held, change = recipient_progress.c, statement.excluded
    newer = held.changed_at <= change.changed_at
    return statement.on_conflict_do_update(
        index_elements=[held.notification_id],
        set_={name: case((newer, change[name]), else_=held[name]) for name in STATE}
        | {"escalated": or_(held.escalated, change.escalated)},
    )


async def record_progress(session: AsyncSession, progress: Sequence[RecipientProgress]) -> None:
    """Keep each notification's newest state (one state per notification in `progress`)."""
    if not progress:
        return
    await session.execute(_keep_newest(), [dataclasses.asdict(p) for p in progress])


PROGRESS_FIELDS = tuple(column.name for column in recipient_progress.columns)


def _progress(row: Any) -> RecipientProgress:
    return RecipientProgress(**{name: getattr(row, name) for name in PROGRESS_FIELDS})


async def progress_of_concerns(
    session: AsyncSession, concern_ids: Sequence[UUID]
) -> list[RecipientProgress]:
    """The newest known state of every notification of these concerns."""
    if not concern_ids:
        return []
    # One array parameter: the statement is the same for any page, so it is prepared once.
    wanted = bindparam("concern_ids", type_=ARRAY(Uuid))
    rows = await session.execute(
        select(recipient_progress).where(recipient_progress.c.concern_id == any_(wanted)),
        {"concern_ids": list(concern_ids)},
    )
    return [_progress(row) for row in rows]
