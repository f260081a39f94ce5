"""Capacity steps of the stack itself, on both intake paths, followed by one watcher throughout.

- HTTP: concerns POSTed to intake open loop, as the fixed-rate run does;
- Kafka: `ConcernSubmitted` records put on `concerns.submitted` open loop (`bench.submit`).

A concern is through when its last notification is on `notifications.routed` (the watcher of
`bench.pipeline`, which matches it to its send by source reference on `concerns.received`).
After each step the stack drains: every concern of the step routed, every police notification
delivered to both destinations, and audit quiet, so one step's backlog does not pollute the next.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiokafka import AIOKafkaProducer

from bench import audit
from bench.capacity import StepOutcome, step_outcome
from bench.delivery import follow_receiver
from bench.load import concern_bodies, make_client, open_loop
from bench.pipeline import Watcher
from bench.report import say
from bench.submit import acknowledged_producer, submit_open_loop, submitted_records

DRAIN_LIMIT_S = 120.0
AUDIT_QUIET_S = 1.0

# The sends of one step: each one's scheduled time, and the indexes of those that failed.
Sender = Callable[[list[dict[str, Any]], float], Awaitable[tuple[list[float], set[int]]]]


@dataclass
class PipelineSides:
    """The running stack, fed over HTTP or Kafka."""

    intake_url: str
    dsn: str
    token: str
    watcher: Watcher
    client: aiohttp.ClientSession
    producer: AIOKafkaProducer
    tasks: tuple[asyncio.Task[None], ...]

    async def http(self, rate: float, seconds: float) -> StepOutcome:
        """POST concerns to intake at `rate`/s for `seconds`; follow them to their routing."""

        async def send(bodies: list[dict[str, Any]], rate: float) -> tuple[list[float], set[int]]:
            run = await open_loop(self.client, f"{self.intake_url}/v1/concerns", bodies, rate=rate)
            failed = {i for i, o in enumerate(run.outcomes) if o.error is not None}
            return [o.scheduled for o in run.outcomes], failed

        return await self._step(rate, seconds, send)

    async def kafka(self, rate: float, seconds: float) -> StepOutcome:
        """Submit concerns on concerns.submitted at `rate`/s for `seconds`; follow them."""

        async def send(bodies: list[dict[str, Any]], rate: float) -> tuple[list[float], set[int]]:
            records = submitted_records(bodies)
            run = await submit_open_loop(self.producer, records, token=self.token, rate=rate)
            return run.scheduled, run.failed

        return await self._step(rate, seconds, send)

    async def _step(self, rate: float, seconds: float, send: Sender) -> StepOutcome:
        # Children of their own: no earlier concern about them (this run's or another's).
        bodies = concern_bodies(max(1, round(rate * seconds)), seed=uuid.uuid4().int)
        references = [str(body["source_reference"]) for body in bodies]
        scheduled, failed = await send(bodies, rate)
        await self._drain(references, failed)
        refused = {i for i, r in enumerate(references) if r in self.watcher.dead_lettered}
        through_at: list[float | None] = []
        from_received: list[float] = []
        for reference in references:
            concern = self.watcher.concerns.get(self.watcher.references.get(reference, ""))
            done = concern.done_at if concern else None
            through_at.append(done)
            if concern and done is not None and concern.received_at is not None:
                from_received.append(done - concern.received_at)
        return step_outcome(rate, scheduled, through_at, failed=failed | refused,
                            from_received=from_received)  # fmt: skip

    def _unfinished(self, references: list[str], failed: set[int]) -> int:
        watcher, unrouted = self.watcher, 0
        for index, reference in enumerate(references):
            if index in failed or reference in watcher.dead_lettered:
                continue
            concern = watcher.concerns.get(watcher.references.get(reference, ""))
            if concern is None or concern.done_at is None:
                unrouted += 1
        feed, webhooks = watcher.deliveries, watcher.webhooks
        undelivered = (feed.wanted - feed.delivered if watcher.has_feed else 0) + (
            webhooks.wanted - webhooks.delivered if watcher.has_receiver else 0
        )
        return unrouted + undelivered

    async def _drain(self, references: list[str], failed: set[int]) -> None:
        """Wait (bounded) until the step is through everywhere and audit is quiet."""
        started = time.monotonic()
        said = started
        while (left := self._unfinished(references, failed)) and (
            time.monotonic() - started < DRAIN_LIMIT_S
        ):
            for task in self.tasks:
                if task.done():
                    task.result()
            if time.monotonic() - said >= 10:
                say(f"    draining: {left} routings and deliveries to go")
                said = time.monotonic()
            await asyncio.sleep(0.2)
        if left:
            say(f"    (not drained after {DRAIN_LIMIT_S:g} s: {left} still to go)")
        await audit.quiet(self.dsn, quiet_s=AUDIT_QUIET_S, limit_s=DRAIN_LIMIT_S)


@contextlib.asynccontextmanager
async def pipeline_sides(env: dict[str, str], token: str) -> AsyncIterator[PipelineSides]:
    """The stack's two intake paths and a watcher of its topics, started for every step."""
    servers = env["KAFKA_BOOTSTRAP_SERVERS"]
    receiver_url = env.get("RECEIVER_URL")
    watcher = Watcher(servers, has_receiver=receiver_url is not None)
    await watcher.start()
    tasks = (
        asyncio.create_task(watcher.run()),
        asyncio.create_task(
            follow_receiver(receiver_url, watcher.webhooks) if receiver_url else asyncio.sleep(0)
        ),
    )
    producer = acknowledged_producer(servers)
    try:
        await producer.start()
        async with make_client({"Authorization": f"Bearer {token}"}) as client:
            yield PipelineSides(
                intake_url=env["INTAKE_URL"], dsn=audit.asyncpg_dsn(env["DATABASE_URL"]),
                token=token, watcher=watcher, client=client, producer=producer, tasks=tasks,
            )  # fmt: skip
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await producer.stop()
        await watcher.stop()
