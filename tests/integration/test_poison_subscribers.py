"""Poison records on routing's and intake's topics: dead-lettered, the good ones around handled."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from schemas.v1 import ConcernRouted, Topic
from schemas.v1.events import (
    ConcernRoutedPayload,
    NotificationChange,
    NotificationChanged,
    NotificationChangedPayload,
    NotificationKind,
    RoutedRecipient,
)
from services.common.poison import dlq_topic
from tests.builders import a_concern_body, a_received_concern
from tests.conftest import Services
from tests.infrastructure import Infrastructure
from tests.polling import eventually

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]
SOURCE = "nm-hospital-ed"


def poisoned(event: Any) -> bytes:
    """The event with a concern id that is no UUID: JSON other tests' readers still parse."""
    body = json.loads(event.model_dump_json())
    body["payload"]["concern_id"] = "not-a-uuid"
    return json.dumps(body).encode()


async def dead_letters(infrastructure: Infrastructure, topic: str, key: bytes) -> list[Any]:
    """Every record on the topic's dead-letter topic with this key."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=infrastructure.kafka_bootstrap_servers, enable_auto_commit=False
    )
    await consumer.start()
    try:
        partition = TopicPartition(dlq_topic(topic), 0)
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


async def dead_lettered(infrastructure: Infrastructure, topic: str, key: bytes) -> Any:
    """The one record with this key on the topic's dead-letter topic, once it is there."""

    async def found() -> list[Any] | None:
        return await dead_letters(infrastructure, topic, key) or None

    records = await eventually(found, within=60, what=f"the poison record on {dlq_topic(topic)}")
    assert len(records) == 1
    return records[0]


@pytest.fixture
async def producer(infrastructure: Infrastructure) -> AsyncIterator[AIOKafkaProducer]:
    started = AIOKafkaProducer(bootstrap_servers=infrastructure.kafka_bootstrap_servers)
    await started.start()
    try:
        yield started
    finally:
        await started.stop()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_routing_dead_letters_a_poison_received_concern_and_routes_those_around_it(
    services: Services,
    infrastructure: Infrastructure,
    producer: AIOKafkaProducer,
    token: Callable[..., str],
) -> None:
    key = f"poison-{uuid.uuid4().hex[:8]}".encode()
    before, after = a_received_concern(), a_received_concern()
    poison = poisoned(a_received_concern())
    sent = [before.model_dump_json().encode(), poison, after.model_dump_json().encode()]
    for value in sent:  # one key: one partition, in this order
        await producer.send_and_wait(Topic.CONCERNS_RECEIVED.value, value, key=key)
    caseworker = bearer(token("nm-csc", "caseworker", "sw-poison"))

    async def routed(concern_id: UUID) -> list[Any] | None:
        response = await services.routing.get(
            "/v1/notifications", params={"concern_id": str(concern_id)}, headers=caseworker
        )
        assert response.status_code == 200, response.text
        items: list[Any] = response.json()["items"]
        return items or None

    await eventually(lambda: routed(after.payload.concern_id), what="the concern after")
    assert await routed(before.payload.concern_id)
    dead = await dead_lettered(infrastructure, Topic.CONCERNS_RECEIVED.value, key)
    assert dead.value == poison
    assert dict(dead.headers)["dlq-reason"].decode().startswith("ValidationError: ")


def progress(
    recipient: dict[str, Any],
    concern_id: UUID,
    change: NotificationChange,
    at: datetime,
    **state: Any,
) -> NotificationChanged:
    """A change of one recipient's notification, as routing publishes it."""
    return NotificationChanged(
        correlation_id="test-poison",
        payload=NotificationChangedPayload(
            notification_id=UUID(recipient["notification_id"]),
            concern_id=concern_id,
            kind=NotificationKind.CONCERN,
            recipient_agency=recipient["agency"],
            source_agency=SOURCE,
            change=change,
            status=state.pop("status", change.value),
            changed_at=at,
            acknowledge_by=at + timedelta(hours=1),
            decide_by=at + timedelta(days=1),
            **state,
        ),
    )


async def test_intake_dead_letters_poison_routings_and_changes_and_records_those_around_them(
    services: Services,
    infrastructure: Infrastructure,
    producer: AIOKafkaProducer,
    token: Callable[..., str],
) -> None:
    submitted = await services.intake.post(
        "/v1/concerns", json=a_concern_body(), headers=bearer(token(SOURCE))
    )
    assert submitted.status_code == 202, submitted.text
    concern_id = UUID(submitted.json()["concern_id"])
    key = str(concern_id).encode()

    async def concern_status() -> dict[str, Any]:
        response = await services.intake.get(
            f"/v1/concerns/{concern_id}", headers=bearer(token(SOURCE))
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def routed() -> dict[str, Any] | None:
        status = await concern_status()
        return status if status["status"] == "routed" else None

    status = await eventually(routed, what="routing of the concern")
    csc = next(r for r in status["recipients"] if r["agency"] == "nm-csc")
    rerouted_at = datetime.fromisoformat(status["routed_at"]) + timedelta(minutes=7)
    routing = ConcernRouted(
        correlation_id="test-poison",
        payload=ConcernRoutedPayload(
            concern_id=concern_id,
            source_agency=SOURCE,
            policy_version="test",
            routed_at=rerouted_at,
            recipients=[
                RoutedRecipient(
                    agency=r["agency"], reasons=["test"], notification_id=r["notification_id"]
                )
                for r in status["recipients"]
            ],
        ),
    )
    at = datetime.fromisoformat(status["received_at"]) + timedelta(minutes=1)
    acknowledged = progress(
        csc, concern_id, NotificationChange.ACKNOWLEDGED, at, acknowledged_at=at
    )
    decided = progress(
        csc, concern_id, NotificationChange.DECIDED, at + timedelta(minutes=1),
        acknowledged_at=at, decision="strategy_discussion", decided_at=at + timedelta(minutes=1),
    )  # fmt: skip
    poisons = {
        Topic.CONCERNS_ROUTED.value: poisoned(routing),
        Topic.NOTIFICATIONS_CHANGED.value: poisoned(acknowledged),
    }
    await producer.send_and_wait(
        Topic.CONCERNS_ROUTED.value, poisons[Topic.CONCERNS_ROUTED.value], key=key
    )
    await producer.send_and_wait(
        Topic.CONCERNS_ROUTED.value, routing.model_dump_json().encode(), key=key
    )
    for value in (
        acknowledged.model_dump_json().encode(),
        poisons[Topic.NOTIFICATIONS_CHANGED.value],
        decided.model_dump_json().encode(),
    ):
        await producer.send_and_wait(Topic.NOTIFICATIONS_CHANGED.value, value, key=key)

    async def recorded() -> dict[str, Any] | None:
        status = await concern_status()
        csc = next(r for r in status["recipients"] if r["agency"] == "nm-csc")
        moved = datetime.fromisoformat(status["routed_at"]) == rerouted_at
        return status if moved and csc["decision"] == "strategy_discussion" else None

    await eventually(recorded, within=60, what="the routing and the decision after the poison")
    for topic in (Topic.CONCERNS_ROUTED.value, Topic.NOTIFICATIONS_CHANGED.value):
        dead = await dead_lettered(infrastructure, topic, key)
        assert dead.value == poisons[topic]
        assert dict(dead.headers)["dlq-reason"].decode().startswith("ValidationError: ")
