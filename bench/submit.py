"""Open-loop Kafka submission: `ConcernSubmitted` records put on `concerns.submitted` on a fixed
schedule, as an agency system would (keyed by source reference, the token in `authorization`).

As over HTTP, each send's schedule is fixed in advance, so a slow broker cannot slow the sender
and hide its latency.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any
from uuid import uuid4

from aiokafka import AIOKafkaProducer

from schemas.v1 import ConcernSubmission, ConcernSubmitted, Topic


def submitted_records(bodies: list[dict[str, Any]]) -> list[tuple[bytes, bytes]]:
    """(key, value) of a `ConcernSubmitted` around each body, made before the clock starts."""
    records = []
    for body in bodies:
        event = ConcernSubmitted(
            producer="bench",
            correlation_id=f"bench-{uuid4()}",
            payload=ConcernSubmission.model_validate(body),
        )
        records.append((body["source_reference"].encode(), event.model_dump_json().encode()))
    return records


@dataclass
class ProducedRun:
    """The record of one open-loop produce run: each send's scheduled time, the failed ones."""

    offered_rate: float
    scheduled: list[float] = field(default_factory=list)
    failed: set[int] = field(default_factory=set)  # indexes of records never acknowledged


def acknowledged_producer(bootstrap_servers: str) -> AIOKafkaProducer:
    """A producer as an agency system would use: every record acknowledged by all replicas."""
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers, acks="all", enable_idempotence=True, linger_ms=2
    )


def bearer_headers(token: str) -> list[tuple[str, bytes]]:
    """The headers intake expects on a submitted record."""
    return [("content-type", b"application/json"), ("authorization", f"Bearer {token}".encode())]


async def produce_open_loop(
    producer: AIOKafkaProducer,
    topic: str,
    records: list[tuple[bytes, bytes]],
    *,
    rate: float,
    headers: list[tuple[str, bytes]] | None = None,
) -> ProducedRun:
    """Put every (key, value) on `topic` at `rate` per second; wait for every acknowledgement."""
    run = ProducedRun(offered_rate=rate)
    interval = 1.0 / rate
    acks: list[asyncio.Future[Any]] = []
    loop = asyncio.get_running_loop()
    start_mono = loop.time() + 0.05
    started = time.time() + 0.05
    for index, (key, value) in enumerate(records):
        delay = start_mono + index * interval - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        run.scheduled.append(started + index * interval)
        acks.append(await producer.send(topic, value, key=key, headers=headers))
    outcomes = await asyncio.gather(*acks, return_exceptions=True)
    run.failed = {i for i, outcome in enumerate(outcomes) if isinstance(outcome, BaseException)}
    return run


async def submit_open_loop(
    producer: AIOKafkaProducer, records: list[tuple[bytes, bytes]], *, token: str, rate: float
) -> ProducedRun:
    """Submit every record on concerns.submitted at `rate` per second, with the agency's token."""
    return await produce_open_loop(
        producer, Topic.CONCERNS_SUBMITTED.value, records, rate=rate, headers=bearer_headers(token)
    )
