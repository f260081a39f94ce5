"""The transactional outbox: events written with the change they announce, published after."""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Awaitable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol
from uuid import UUID

import structlog
from aiokafka import AIOKafkaProducer
from faststream.kafka import KafkaBroker
from sqlalchemy import (
    BigInteger,
    Column,
    ColumnElement,
    DateTime,
    Index,
    Insert,
    MetaData,
    String,
    Table,
    Text,
    Uuid,
    bindparam,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from schemas.v1 import Envelope, Topic
from services.common.db import unnested_rows
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


async def enqueue(
    session: AsyncSession, outbox: Table, event: Envelope, *, topic: Topic, key: str | None
) -> None:
    """Add one event to the outbox inside the caller's transaction."""
    await enqueue_all(session, outbox, [OutboxMessage(event, topic, key)])


async def enqueue_all(
    session: AsyncSession, outbox: Table, events: Iterable[OutboxMessage]
) -> None:
    """Add several events to the outbox inside the caller's transaction."""
    listed = list(events)
    if listed:
        await session.execute(outbox_insert(outbox), outbox_parameters(listed))


OUTBOX_COLUMNS = ("event_id", "topic", "key", "event_type", "correlation_id", "payload")


@functools.cache
def outbox_insert(outbox: Table, *, only_if: ColumnElement[bool] | None = None) -> Insert:
    """The INSERT of a batch of events into the outbox (only when `only_if` holds).

    Column arrays unnested side by side: one statement, built and prepared once, for any number
    of rows; outbox_parameters() gives its parameters.
    """
    rows = unnested_rows(outbox, OUTBOX_COLUMNS, prefix="outbox")
    if only_if is not None:
        rows = rows.where(only_if)
    return insert(outbox).from_select(list(OUTBOX_COLUMNS), rows)


def outbox_parameters(events: Sequence[OutboxMessage]) -> dict[str, Any]:
    """The parameters of outbox_insert() for these events."""
    return {
        "outbox_event_id": [m.event.event_id for m in events],
        "outbox_topic": [m.topic.value for m in events],
        "outbox_key": [m.key for m in events],
        "outbox_event_type": [m.event.type for m in events],
        "outbox_correlation_id": [m.event.correlation_id for m in events],
        "outbox_payload": [m.event.model_dump_json() for m in events],
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
    """The outbox table, written in one session's transaction."""

    def __init__(self, session: AsyncSession, table: Table) -> None:
        self._session = session
        self._table = table

    async def add(self, messages: Iterable[OutboxMessage]) -> None:
        """Add these events in the session's transaction."""
        await enqueue_all(self._session, self._table, messages)


class SessionProcessedEvents:
    """The processed-events table, written in one session's transaction."""

    def __init__(self, session: AsyncSession, table: Table) -> None:
        self._session = session
        self._table = table

    async def first_deliveries(self, event_ids: Iterable[UUID]) -> set[UUID]:
        """Record these ids as handled in the session's transaction; those not handled before."""
        return await first_deliveries(self._session, self._table, event_ids)


class NotingOutbox:
    """An outbox that notes whether anything was added to it, so the relay is woken only then."""

    def __init__(self, outbox: Outbox) -> None:
        self._outbox = outbox
        self.added = False

    async def add(self, messages: Iterable[OutboxMessage]) -> None:
        """Add these events in the session's transaction."""
        listed = list(messages)
        self.added = self.added or bool(listed)
        await self._outbox.add(listed)


class OutboxRelay:
    """Publishes unsent outbox rows to Kafka in order, then marks them sent."""

    def __init__(
        self, engine: AsyncEngine, outbox: Table, broker: KafkaBroker, *, batch_size: int = 500
    ) -> None:
        self._engine = engine
        self._outbox = outbox
        self._broker = broker
        self._batch_size = batch_size
        self._wake = asyncio.Event()
        self._stopping = False
        self.published = 0

    def wake(self) -> None:
        """Tell the relay that new rows were committed."""
        self._wake.set()

    def stop(self) -> None:
        """Finish the batch in hand, then return from run()."""
        self._stopping = True
        self._wake.set()

    async def run(self, *, idle_seconds: float = 0.25) -> None:
        """Publish until stopped or cancelled; back off while Kafka or PostgreSQL is away."""
        backoff = 0.2
        while not self._stopping:
            # Cleared before looking, not after: a wake() that comes while a batch is being
            # published then starts the next batch at once instead of after `idle_seconds`.
            self._wake.clear()
            try:
                sent = await self.publish_pending()
                backoff = 0.2
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.warning("outbox.relay_failed", error=type(error).__name__, retry_in=backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            if sent < self._batch_size:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=idle_seconds)

    async def publish_pending(self) -> int:
        """Publish one batch of unsent rows; the count published."""
        table = self._outbox
        async with self._engine.begin() as connection:
            rows = (
                await connection.execute(
                    select(table.c.id, table.c.topic, table.c.key, table.c.event_type,
                           table.c.correlation_id, table.c.payload)
                    .where(table.c.sent_at.is_(None))
                    .order_by(table.c.id)
                    .limit(self._batch_size)
                    .with_for_update(skip_locked=True)
                )
            ).all()  # fmt: skip
            if not rows:
                return 0
            producer = _aiokafka_producer(self._broker)
            confirmations = [await self._send(row, producer) for row in rows]
            await asyncio.gather(*confirmations)
            await connection.execute(
                update(table)
                .where(table.c.id.in_([row.id for row in rows]))
                .values(sent_at=datetime.now(UTC))
            )
        self.published += len(rows)
        return len(rows)

    async def _send(self, row: Any, producer: AIOKafkaProducer | None) -> Awaitable[Any]:
        """Hand one row to the producer; what is returned completes once the broker has it."""
        headers = {"content-type": "application/json", "event-type": row.event_type}
        key = row.key.encode() if row.key else None
        if producer is None:
            return await self._broker.publish(
                row.payload.encode(), row.topic, key=key, headers=headers,
                correlation_id=row.correlation_id, no_confirm=True,
            )  # fmt: skip
        # The same record FastStream's publish makes (its correlation_id header included),
        # handed straight to aiokafka: a third less CPU a record than through its middlewares.
        headers["correlation_id"] = row.correlation_id
        sent: Awaitable[Any] = await producer.send(
            row.topic,
            value=row.payload.encode(),
            key=key,
            headers=[(name, value.encode()) for name, value in headers.items()],
        )
        return sent


def _aiokafka_producer(broker: KafkaBroker) -> AIOKafkaProducer | None:
    """The started aiokafka producer inside FastStream 0.7's broker, if it can be found."""
    found = getattr(getattr(getattr(broker.config, "producer", None), "_producer", None),
                    "producer", None)  # fmt: skip
    return found if isinstance(found, AIOKafkaProducer) else None
