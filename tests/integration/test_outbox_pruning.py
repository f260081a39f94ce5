"""Outbox retention on real PostgreSQL, with a short clock: old published rows and ids go."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
import pytest_asyncio
from sqlalchemy import MetaData, Table, func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from services.common.db import async_url
from services.common.outbox import outbox_table, processed_events_table
from services.common.outbox_pruning import OutboxPruner
from tests.conftest import Services
from tests.infrastructure import Infrastructure
from tests.integration.scratch import schema_name, schema_of_its_own
from tests.polling import eventually

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


@dataclass
class Tables:
    engine: AsyncEngine
    outbox: Table
    processed: Table


def an_engine(infrastructure: Infrastructure) -> AsyncEngine:
    return create_async_engine(async_url(infrastructure.database_url), connect_args={"ssl": False})


@pytest_asyncio.fixture(loop_scope="session")
async def tables(infrastructure: Infrastructure) -> AsyncIterator[Tables]:
    """An outbox and a processed-events table in a schema of their own."""
    metadata = MetaData(schema=schema_name("prune"))
    outbox, processed = outbox_table(metadata), processed_events_table(metadata)
    async with schema_of_its_own(infrastructure, metadata) as engine:
        yield Tables(engine, outbox, processed)


async def add_outbox(
    tables: Tables, label: str, *, created: datetime, sent: datetime | None
) -> None:
    async with tables.engine.begin() as connection:
        await connection.execute(
            insert(tables.outbox).values(
                event_id=uuid.uuid4(), topic="audit.events", key=label, event_type="audit.event",
                correlation_id=label, payload="{}", created_at=created, sent_at=sent,
            )
        )  # fmt: skip


async def add_processed(tables: Tables, when: datetime) -> uuid.UUID:
    event_id = uuid.uuid4()
    async with tables.engine.begin() as connection:
        await connection.execute(
            insert(tables.processed).values(event_id=event_id, processed_at=when)
        )
    return event_id


async def outbox_keys(tables: Tables) -> list[str]:
    async with tables.engine.connect() as connection:
        rows = await connection.execute(select(tables.outbox.c.key).order_by(tables.outbox.c.id))
        return [row.key for row in rows]


async def processed_ids(tables: Tables) -> set[uuid.UUID]:
    async with tables.engine.connect() as connection:
        return set((await connection.execute(select(tables.processed.c.event_id))).scalars())


async def test_published_rows_past_retention_go_in_batches_and_unsent_rows_stay(
    tables: Tables,
) -> None:
    for n in range(5):
        await add_outbox(tables, f"old-{n}", created=NOW - 5 * HOUR, sent=NOW - 3 * HOUR)
    await add_outbox(tables, "recent", created=NOW - 3 * HOUR, sent=NOW - 30 * timedelta(minutes=1))
    await add_outbox(tables, "unsent", created=NOW - 50 * HOUR, sent=None)
    kept_id = await add_processed(tables, NOW - 2 * HOUR)
    await add_processed(tables, NOW - 30 * HOUR)
    await add_processed(tables, NOW - 40 * HOUR)
    pruner = OutboxPruner(
        tables.engine, tables.outbox, tables.processed,
        outbox_retention=2 * HOUR, processed_retention=24 * HOUR, batch=2, clock=lambda: NOW,
    )  # fmt: skip
    pruned = await pruner.prune_once()
    assert (pruned.outbox, pruned.processed_events) == (5, 2)
    assert await outbox_keys(tables) == ["recent", "unsent"]
    assert await processed_ids(tables) == {kept_id}
    again = await pruner.prune_once()
    assert (again.outbox, again.processed_events) == (0, 0)


async def test_the_background_job_prunes_as_the_clock_moves_on(tables: Tables) -> None:
    clock = [NOW]
    await add_outbox(tables, "published", created=NOW, sent=NOW)
    await add_processed(tables, NOW)
    pruner = OutboxPruner(
        tables.engine, tables.outbox, tables.processed, outbox_retention=HOUR,
        processed_retention=2 * HOUR, interval_seconds=0.05, clock=lambda: clock[0],
    )  # fmt: skip
    job = asyncio.create_task(pruner.run())
    try:
        await asyncio.sleep(0.3)
        assert await outbox_keys(tables) == ["published"]
        clock[0] = NOW + 90 * timedelta(minutes=1)

        async def outbox_pruned() -> bool:
            return not await outbox_keys(tables)

        async def ids_pruned() -> bool:
            return not await processed_ids(tables)

        await eventually(outbox_pruned, within=10, what="the published row pruned")
        assert await processed_ids(tables)
        clock[0] = NOW + 3 * HOUR
        await eventually(ids_pruned, within=10, what="the processed id pruned")
    finally:
        job.cancel()
        await asyncio.gather(job, return_exceptions=True)


async def test_the_audit_writer_role_may_prune_its_outbox(
    services: Services, infrastructure: Infrastructure
) -> None:
    from services.audit.db_role import WRITER_ROLE, act_as_writer
    from services.audit.store import metadata

    engine = an_engine(infrastructure)  # audit's schema is migrated: `services` started it
    act_as_writer(engine)
    pruner = OutboxPruner(
        engine, outbox_table(metadata), processed_events_table(metadata), clock=lambda: NOW
    )
    try:
        await pruner.prune_once()  # refused with InsufficientPrivilege without the grant
        async with engine.connect() as connection:
            assert (await connection.execute(select(func.current_user()))).scalar() == WRITER_ROLE
    finally:
        await engine.dispose()
