"""The audit log's table and queries: entries are inserted, never changed."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import (
    BigInteger,
    Column,
    ColumnElement,
    DateTime,
    Index,
    LargeBinary,
    MetaData,
    Select,
    String,
    Table,
    Uuid,
    any_,
    bindparam,
    func,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from schemas.v1 import AuditEvent
from services.audit.chain import GENESIS, ChainRow, by_event_id, seal_new
from services.audit.unit_of_work import Entry

SCHEMA = "audit"
COPIED = (
    "seq", "event_id", "action", "actor_subject", "actor_agency", "actor_role", "concern_id",
    "notification_id", "occurred_at", "content", "previous_hash", "entry_hash", "leaf_hash",
)  # fmt: skip
metadata = MetaData(schema=SCHEMA)
APPEND_LOCK = 0x5AFE_A0D1  # serialises appends across audit processes

entries = Table(
    "entries",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("event_id", Uuid, nullable=False, unique=True),
    Column("action", String(50), nullable=False),
    Column("actor_subject", String(200), nullable=False),
    Column("actor_agency", String(100), nullable=True),
    Column("actor_role", String(50), nullable=False),
    Column("concern_id", Uuid, nullable=True),
    Column("notification_id", Uuid, nullable=True),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("content", LargeBinary, nullable=False),
    Column("previous_hash", LargeBinary, nullable=False),
    Column("entry_hash", LargeBinary, nullable=False),
    Column("leaf_hash", LargeBinary, nullable=False),
    Index("entries_concern", "concern_id", "seq"),
    Index("entries_actor", "actor_subject", "seq"),
    Index("entries_agency", "actor_agency", "seq"),
    Index("entries_action", "action", "seq"),
)


# One array parameter, not IN with a placeholder per id: one statement, prepared once, for a
# batch of any size.
_PRESENT = select(entries.c.event_id).where(
    entries.c.event_id == any_(bindparam("wanted", type_=ARRAY(Uuid)))
)


def _copied(event: AuditEvent, sealed: ChainRow) -> tuple[Any, ...]:
    """An entry's row for COPY, in the order of ``COPIED``."""
    p = event.payload
    return (
        sealed.seq, event.event_id, p.action.value, p.actor.subject, p.actor.agency, p.actor.role,
        p.concern_id, p.notification_id, event.occurred_at, sealed.content,
        sealed.previous_hash, sealed.entry_hash, sealed.leaf_hash,
    )  # fmt: skip


@dataclass(frozen=True)
class Appended:
    """What one append wrote: the log's last seq before it, and the new entries' leaf hashes."""

    after_seq: int
    leaves: list[bytes]


async def append_events(session: AsyncSession, events: Sequence[AuditEvent]) -> Appended | None:
    """Append events not yet in the log, chained after the last entry; None if none was given."""
    await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": APPEND_LOCK})
    wanted = by_event_id(events)
    if not wanted:
        return None
    present = set((await session.execute(_PRESENT, {"wanted": list(wanted)})).scalars().all())
    last = (
        await session.execute(
            select(entries.c.seq, entries.c.entry_hash).order_by(entries.c.seq.desc()).limit(1)
        )
    ).first()
    seq, previous = (last.seq, last.entry_hash) if last else (0, GENESIS)
    rows = [
        _copied(event, sealed)
        for event, sealed in seal_new(wanted, present=present, last_seq=seq, last_hash=previous)
    ]
    if rows:
        # COPY, inside this transaction, on the session's own connection: several times faster
        # than a multi-row INSERT for a batch of a thousand entries.
        connection = await (await session.connection()).get_raw_connection()
        driver: Any = connection.driver_connection
        await driver.copy_records_to_table(
            entries.name, schema_name=SCHEMA, columns=COPIED, records=rows
        )
    return Appended(after_seq=seq, leaves=[row[-1] for row in rows])


def _filtered(
    *,
    after_seq: int,
    through_seq: int | None,
    concern_id: UUID | None,
    actor: str | None,
    agency: str | None,
    action: str | None,
    actions: Collection[str] | None,
    since: datetime | None,
    until: datetime | None,
    where: ColumnElement[bool] | None,
) -> Select[Any]:
    query = select(entries).where(entries.c.seq > after_seq)
    if where is not None:
        query = query.where(where)
    if through_seq is not None:
        query = query.where(entries.c.seq <= through_seq)
    if concern_id is not None:
        query = query.where(entries.c.concern_id == concern_id)
    if actor is not None:
        query = query.where(entries.c.actor_subject == actor)
    if agency is not None:
        query = query.where(entries.c.actor_agency == agency)
    if action is not None:
        query = query.where(entries.c.action == action)
    if actions is not None:
        query = query.where(entries.c.action.in_(list(actions)))
    if since is not None:
        query = query.where(entries.c.occurred_at >= since)
    if until is not None:
        query = query.where(entries.c.occurred_at < until)
    return query


async def find_entries(
    session: AsyncSession,
    *,
    limit: int,
    after_seq: int = 0,
    through_seq: int | None = None,
    concern_id: UUID | None = None,
    actor: str | None = None,
    agency: str | None = None,
    action: str | None = None,
    actions: Collection[str] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    where: ColumnElement[bool] | None = None,
) -> list[Entry]:
    """Entries matching every filter given (and `where`), oldest first, after a sequence number."""
    query = _filtered(
        after_seq=after_seq,
        through_seq=through_seq,
        concern_id=concern_id,
        actor=actor,
        agency=agency,
        action=action,
        actions=actions,
        since=since,
        until=until,
        where=where,
    )
    rows = (await session.execute(query.order_by(entries.c.seq).limit(limit))).all()
    return [
        Entry(
            seq=row.seq,
            content=json.loads(row.content),
            recorded_at=row.recorded_at,
            entry_hash=row.entry_hash.hex(),
        )
        for row in rows
    ]


async def last_seq(session: AsyncSession) -> int:
    """The sequence number of the newest entry; 0 when the log is empty."""
    found = (await session.execute(select(func.max(entries.c.seq)))).scalar()
    return int(found or 0)


async def stream_chain(session: AsyncSession, *, batch: int = 5000) -> AsyncIterator[ChainRow]:
    """Every entry in sequence order, as the chain verifier reads it."""
    after = 0
    while True:
        rows = (
            await session.execute(
                select(entries.c.seq, entries.c.content, entries.c.previous_hash,
                       entries.c.entry_hash, entries.c.leaf_hash)
                .where(entries.c.seq > after)
                .order_by(entries.c.seq)
                .limit(batch)
            )
        ).all()  # fmt: skip
        if not rows:
            return
        for row in rows:
            yield ChainRow(
                seq=row.seq,
                content=bytes(row.content),
                previous_hash=bytes(row.previous_hash),
                entry_hash=bytes(row.entry_hash),
                leaf_hash=bytes(row.leaf_hash),
            )
        after = rows[-1].seq
