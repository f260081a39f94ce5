"""The outbox relay on real Kafka and PostgreSQL: rows go out once, in order, headers intact."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import inspect
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import pytest_asyncio
from aiokafka import AIOKafkaConsumer, ConsumerRecord
from aiokafka.errors import KafkaConnectionError
from faststream.kafka import KafkaBroker
from sqlalchemy import MetaData, Table, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine

from schemas.v1 import Envelope, Topic
from services.common.outbox import (
    OutboxBatch,
    OutboxMessage,
    OutboxRecord,
    outbox_insert,
    outbox_table,
)
from services.common.outbox_relay import OutboxRelay, _aiokafka_producer
from tests.infrastructure import Infrastructure
from tests.integration.scratch import new_topic, schema_name, schema_of_its_own

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]


@pytest_asyncio.fixture(loop_scope="session")
async def outbox(infrastructure: Infrastructure) -> AsyncIterator[tuple[AsyncEngine, Table]]:
    """An outbox table in a schema of its own."""
    table = outbox_table(MetaData(schema=schema_name("relay")))
    async with schema_of_its_own(infrastructure, table.metadata) as engine:
        yield engine, table


async def test_the_relay_sends_each_row_once_in_order_with_its_headers(
    infrastructure: Infrastructure, outbox: tuple[AsyncEngine, Table]
) -> None:
    engine, table = outbox
    topic = await new_topic(infrastructure, "relay-test")
    rows = [
        {"event_id": uuid.uuid4(), "topic": topic, "key": "concern-1" if i % 2 else None,
         "event_type": f"test.event.{i}", "correlation_id": f"corr-{i}", "payload": f'{{"n":{i}}}'}
        for i in range(5)
    ]  # fmt: skip
    async with engine.begin() as connection:
        await connection.execute(insert(table), rows)

    broker = KafkaBroker(infrastructure.kafka_bootstrap_servers)
    await broker.start()
    try:
        # The relay's own path to aiokafka, not FastStream's publish: were it lost in an upgrade,
        # the relay would still work, only dearer, and this says so.
        assert _aiokafka_producer(broker) is not None
        relay = OutboxRelay(engine, table, broker)
        assert await relay.publish_pending() == 5
        assert await relay.publish_pending() == 0
    finally:
        await broker.stop()

    records = await _read(infrastructure, topic, 5)
    assert [r.value for r in records] == [row["payload"].encode() for row in rows]
    assert [r.key for r in records] == [row["key"].encode() if row["key"] else None for row in rows]
    assert [dict(r.headers) for r in records] == [
        {"content-type": b"application/json", "event-type": row["event_type"].encode(),
         "correlation_id": row["correlation_id"].encode()}
        for row in rows
    ]  # fmt: skip
    assert await _unsent(engine, table) == 0


async def _read(
    infrastructure: Infrastructure, topic: str, count: int
) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record on the topic, at least `count` of them (fails if fewer come)."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=infrastructure.kafka_bootstrap_servers,
        auto_offset_reset="earliest", enable_auto_commit=False,
    )  # fmt: skip
    await consumer.start()
    try:
        records: list[ConsumerRecord[bytes, bytes]] = []
        while len(records) < count:
            fetched = await consumer.getmany(timeout_ms=10_000)
            assert fetched, f"only {len(records)} of {count} records arrived"
            records.extend(r for batch in fetched.values() for r in batch)
        extra = await consumer.getmany(timeout_ms=500)
        records.extend(r for batch in extra.values() for r in batch)
    finally:
        await consumer.stop()
    return records


async def _commit(engine: AsyncEngine, table: Table, topic: str, numbers: range) -> OutboxBatch:
    """Events numbered so, written to the outbox and committed as a unit of work does; them."""
    events = [
        OutboxMessage(
            Envelope(type="test.event", producer="test", correlation_id=f"n-{n}"),
            Topic.AUDIT_EVENTS, "one-key",
        )
        for n in numbers
    ]  # fmt: skip
    batch = dataclasses.replace(OutboxBatch.of(events), topic=[topic] * len(events))
    async with engine.begin() as connection:
        await connection.execute(outbox_insert(table), batch.parameters())
    return batch


async def _unsent(engine: AsyncEngine, table: Table) -> int:
    async with engine.connect() as connection:
        rows = await connection.execute(select(table.c.id).where(table.c.sent_at.is_(None)))
        return len(rows.all())


async def _until(check: Callable[[], bool | Awaitable[bool]], what: str) -> None:
    for _ in range(100):
        value = check()
        if await value if inspect.isawaitable(value) else value:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"not within 10 s: {what}")


async def _all_sent(engine: AsyncEngine, table: Table) -> bool:
    return await _unsent(engine, table) == 0


Send = Callable[[OutboxRecord, Any], Awaitable[Any]]


@contextlib.asynccontextmanager
async def _running_relay(
    infrastructure: Infrastructure,
    engine: AsyncEngine,
    table: Table,
    *,
    send: Callable[[Send], Send] | None = None,
) -> AsyncIterator[OutboxRelay]:
    """A relay running on its own broker connection (its sends wrapped by `send`), then stopped."""
    broker = KafkaBroker(infrastructure.kafka_bootstrap_servers)
    await broker.start()
    relay = OutboxRelay(engine, table, broker)
    if send is not None:
        relay._send = send(relay._send)  # type: ignore[method-assign]
    running = asyncio.create_task(relay.run(look_seconds=0.2))
    try:
        yield relay
    finally:
        relay.stop()
        await running
        await broker.stop()


def _numbers(records: list[ConsumerRecord[bytes, bytes]]) -> list[int]:
    return [int(json.loads(r.value or b"")["correlation_id"].removeprefix("n-")) for r in records]


async def test_handed_events_go_out_after_the_leftovers_and_are_marked_sent_later(
    infrastructure: Infrastructure, outbox: tuple[AsyncEngine, Table]
) -> None:
    engine, table = outbox
    topic = await new_topic(infrastructure, "relay-test")
    await _commit(engine, table, topic, range(3))  # a crashed process's, never handed over
    async with _running_relay(infrastructure, engine, table) as relay:
        relay.hand([await _commit(engine, table, topic, range(3, 6))])
        await _until(lambda: relay.published >= 6, "six published")
        relay.hand([await _commit(engine, table, topic, range(6, 10))])
        await _until(lambda: relay.published >= 10, "ten published")
        # Sent from memory, marked at a later look: nothing is left unsent in the table.
        await _until(lambda: _all_sent(engine, table), "every row marked sent")
    # Once each, the leftovers first.
    assert _numbers(await _read(infrastructure, topic, 10)) == list(range(10))


async def test_after_a_failed_send_the_relay_sends_in_order_from_the_table(
    infrastructure: Infrastructure, outbox: tuple[AsyncEngine, Table]
) -> None:
    engine, table = outbox
    topic = await new_topic(infrastructure, "relay-test")
    failures = 1

    def failing_once(send: Send) -> Send:
        async def sending(row: OutboxRecord, producer: Any) -> Any:
            nonlocal failures
            if row.correlation_id == "n-2" and failures:
                failures -= 1
                raise KafkaConnectionError("broker away")
            return await send(row, producer)

        return sending

    async with _running_relay(infrastructure, engine, table, send=failing_once) as relay:
        await _until(lambda: relay.direct, "the first look done")
        relay.hand([await _commit(engine, table, topic, range(4))])
        relay.hand([await _commit(engine, table, topic, range(4, 6))])
        await _until(lambda: relay.published >= 6, "all six published")
        await _until(lambda: _all_sent(engine, table), "every row marked sent")
    assert failures == 0
    values = _numbers(await _read(infrastructure, topic, 6))
    # 0 and 1 went out before 2 failed; then the table, in order, from 2 (maybe 0 and 1 again).
    assert values[:2] == [0, 1]
    assert values[-4:] == [2, 3, 4, 5]
    assert sorted(set(values)) == list(range(6))


async def test_a_look_that_only_comes_round_leaves_young_rows_alone(
    infrastructure: Infrastructure, outbox: tuple[AsyncEngine, Table]
) -> None:
    engine, table = outbox
    topic = await new_topic(infrastructure, "relay-test")
    await _commit(engine, table, topic, range(2))
    async with engine.begin() as connection:
        await connection.execute(
            update(table).values(created_at=func.now() - text("interval '1 minute'"))
        )
    await _commit(engine, table, topic, range(2, 4))
    broker = KafkaBroker(infrastructure.kafka_bootstrap_servers)
    await broker.start()
    try:
        relay = OutboxRelay(engine, table, broker)
        # The young ones may be on their way from another instance's memory.
        assert await relay.publish_pending(settled_only=True) == 2
        assert await relay.publish_pending(settled_only=True) == 0
        assert await relay.publish_pending() == 2
    finally:
        await broker.stop()
    assert _numbers(await _read(infrastructure, topic, 4)) == [0, 1, 2, 3]
