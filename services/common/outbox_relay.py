"""The outbox relay: publishes committed outbox rows to Kafka, then marks them sent."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import structlog
from aiokafka import AIOKafkaProducer
from faststream.kafka import KafkaBroker
from sqlalchemy import ColumnElement, Table, Uuid, bindparam, func, literal_column, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.common.outbox import OutboxBatch, OutboxRecord, unpacked

log = structlog.get_logger()


# Events handed over and not yet sent, beyond which the relay drops them and looks instead.
HANDED_AT_MOST = 20_000
# How old an unsent row must be before a look that only comes round sends it: any younger is
# on its way from memory (marks follow within a look's interval of a second).
LEFTOVER_SECONDS = 5
LEFTOVER_AGE: ColumnElement[Any] = literal_column(f"interval '{LEFTOVER_SECONDS} seconds'")


class OutboxRelay:
    """Publishes outbox rows to Kafka in order, then marks them sent.

    Two ways in. A unit of work that commits hands its events over (hand()): they go out at
    once from memory, and are marked sent together at the next look, so a round costs no
    transaction of its own. A look reads the table (on wake(), and every `look_seconds`) for
    whatever was committed and not handed over: a crash's leftovers, a path that only wakes.
    After a send fails, and until a look finds the table drained, the relay only looks, in id
    order, so that nothing handed over later overtakes what failed.

    A crash between sending and marking sends those events again: consumers deduplicate.
    """

    def __init__(
        self, engine: AsyncEngine, outbox: Table, broker: KafkaBroker, *, batch_size: int = 500
    ) -> None:
        self._engine = engine
        self._outbox = outbox
        self._broker = broker
        self._batch_size = batch_size
        self._wake = asyncio.Event()
        self._stopping = False
        self._look = True
        # Whether what is handed over may go straight out: not before the first look has found
        # the table drained (a previous process's leftovers go first), nor after a failed send.
        self._direct = False
        self._handed: list[OutboxBatch] = []
        self._handed_count = 0
        self._dropped = 0
        self._unmarked: list[UUID] = []  # the rows (their event_id column) sent, not marked
        self.published = 0

    @property
    def direct(self) -> bool:
        """Whether what is handed over goes straight out (else it waits for a look)."""
        return self._direct

    def wake(self) -> None:
        """Tell the relay that rows were committed that it has not been handed: look now."""
        self._look = True
        self._wake.set()

    def hand(self, batches: Sequence[OutboxBatch], *, wake: bool = True) -> None:
        """Publish these committed events (woken now, or on the relay's next round)."""
        for batch in batches:
            self._handed.append(batch)
            self._handed_count += len(batch)
        if self._handed_count > HANDED_AT_MOST:
            # Kafka is away or slow: the table has them all, and a look will send them in order.
            self._handed, self._handed_count = [], 0
            self._dropped += 1
            self._direct = False
        if wake:
            self._wake.set()

    def stop(self) -> None:
        """Send and mark what is in hand, then return from run()."""
        self._stopping = True
        self._wake.set()

    async def run(self, *, look_seconds: float = 1.0) -> None:
        """Publish until stopped or cancelled; back off while Kafka or PostgreSQL is away."""
        backoff = 0.2
        next_look = 0.0
        while not self._stopping:
            # Cleared before looking, not after: a wake() or hand() that comes while a batch is
            # being sent then starts the next round at once instead of after `look_seconds`.
            self._wake.clear()
            try:
                full = await self._round(due=time.monotonic() >= next_look)
                if full is not None:
                    next_look = time.monotonic() + look_seconds
                backoff = 0.2
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.warning("outbox.relay_failed", error=type(error).__name__, retry_in=backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            if not full:
                wait = max(next_look - time.monotonic(), 0.0) if self._direct else look_seconds
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=wait)
        # Stopping: what was handed over goes out and is marked, the rest waits for a restart.
        with contextlib.suppress(Exception):
            if self._direct and self._handed:
                await self._send_handed()
            await self._mark_sent()

    async def _round(self, *, due: bool) -> bool | None:
        """Look if it is time, then send what was handed over; whether the look was full (None:
        no look)."""
        full: bool | None = None
        woken = self._look
        if woken or due or not self._direct or len(self._unmarked) >= self._batch_size:
            self._look = False
            # A look that only comes round leaves alone what is younger than LEFTOVER_SECONDS:
            # that is on its way from memory, this process's or another instance's.
            settled = self._direct and not woken
            full = await self._look_at_table(settled_only=settled) == self._batch_size
        # Woken during the look: look again first, so that what only woke is not overtaken.
        if self._direct and self._handed and not self._look:
            await self._send_handed()
        return full

    async def _send_handed(self) -> None:
        """Send what was handed over; its rows are marked sent at the next look."""
        batches, self._handed, self._handed_count = self._handed, [], 0
        producer = _aiokafka_producer(self._broker)
        records = [record for batch in batches for record in batch.records()]
        try:
            confirmations = [await self._send(record, producer) for record in records]
            await asyncio.gather(*confirmations)
        except BaseException:
            # What failed is in the table: look, in id order, until it is drained.
            self._direct = False
            raise
        self._unmarked.extend(batch.row_id for batch in batches)
        self.published += len(records)

    async def _mark_sent(self) -> None:
        """Mark sent what went out from memory."""
        if not self._unmarked:
            return
        async with self._engine.begin() as connection:
            await self._mark(connection)

    async def _mark(self, connection: AsyncConnection) -> None:
        marked = list(self._unmarked)
        if marked:
            table = self._outbox
            await connection.execute(
                update(table)
                .where(table.c.event_id == func.any(bindparam("sent", type_=ARRAY(Uuid))))
                .values(sent_at=func.now()),
                {"sent": marked},
            )

    async def publish_pending(self, *, settled_only: bool = False) -> int:
        """Mark what went out from memory; publish one batch of unsent rows (only those older
        than LEFTOVER_SECONDS if `settled_only`); the count of events published."""
        published = self.published
        await self._look_at_table(settled_only=settled_only)
        return self.published - published

    async def _look_at_table(self, *, settled_only: bool) -> int:
        """publish_pending(); the count of rows it sent."""
        table = self._outbox
        unsent: ColumnElement[bool] = table.c.sent_at.is_(None)
        if settled_only:
            unsent = unsent & (table.c.created_at < func.now() - LEFTOVER_AGE)
        dropped = self._dropped
        marking = len(self._unmarked)
        async with self._engine.begin() as connection:
            await self._mark(connection)
            rows = (
                await connection.execute(
                    select(table.c.event_id, table.c.topic, table.c.key, table.c.event_type,
                           table.c.correlation_id, table.c.payload)
                    .where(unsent)
                    .order_by(table.c.id)
                    .limit(self._batch_size)
                    .with_for_update(skip_locked=True)
                )
            ).all()  # fmt: skip
            records = [record for row in rows for record in unpacked(row)]
            if rows:
                producer = _aiokafka_producer(self._broker)
                try:
                    confirmations = [await self._send(record, producer) for record in records]
                    await asyncio.gather(*confirmations)
                except BaseException:
                    self._direct = False
                    raise
                await connection.execute(
                    update(table)
                    .where(table.c.event_id.in_([row.event_id for row in rows]))
                    .values(sent_at=datetime.now(UTC))
                )
        del self._unmarked[:marking]
        if rows and self._handed:
            # Handed over but committed before this look read the table: sent already.
            sent = {row.event_id for row in rows}
            self._handed = [batch for batch in self._handed if batch.row_id not in sent]
            self._handed_count = sum(len(batch) for batch in self._handed)
        if len(rows) < self._batch_size and self._dropped == dropped:
            self._direct = True
        self.published += len(records)
        return len(rows)

    async def _send(self, row: OutboxRecord, producer: AIOKafkaProducer | None) -> Awaitable[Any]:
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
