"""Poison records on real Kafka and PostgreSQL: dead-lettered unchanged; an outage still waits."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from faststream.kafka import KafkaBroker
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from schemas.v1 import Actor, AuditAction, AuditEvent, AuditEventPayload, Topic
from services.common.poison import DeadLetter, PoisonGuard
from tests.conftest import Services
from tests.infrastructure import Infrastructure, free_port
from tests.polling import eventually

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]
DLQ = Topic.AUDIT_EVENTS_DLQ.value


def an_event(subject: str) -> AuditEvent:
    return AuditEvent(
        producer="test",
        correlation_id=f"poison-{subject[:20]}",
        payload=AuditEventPayload(
            action=AuditAction.NOTIFICATION_VIEWED,
            actor=Actor(subject=subject, agency="nm-csc", role="caseworker"),
        ),
    )


async def dead_letters(infrastructure: Infrastructure, key: bytes) -> list[Any]:
    """Every record on audit.events.dlq with this key."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=infrastructure.kafka_bootstrap_servers, enable_auto_commit=False
    )
    await consumer.start()
    try:
        partition = TopicPartition(DLQ, 0)
        consumer.assign([partition])
        await consumer.seek_to_beginning(partition)
        end = (await consumer.end_offsets([partition]))[partition]
        found = []
        while end and await consumer.position(partition) < end:
            batch = await consumer.getmany(partition, timeout_ms=1000)
            found += [r for r in batch.get(partition, []) if r.key == key]
        return found
    finally:
        await consumer.stop()


async def test_a_poison_record_goes_to_the_dlq_and_the_partition_moves_on(
    services: Services, infrastructure: Infrastructure, token: Callable[..., str]
) -> None:
    run = uuid.uuid4().hex[:8]
    key = f"poison-{run}".encode()
    before, after = an_event(f"before-{run}"), an_event(f"after-{run}")
    # Decodes, but its subject is longer than the log's column: the append itself fails.
    oversized = an_event(f"long-{run}-" + "x" * 300)
    garbled = b'{"type": "audit.event", "payload": '
    headers = [("event-type", b"audit.event"), ("origin", run.encode())]
    sent = [before.model_dump_json().encode(), garbled, oversized.model_dump_json().encode(),
            after.model_dump_json().encode()]  # fmt: skip
    producer = AIOKafkaProducer(bootstrap_servers=infrastructure.kafka_bootstrap_servers)
    await producer.start()
    try:
        # One key: one partition, in this order.
        placed = [
            await producer.send_and_wait(Topic.AUDIT_EVENTS.value, value, key=key, headers=headers)
            for value in sent
        ]
    finally:
        await producer.stop()
    auditor = {"Authorization": f"Bearer {token('nm-csc', 'partnership_auditor', 'ig-poison')}"}

    async def appended(subject: str) -> list[Any] | None:
        response = await services.audit.get(
            "/v1/audit/events", params={"actor": subject}, headers=auditor
        )
        assert response.status_code == 200, response.text
        items: list[Any] = response.json()["items"]
        return items or None

    await eventually(lambda: appended(after.payload.actor.subject), what="the record after")
    assert await appended(before.payload.actor.subject)

    async def both_dead() -> list[Any] | None:
        found = await dead_letters(infrastructure, key)
        return found if len(found) >= 2 else None

    dead = await eventually(both_dead, within=60, what="both poison records on the DLQ")
    assert [record.value for record in dead] == [garbled, sent[2]]
    for record in dead:
        record_headers = dict(record.headers)
        assert record_headers["event-type"] == b"audit.event"
        assert record_headers["origin"] == run.encode()
        assert b"x" * 20 not in record_headers["dlq-reason"]
    reasons = [dict(record.headers)["dlq-reason"].decode() for record in dead]
    assert reasons[0].startswith("ValidationError: ")
    assert reasons[1].startswith("StringDataRightTruncationError")

    poisoned = {(placed[n].partition, placed[n].offset) for n in (1, 2)}

    async def audited() -> list[Any] | None:
        response = await services.audit.get(
            "/v1/audit/events",
            params={"action": "record.dead_lettered", "limit": 1000},
            headers=auditor,
        )
        details = [item["entry"]["details"] for item in response.json()["items"]]
        mine = [d for d in details if (d["partition"], d["offset"]) in poisoned]
        return mine if len(mine) == 2 else None

    for details in await eventually(audited, what="the dead-letterings in the audit log"):
        assert details["topic"] == Topic.AUDIT_EVENTS.value
        assert details["dead_letter_topic"] == DLQ
        assert details["reason"] in reasons
    metrics = (await services.audit.get("/metrics")).text
    assert 'kafka_records_dead_lettered_total{service="audit",topic="audit.events"}' in metrics


async def test_a_database_outage_is_not_poison_nothing_is_dead_lettered(
    infrastructure: Infrastructure,
) -> None:
    dead_database = create_async_engine(
        f"postgresql+asyncpg://nobody:none@127.0.0.1:{free_port()}/none",
        connect_args={"ssl": False, "timeout": 2},
    )
    broker = KafkaBroker(infrastructure.kafka_bootstrap_servers)
    await broker.start()
    failures: list[DeadLetter] = []

    async def record(dead: DeadLetter) -> None:
        failures.append(dead)

    async def append(events: list[AuditEvent]) -> None:
        async with dead_database.connect() as connection:
            await connection.execute(text("SELECT 1"))

    key = f"outage-{uuid.uuid4().hex[:8]}".encode()
    guard = PoisonGuard(broker=broker, service="audit", model=AuditEvent, attempts=2,
                        record_failure=record, pause_seconds=0)  # fmt: skip

    class Raw:
        topic, partition, headers = Topic.AUDIT_EVENTS.value, 0, ()

        def __init__(self, value: bytes, offset: int) -> None:
            self.value, self.offset, self.key = value, offset, key

    try:
        for _ in range(3):  # each delivery of the batch waits, as it did before poison records
            with pytest.raises(OSError):  # noqa: PT011 - the refused connection, whatever its kind
                await guard.handle(
                    [Raw(an_event("outage").model_dump_json().encode(), 1), Raw(b"{", 2)], append
                )
    finally:
        await broker.stop()
        await dead_database.dispose()
    assert failures == []
    assert await dead_letters(infrastructure, key) == []
