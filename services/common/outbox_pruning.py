"""Outbox retention: published rows and old processed-event ids are deleted in small batches.

Published outbox rows hold copies of events (a concern's narrative among them) that Kafka
already carries; kept for a day, they help explain a relay incident, and no longer. A
processed-event id must outlive every redelivery: Kafka keeps records for 7 days by default
and forgets a group's offsets after 7 days, so a consumer that starts again from the earliest
offset may see a week of events again; ids are kept for twice that.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import structlog
from sqlalchemy import ColumnElement, Table, delete, select
from sqlalchemy.ext.asyncio import AsyncEngine

log = structlog.get_logger()
OUTBOX_RETENTION = timedelta(hours=24)
PROCESSED_EVENTS_RETENTION = timedelta(days=14)


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Pruned:
    """How many rows one pass deleted."""

    outbox: int
    processed_events: int


async def delete_batch(
    engine: AsyncEngine, table: Table, key: str, older: ColumnElement[bool], *, batch: int
) -> int:
    """Delete at most `batch` rows matching `older`, in a transaction of its own; the count."""
    chosen = select(table.c[key]).where(older).limit(batch)
    async with engine.begin() as connection:
        result = await connection.execute(delete(table).where(table.c[key].in_(chosen)))
    return int(result.rowcount or 0)


@dataclass
class OutboxPruner:
    """Deletes published outbox rows and processed-event ids past their retention, in batches."""

    engine: AsyncEngine
    outbox: Table
    processed: Table
    outbox_retention: timedelta = OUTBOX_RETENTION
    processed_retention: timedelta = PROCESSED_EVENTS_RETENTION
    interval_seconds: float = 300.0
    batch: int = 1000
    clock: Callable[[], datetime] = _now

    async def _drain(self, table: Table, key: str, older: ColumnElement[bool]) -> int:
        deleted = 0
        while True:
            count = await delete_batch(self.engine, table, key, older, batch=self.batch)
            deleted += count
            if count < self.batch:
                return deleted
            # Small transactions, and a breath between them: the relay and handlers go first.
            await asyncio.sleep(0.05)

    async def prune_once(self) -> Pruned:
        """One pass: every row past its retention, as of the clock's now."""
        now = self.clock()
        outbox, processed = self.outbox, self.processed
        published = outbox.c.sent_at.is_not(None) & (outbox.c.sent_at < now - self.outbox_retention)
        handled = processed.c.processed_at < now - self.processed_retention
        pruned = Pruned(
            outbox=await self._drain(outbox, "id", published),
            processed_events=await self._drain(processed, "event_id", handled),
        )
        if pruned.outbox or pruned.processed_events:
            log.info("outbox.pruned", outbox=pruned.outbox, processed=pruned.processed_events)
        return pruned

    async def run(self) -> None:
        """Prune every `interval_seconds` until cancelled; a database away only delays it."""
        while True:
            try:
                await self.prune_once()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.warning("outbox.prune_failed", error=type(error).__name__)
            await asyncio.sleep(self.interval_seconds)
