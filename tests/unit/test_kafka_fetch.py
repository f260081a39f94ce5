"""Batch subscribers wait in aiokafka's fetch for their records, and never sleep between polls."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from faststream.kafka import KafkaBroker

from services.common.kafka import IDLE_POLL_MS, waits_in_fetch


@dataclass
class FakeConsumer:
    """The getmany of an aiokafka consumer: answers from a queue of polls, noting each ask."""

    answers: list[dict[str, list[str]]]
    asked: list[tuple[int, int | None]] = field(default_factory=list)

    async def getmany(self, *, timeout_ms: int, max_records: int | None) -> dict[str, list[str]]:
        self.asked.append((timeout_ms, max_records))
        return self.answers.pop(0) if self.answers else {}


def subscriber() -> Any:
    broker = KafkaBroker()
    return waits_in_fetch(
        broker.subscriber("t", batch=True, group_id="g", max_records=7, batch_timeout_ms=20)
    )


async def test_a_poll_gives_every_partitions_records_at_once_up_to_the_batch_size() -> None:
    consumer = FakeConsumer([{"p0": ["a", "b"], "p1": ["c"]}])

    records = await subscriber().get_msg(consumer)

    assert records == ("a", "b", "c")
    assert consumer.asked == [(IDLE_POLL_MS, 7)]


async def test_an_empty_poll_returns_at_once_instead_of_sleeping_before_the_next() -> None:
    consumer = FakeConsumer([{}, {"p0": ["a"]}])
    polled = subscriber()

    # FastStream's own would sleep batch_timeout_ms after the empty poll; this asks again.
    async with asyncio.timeout(0.01):
        assert await polled.get_msg(consumer) == ()
        assert await polled.get_msg(consumer) == ("a",)
    assert len(consumer.asked) == 2
