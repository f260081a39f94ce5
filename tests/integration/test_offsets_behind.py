"""Offsets committed behind the handler, on real Kafka: after a batch is handled, never before."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from faststream import AckPolicy
from faststream.kafka import KafkaBroker

from services.common.kafka import ConsumedMessage
from services.common.offsets import CommitBehind
from services.common.poison_runtime import left_to_guard
from tests.infrastructure import Infrastructure
from tests.integration.scratch import new_topic
from tests.polling import eventually

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]


async def _committed(infrastructure: Infrastructure, topic: str, group: str) -> int | None:
    """The group's committed offset on the topic's partition (None: nothing committed)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=infrastructure.kafka_bootstrap_servers,
        group_id=group,
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        found: int | None = await consumer.committed(TopicPartition(topic, 0))
        return found
    finally:
        await consumer.stop()


@asynccontextmanager
async def _subscribed(
    infrastructure: Infrastructure, topic: str, group: str, *, fails: bool
) -> AsyncIterator[tuple[list[bytes], list[Any]]]:
    """A started broker whose batch subscriber keeps (or fails on) every record it is given;
    each commit its consumer makes is noted on `commits` (its offsets, or None for FastStream's
    own commit of the consumer's position, which waits in the handler's loop)."""
    broker = KafkaBroker(infrastructure.kafka_bootstrap_servers, middlewares=(CommitBehind,))
    seen: list[bytes] = []
    commits: list[Any] = []

    @broker.subscriber(
        topic,
        group_id=group,
        batch=True,
        decoder=left_to_guard,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
    )
    async def handle(values: list[Any], message: ConsumedMessage) -> None:
        _note_commits(message.consumer, commits)
        seen.extend(record.value for record in message.raw_message)
        if fails:
            raise RuntimeError("handler failed")

    await broker.start()
    try:
        yield seen, commits
    finally:
        await broker.stop()


async def _publish(infrastructure: Infrastructure, topic: str, count: int) -> None:
    async with KafkaBroker(infrastructure.kafka_bootstrap_servers) as producer:
        for number in range(count):
            await producer.publish(f'"{number}"'.encode(), topic)


async def test_a_handled_batch_has_its_offsets_committed_behind_it(
    infrastructure: Infrastructure,
) -> None:
    topic, group = await new_topic(infrastructure, "offsets-test"), f"behind-{uuid.uuid4().hex[:8]}"
    async with _subscribed(infrastructure, topic, group, fails=False) as (seen, commits):
        await _publish(infrastructure, topic, 5)
        await eventually(lambda: _async(len(seen) >= 5), what="the five records handled")

        async def all_committed() -> bool:
            return await _committed(infrastructure, topic, group) == 5

        await eventually(all_committed, what="the offset past the five records committed")
    assert len(seen) == 5
    # Every commit came from behind the handler, with the offsets handled; none in its loop.
    assert commits
    assert None not in commits
    assert commits[-1] == {TopicPartition(topic, 0): 5}


async def test_a_failed_batch_is_redelivered_and_nothing_is_committed(
    infrastructure: Infrastructure,
) -> None:
    topic, group = (
        await new_topic(infrastructure, "offsets-test"),
        f"failing-{uuid.uuid4().hex[:8]}",
    )
    async with _subscribed(infrastructure, topic, group, fails=True) as (seen, _):
        await _publish(infrastructure, topic, 3)
        # Seen twice over at least: FastStream sought back after the failure, as before.
        await eventually(lambda: _async(len(seen) >= 6), what="the failed records redelivered")
        assert await _committed(infrastructure, topic, group) is None


def _note_commits(consumer: Any, commits: list[Any]) -> None:
    """Note each commit the consumer makes on `commits`, once per consumer."""
    if getattr(consumer, "_noted", False):
        return
    commit = consumer.commit

    async def noted(offsets: Any = None) -> None:
        commits.append(dict(offsets) if offsets is not None else None)
        await commit(offsets) if offsets is not None else await commit()

    consumer.commit, consumer._noted = noted, True


async def _async(value: bool) -> bool:
    return value
