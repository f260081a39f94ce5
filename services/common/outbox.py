"""The transactional outbox: events written with the change they announce, published after."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol
from uuid import UUID, uuid4

import orjson
import structlog
from sqlalchemy import (
    BigInteger,
    Column,
    ColumnElement,
    DateTime,
    Index,
    Insert,
    MetaData,
    Select,
    String,
    Table,
    Text,
    Uuid,
    bindparam,
    func,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.db import unnested_insert
from services.common.deferred import defer
from services.common.messages import OutboxMessage as OutboxMessage  # re-exported

log = structlog.get_logger()


def outbox_table(metadata: MetaData) -> Table:
    """The outbox of one service, in that service's schema."""
    if (existing := metadata.tables.get(f"{metadata.schema}.outbox")) is not None:
        return existing
    return Table(
        "outbox",
        metadata,
        Column("id", BigInteger, primary_key=True, autoincrement=True),
        Column("event_id", Uuid, nullable=False, unique=True),
        Column("topic", String(100), nullable=False),
        Column("key", String(200), nullable=True),
        Column("event_type", String(100), nullable=False),
        Column("correlation_id", String(100), nullable=False),
        Column("payload", Text, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("sent_at", DateTime(timezone=True), nullable=True),
        Index(None, "id", postgresql_where=text("sent_at IS NULL")),
    )


def processed_events_table(metadata: MetaData) -> Table:
    """Ids of the events a service has already handled, so a redelivery changes nothing."""
    if (existing := metadata.tables.get(f"{metadata.schema}.processed_events")) is not None:
        return existing
    return Table(
        "processed_events",
        metadata,
        Column("event_id", Uuid, primary_key=True),
        Column("processed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )


async def enqueue_all(
    session: AsyncSession, outbox: Table, events: Iterable[OutboxMessage]
) -> OutboxBatch:
    """Add several events to the outbox inside the caller's transaction; them, as stored.

    The insert is deferred (services.common.deferred): it goes with the next statement or the
    commit, since nothing reads the outbox before the commit.
    """
    batch = OutboxBatch.of(list(events))
    if batch:
        defer(session, outbox_insert(outbox), batch.parameters())
    return batch


OUTBOX_COLUMNS = ("event_id", "topic", "key", "event_type", "correlation_id", "payload")


@functools.cache
def outbox_insert(outbox: Table, *, only_if: ColumnElement[bool] | None = None) -> Insert:
    """The INSERT of a batch of events into the outbox (only when `only_if` holds); its
    parameters are OutboxBatch.parameters()."""
    return unnested_insert(outbox, OUTBOX_COLUMNS, prefix="outbox", only_if=only_if)


# The event type of a row that carries several events of one unit of work, packed in its
# payload; a unit of work with one event stores it as a row of its own, as every row once was.
PACKED = "outbox.events"


class OutboxRecord(NamedTuple):
    """One event as the outbox stores it and the relay sends it."""

    event_id: UUID
    topic: str
    key: str | None
    event_type: str
    correlation_id: str
    payload: str


def stored_columns(outbox: Table) -> Select[Any]:
    """A SELECT of the outbox's rows as unpacked() takes them, in the order they were written."""
    return select(*(outbox.c[name] for name in OUTBOX_COLUMNS)).order_by(outbox.c.id)


def unpacked(row: Sequence[Any]) -> list[OutboxRecord]:
    """The events an outbox row carries (its columns event_id ... payload), in order."""
    record = OutboxRecord(*row)
    if record.event_type != PACKED:
        return [record]
    return [
        OutboxRecord(UUID(event_id), topic, key, event_type, correlation_id, payload)
        for event_id, topic, key, event_type, correlation_id, payload in orjson.loads(
            record.payload
        )
    ]


@dataclass(frozen=True, slots=True)
class OutboxBatch:
    """A unit of work's events, one list per column, and the id of the row that stores them.

    Made once per unit of work: the same lists are the INSERT's parameters and, once committed,
    what the relay sends, so no event is encoded twice. They are stored as one row (PACKED):
    a routing batch's sixty events cost one row, one set of index entries and one mark, where
    a row each made nearly half of the write-ahead log (docs/bench, session 17).
    """

    row_id: UUID
    event_id: list[UUID]
    topic: list[str]
    key: list[str | None]
    event_type: list[str]
    correlation_id: list[str]
    payload: list[str]

    @classmethod
    def of(cls, events: Sequence[OutboxMessage]) -> OutboxBatch:
        """These events, encoded."""
        ids = [m.event.event_id for m in events]
        return cls(
            ids[0] if len(ids) == 1 else uuid4(),
            ids,
            [m.topic.value for m in events],
            [m.key for m in events],
            [m.event.type for m in events],
            [m.event.correlation_id for m in events],
            [m.event.model_dump_json() for m in events],
        )

    def __len__(self) -> int:
        return len(self.event_id)

    def records(self) -> Iterator[OutboxRecord]:
        """Each event, in order."""
        for columns in zip(
            self.event_id, self.topic, self.key, self.event_type, self.correlation_id,
            self.payload, strict=True,
        ):  # fmt: skip
            yield OutboxRecord(*columns)

    def parameters(self) -> dict[str, Any]:
        """The parameters of outbox_insert(): the batch as one row (none when it is empty)."""
        rows: list[OutboxRecord] = list(self.records())
        if len(rows) > 1:
            packed = orjson.dumps([[str(r.event_id), *r[1:]] for r in rows]).decode()
            rows = [
                OutboxRecord(
                    self.row_id, self.topic[0], None, PACKED, self.correlation_id[0], packed
                )
            ]
        return {
            f"outbox_{name}": [row[index] for row in rows]
            for index, name in enumerate(OUTBOX_COLUMNS)
        }


async def first_deliveries(
    session: AsyncSession, processed: Table, event_ids: Iterable[UUID]
) -> set[UUID]:
    """Record these event ids as handled; those not handled before (the rest are redeliveries)."""
    wanted = list(dict.fromkeys(event_ids))
    if not wanted:
        return set()
    # One array parameter: the statement is the same for any batch size, so it is prepared once.
    statement = (
        pg_insert(processed)
        .from_select(["event_id"], select(func.unnest(bindparam("ids", type_=ARRAY(Uuid)))))
        .on_conflict_do_nothing()
        .returning(processed.c.event_id)
    )
    return set((await session.execute(statement, {"ids": wanted})).scalars())


class Outbox(Protocol):
    """Where a unit of work puts the events it announces; they commit with its changes."""

    async def add(self, messages: Iterable[OutboxMessage]) -> None:
        """Add these events, to be published once the unit of work commits."""


class ProcessedEvents(Protocol):
    """The ids of the events a service has handled, so a redelivery changes nothing."""

    async def first_deliveries(self, event_ids: Iterable[UUID]) -> set[UUID]:
        """Record these ids as handled; those not handled before."""


class SessionOutbox:
    """The outbox table, written in one session's transaction; it keeps what it added."""

    def __init__(self, session: AsyncSession, table: Table) -> None:
        self._session = session
        self._table = table
        self.added: list[OutboxBatch] = []

    async def add(self, messages: Iterable[OutboxMessage]) -> None:
        """Add these events in the session's transaction."""
        batch = await enqueue_all(self._session, self._table, messages)
        if batch:
            self.added.append(batch)

    def take_added(self) -> list[OutboxBatch]:
        """What was added since the last call: to hand to the relay once committed."""
        added, self.added = self.added, []
        return added


class SessionProcessedEvents:
    """The processed-events table, written in one session's transaction."""

    def __init__(self, session: AsyncSession, table: Table) -> None:
        self._session = session
        self._table = table

    async def first_deliveries(self, event_ids: Iterable[UUID]) -> set[UUID]:
        """Record these ids as handled in the session's transaction; those not handled before."""
        return await first_deliveries(self._session, self._table, event_ids)
