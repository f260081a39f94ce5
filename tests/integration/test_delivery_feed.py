"""An agency's own Kafka feed, deliveries.<agency>, read back with a plain aiokafka consumer."""

from __future__ import annotations

import asyncio
import json
from contextlib import AsyncExitStack
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer

from services.delivery.app import build_app
from services.delivery.settings import DeliverySettings
from services.partnership import default_partnership_path
from tests.delivery_builders import a_routed_notification
from tests.integration.delivery_support import close_within, publish_routed

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]
FEED = "deliveries.nme-police"


async def read_feed(bootstrap: str, wanted: set[str], *, within: float = 30) -> dict[str, Any]:
    """The records on the police feed whose webhook-id is wanted, by webhook-id."""
    consumer = AIOKafkaConsumer(FEED, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    found: dict[str, Any] = {}
    try:
        deadline = asyncio.get_running_loop().time() + within
        while not wanted <= set(found):
            assert asyncio.get_running_loop().time() < deadline, f"feed has {len(found)} of them"
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                for record in records:
                    headers = dict(record.headers)
                    webhook_id = headers.get("webhook-id", b"").decode()
                    if webhook_id in wanted:
                        found[webhook_id] = record
        partitions = consumer.partitions_for_topic(FEED)
        assert partitions is not None
        assert len(partitions) == 6
    finally:
        await consumer.stop()
    return found


async def test_the_police_records_system_reads_its_notifications_from_its_own_topic(
    service_environment: dict[str, str],
) -> None:
    settings = DeliverySettings(
        **service_environment,
        partnership_path=default_partnership_path(),
        delivery_poll_interval_seconds=0.1,
    )
    app = build_app(settings, environ={})
    stack = AsyncExitStack()
    await stack.enter_async_context(app.router.lifespan_context(app))
    try:
        events = [a_routed_notification("nme-police") for _ in range(5)]
        await publish_routed(service_environment["kafka_bootstrap_servers"], events)
        wanted = {str(event.event_id) for event in events}
        found = await read_feed(service_environment["kafka_bootstrap_servers"], wanted)
    finally:
        await close_within(stack, 60)

    for event in events:
        record = found[str(event.event_id)]
        assert record.key == str(event.payload.notification_id).encode()
        body = json.loads(record.value)
        expected = event.payload.model_dump(mode="json", exclude={"child_id"})
        assert body == {"type": "notification.routed", "notification": expected}
