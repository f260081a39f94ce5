"""Two routing processes in one consumer group share the concerns without double-sending."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any
from uuid import UUID

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from sqlalchemy import select

from schemas.v1 import TOPICS, ConcernSubmission, NotificationRouted, Topic
from services.common.db import make_engine
from services.routing import store
from services.routing.app import build_app
from services.routing.policy import decide_recipients
from services.routing.settings import RoutingSettings
from tests.builders import a_concern_body, a_family_name, an_nhs_number, the_reference_partnership
from tests.conftest import Services
from tests.infrastructure import Infrastructure
from tests.integration.test_pipeline import bearer
from tests.polling import eventually

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

AGENCIES = ["nm-hospital-ed", "nme-police", "nm-school-oakfield", "ev-school-hilltop"]
VARIANTS: list[dict[str, Any]] = [
    {"category": "neglect", "severity": "medium"},
    {"category": "physical_abuse", "severity": "high"},
    {"category": "other", "severity": "low", "subject": {"postcode": "ZZ9 9ZZ"}},
    {"category": "neglect", "severity": "immediate", "location": {"postcode": None}},
]


async def routed_notifications(
    service_environment: dict[str, str], concern_ids: list[UUID]
) -> list[tuple[UUID, str, str, datetime]] | None:
    """(concern, agency, kind, received_at) of every stored notification, once all are routed."""
    engine = make_engine(RoutingSettings(**service_environment))
    try:
        async with engine.connect() as connection:
            rows = (
                await connection.execute(
                    select(store.notifications.c.concern_id, store.notifications.c.recipient_agency,
                           store.notifications.c.kind, store.notifications.c.payload)
                    .where(store.notifications.c.concern_id.in_(concern_ids))
                )
            ).all()  # fmt: skip
    finally:
        await engine.dispose()
    if {row.concern_id for row in rows} != set(concern_ids):
        return None
    return [
        (row.concern_id, row.recipient_agency, row.kind,
         datetime.fromisoformat(row.payload["received_at"]))
        for row in rows
    ]  # fmt: skip


async def notifications_on_the_topic(
    infrastructure: Infrastructure, concern_ids: set[str]
) -> list[NotificationRouted]:
    """Every NotificationRouted event about these concerns on notifications.routed so far."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=infrastructure.kafka_bootstrap_servers, enable_auto_commit=False
    )
    await consumer.start()
    try:
        topic = Topic.NOTIFICATIONS_ROUTED
        partitions = [TopicPartition(topic.value, p) for p in range(TOPICS[topic])]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        found: list[NotificationRouted] = []
        while [p for p in partitions if await consumer.position(p) < ends[p]]:
            batches = await consumer.getmany(*partitions, timeout_ms=1000)
            for records in batches.values():
                for record in records:
                    assert record.value is not None
                    event = NotificationRouted.model_validate_json(record.value)
                    if str(event.payload.concern_id) in concern_ids:
                        found.append(event)
        return found
    finally:
        await consumer.stop()


async def test_two_routing_processes_route_every_concern_exactly_once(
    services: Services,
    token: Any,
    service_environment: dict[str, str],
    infrastructure: Infrastructure,
) -> None:
    second = build_app(RoutingSettings(**service_environment, instance_id="routing-second"))
    bodies: dict[UUID, tuple[str, dict[str, Any]]] = {}
    async with second.router.lifespan_context(second):
        for index in range(30):
            agency, variant = AGENCIES[index % len(AGENCIES)], VARIANTS[index % len(VARIANTS)]
            subject = {"nhs_number": an_nhs_number(), "family_name": a_family_name()}
            body = a_concern_body(**variant)
            body["subject"] |= subject
            response = await services.intake.post(
                "/v1/concerns", json=body, headers=bearer(token(agency))
            )
            assert response.status_code == 202, response.text
            bodies[UUID(response.json()["concern_id"])] = (agency, body)

        stored = await eventually(
            lambda: routed_notifications(service_environment, list(bodies)),
            within=60,
            what="routing of all 30 concerns",
        )

    partnership = the_reference_partnership()
    pairs = Counter((concern_id, agency) for concern_id, agency, kind, _ in stored
                    if kind == "concern")  # fmt: skip
    assert max(pairs.values()) == 1
    for concern_id, (agency, body) in bodies.items():
        received_at = next(at for c, _, _, at in stored if c == concern_id)
        decision = decide_recipients(
            ConcernSubmission.model_validate(body),
            source_agency=agency,
            received_at=received_at,
            partnership=partnership,
        )
        routed = {a for (c, a) in pairs if c == concern_id}
        assert routed == set(decision.agencies), concern_id

    async def all_published() -> list[NotificationRouted] | None:
        events = await notifications_on_the_topic(infrastructure, {str(c) for c in bodies})
        return events if len(events) >= sum(pairs.values()) else None

    events = await eventually(all_published, what="the notifications on Kafka")
    # A record published twice (a relay stopped between publishing and marking) carries the
    # same event id, which consumers deduplicate; a second *notification* would not.
    event_ids: dict[UUID, set[UUID]] = {}
    for event in events:
        event_ids.setdefault(event.payload.notification_id, set()).add(event.event_id)
    assert all(len(ids) == 1 for ids in event_ids.values())
    assert len(event_ids) == sum(pairs.values())
