"""Intake's tables and queries: submissions (idempotency), each concern's routing, pages of them."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import (
    Column,
    DateTime,
    Index,
    MetaData,
    Select,
    String,
    Table,
    UniqueConstraint,
    Update,
    Uuid,
    bindparam,
    exists,
    func,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from services.common.outbox import OutboxBatch, outbox_insert
from services.intake.model import NewSubmission, PageCursor, Routing, Submission

SCHEMA = "intake"
metadata = MetaData(schema=SCHEMA)

submissions = Table(
    "submissions",
    metadata,
    Column("concern_id", Uuid, primary_key=True),
    Column("source_agency", String(100), nullable=False),
    Column("source_reference", String(100), nullable=False),
    Column("digest", String(64), nullable=False),
    Column("submitted_by", String(200), nullable=False),
    Column("submitted_role", String(50), nullable=False),
    Column("channel", String(10), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("routed_at", DateTime(timezone=True), nullable=True),
    Column("recipients", JSONB, nullable=True),
    UniqueConstraint("source_agency", "source_reference", name="submissions_source_key"),
    Index("submissions_by_agency_newest", "source_agency", "received_at", "concern_id"),
)


@functools.cache
def _submission_statement(outbox: Table) -> Select[tuple[UUID]]:
    added = (
        pg_insert(submissions)
        .values({column: bindparam(f"submission_{column}") for column in SUBMITTED})
        .on_conflict_do_nothing(constraint="submissions_source_key")
        .returning(submissions.c.concern_id)
        .cte("added")
    )
    announced = outbox_insert(outbox, only_if=exists(select(added.c.concern_id)))
    return select(added.c.concern_id).add_cte(announced.cte("announced"))


SUBMITTED = (
    "concern_id", "source_agency", "source_reference", "digest", "submitted_by",
    "submitted_role", "channel", "received_at",
)  # fmt: skip


async def add_submission(
    connection: AsyncConnection,
    outbox: Table,
    submission: NewSubmission,
    events: OutboxBatch,
) -> bool:
    """Insert a submission and its events, in one statement.

    False, and nothing written, if (agency, reference) was already taken. One statement is one
    transaction on its own, so on an autocommit connection this costs a single round trip.
    """
    parameters = events.parameters()
    parameters |= {f"submission_{c}": getattr(submission, c) for c in SUBMITTED}
    result = await connection.execute(_submission_statement(outbox), parameters)
    return result.first() is not None


def _submission(row: Any) -> Submission:
    return Submission(
        concern_id=row.concern_id,
        source_agency=row.source_agency,
        source_reference=row.source_reference,
        digest=row.digest,
        received_at=row.received_at,
        routed_at=row.routed_at,
        recipients=row.recipients,
    )


async def find_by_reference(
    session: AsyncSession | AsyncConnection, *, source_agency: str, source_reference: str
) -> Submission | None:
    """The submission an agency made under a reference, if any."""
    row = (
        await session.execute(
            select(submissions).where(
                submissions.c.source_agency == source_agency,
                submissions.c.source_reference == source_reference,
            )
        )
    ).first()
    return None if row is None else _submission(row)


async def find_concern(session: AsyncSession, concern_id: UUID) -> Submission | None:
    """A submission by concern id."""
    row = (
        await session.execute(select(submissions).where(submissions.c.concern_id == concern_id))
    ).first()
    return None if row is None else _submission(row)


async def agency_concerns(
    session: AsyncSession, *, source_agency: str, limit: int, after: PageCursor | None
) -> list[Submission]:
    """Up to `limit` of an agency's concerns, newest first, from just after the cursor."""
    query = select(submissions).where(submissions.c.source_agency == source_agency)
    if after is not None:
        position = tuple_(submissions.c.received_at, submissions.c.concern_id)
        query = query.where(position < tuple_(after.received_at, after.concern_id))
    query = query.order_by(submissions.c.received_at.desc(), submissions.c.concern_id.desc())
    rows = (await session.execute(query.limit(limit))).all()
    return [_submission(row) for row in rows]


def _routings_statement() -> Update:
    """Where many concerns went, from column arrays unnested side by side: one statement."""
    routed = select(
        func.unnest(bindparam("routed_concern", type_=ARRAY(Uuid()))).label("concern_id"),
        func.unnest(bindparam("routed_when", type_=ARRAY(DateTime(timezone=True)))).label("at"),
        func.unnest(bindparam("routed_to", type_=ARRAY(JSONB(), dimensions=1))).label("recipients"),
    ).subquery("routed")
    return (
        update(submissions)
        .where(submissions.c.concern_id == routed.c.concern_id)
        .values(routed_at=routed.c.at, recipients=routed.c.recipients)
    )


_ROUTINGS = _routings_statement()


async def record_routings(session: AsyncSession, routings: Sequence[Routing]) -> None:
    """Remember where concerns went (a concern given twice: the same routing, kept once)."""
    if not routings:
        return
    await session.execute(
        _ROUTINGS,
        {
            "routed_concern": [r.concern_id for r in routings],
            "routed_when": [r.routed_at for r in routings],
            "routed_to": [r.recipients for r in routings],
        },
    )
