"""The end-to-end run: concerns posted to intake over HTTP, followed to their notifications.

Latency of one concern runs from intake's acceptance to the last of its notifications persisted:

- start: the concern's `received_at`, stamped by intake when it accepted the concern (read from
  the `received_at` of its notifications, i.e. the server's clock, not the client's 202 time);
- end: the largest Kafka record timestamp among its `notifications.routed` records. The
  `routing.notifications` table has no insertion time (and the benchmark adds nothing to the
  schema), but routing writes its notifications and their outbox rows in one transaction, and
  the relay publishes those rows only after that commit; the producer stamps each record when it
  is sent (CreateTime), so the record timestamp is a close upper bound of "persisted" (by the
  relay's wake-up, a few ms). Every process runs on this machine, so the clocks are one clock.

The whole is also split in three, at the concern's `concerns.received` record (intake's relay has
published it) and at the `occurred_at` of its routing events (routing's batch of it has begun):
intake's commit and relay; the wait for routing (the broker's fetch, routing busy with earlier
work); routing's decision, commit and relay. They show where a slow concern's time went.

A concern counts as routed once its `concerns.routed` record is seen and every notification it
names has been seen on `notifications.routed`. All three topics are read from their end as the
run starts, without a consumer group, so the benchmark disturbs no service's offsets.
Throughput is routed concerns per second from the first scheduled send to the last notification.
The police feed and the stack's webhook receiver are read alongside, for delivery's figures (see
`bench.delivery`).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from bench.delivery import FEED, DeliveryFollower, DeliveryResult, follow_receiver
from bench.load import OpenLoopRun, concern_bodies, make_client, open_loop
from bench.report import Latencies, say
from schemas.v1 import TOPICS, Topic
from services.delivery.handlers import FEED_PARTITIONS

WATCHED = (
    Topic.CONCERNS_RECEIVED, Topic.CONCERNS_ROUTED, Topic.NOTIFICATIONS_ROUTED,
    Topic.CONCERNS_SUBMITTED_DLQ,
)  # fmt: skip


@dataclass
class Followed:
    """What the watcher knows of one concern."""

    received_at: float | None = None
    announced_at: float | None = None  # its concerns.received record's time
    taken_up_at: float | None = None  # when routing's batch of it began (its events' occurred_at)
    expected: set[str] | None = None
    seen: dict[str, float] = field(default_factory=dict)  # notification id -> record time
    done_at: float | None = None


@dataclass
class Watcher:
    """Reads the pipeline's topics from their end and follows each concern to its notifications."""

    bootstrap_servers: str
    concerns: dict[str, Followed] = field(default_factory=dict)
    references: dict[str, str] = field(default_factory=dict)  # source reference -> concern id
    dead_lettered: set[str] = field(default_factory=set)  # record keys refused over Kafka
    routed: int = 0
    received_sizes: list[int] = field(default_factory=list)
    notification_sizes: list[int] = field(default_factory=list)
    deliveries: DeliveryFollower = field(default_factory=DeliveryFollower)
    webhooks: DeliveryFollower = field(
        default_factory=lambda: DeliveryFollower("delivery (routed -> webhook taken)")
    )
    has_feed: bool = False
    has_receiver: bool = False
    _consumer: AIOKafkaConsumer | None = None

    async def start(self) -> None:
        """Assign every partition of the watched topics and seek to their ends."""
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap_servers,
            enable_auto_commit=False,
            max_partition_fetch_bytes=4 * 1024 * 1024,
        )
        await consumer.start()
        topics = await consumer.topics()
        missing = {t.value for t in WATCHED} - topics
        if missing:
            await consumer.stop()
            raise RuntimeError(f"Topics {sorted(missing)} do not exist: is the stack up?")
        partitions = [
            TopicPartition(topic.value, p) for topic in WATCHED for p in range(TOPICS[topic])
        ]
        # Delivery makes the feed when it starts; without it there is nothing to measure.
        self.has_feed = FEED in topics
        if self.has_feed:
            partitions += [TopicPartition(FEED, p) for p in range(FEED_PARTITIONS)]
        consumer.assign(partitions)
        await consumer.seek_to_end(*partitions)
        for partition in partitions:
            await consumer.position(partition)  # pin the end now, before any send
        self._consumer = consumer

    async def run(self) -> None:
        """Consume until cancelled."""
        assert self._consumer is not None
        while True:
            batches = await self._consumer.getmany(timeout_ms=200, max_records=5000)
            for partition, records in batches.items():
                for record in records:
                    if partition.topic == FEED:
                        self.deliveries.on_feed(record)
                    elif partition.topic == Topic.CONCERNS_SUBMITTED_DLQ.value:
                        self.dead_lettered.add((record.key or b"").decode(errors="replace"))
                    else:
                        self._take(partition.topic, record.value or b"", record.timestamp / 1000)

    async def stop(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()

    def _take(self, topic: str, value: bytes, timestamp: float) -> None:
        event: dict[str, Any] = json.loads(value)
        payload: dict[str, Any] = event["payload"]
        concern = self.concerns.setdefault(str(payload["concern_id"]), Followed())
        if topic == Topic.CONCERNS_RECEIVED.value:
            concern.announced_at = timestamp
            self.received_sizes.append(len(value))
            reference = str(payload["concern"]["source_reference"])
            self.references[reference] = str(payload["concern_id"])
            return
        if topic == Topic.CONCERNS_ROUTED.value:
            concern.expected = {str(r["notification_id"]) for r in payload["recipients"]}
            concern.taken_up_at = _epoch(event["occurred_at"])
        else:
            self.notification_sizes.append(len(value))
            agency = str(payload["recipient_agency"])
            for follower in (self.deliveries, self.webhooks):
                follower.routed(str(event["event_id"]), agency, timestamp)
            concern.seen[str(payload["notification_id"])] = timestamp
            if concern.received_at is None:
                concern.received_at = _epoch(payload["received_at"])
        expected = concern.expected
        if concern.done_at is None and expected is not None and expected <= concern.seen.keys():
            concern.done_at = max(concern.seen[n] for n in expected)
            self.routed += 1


def _epoch(stamp: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(stamp).timestamp()


@dataclass(frozen=True)
class PipelineResult:
    """The end-to-end figures of one run."""

    posted: int
    accepted: int
    routed: int
    started: float
    last_notification: float
    end_to_end: Latencies
    intake_client: Latencies
    stages: tuple[Latencies, ...]  # end to end in three parts, in order (see `stages`)
    intake_accepted_per_s: float
    notifications: int
    received_size: int
    notification_size: int
    failures: dict[str, int]
    deliveries: DeliveryResult
    webhooks: DeliveryResult

    @property
    def concerns_per_s(self) -> float:
        return self.routed / max(self.last_notification - self.started, 1e-9)

    @property
    def fan_out(self) -> float:
        return self.notifications / max(self.routed, 1)


async def _progress(run: OpenLoopRun, watcher: Watcher, stop: asyncio.Event) -> None:
    begun = time.monotonic()
    while not stop.is_set():
        await asyncio.sleep(1.0)
        say(
            f"  {time.monotonic() - begun:5.0f} s  sent {run.sent:>7}  accepted {run.accepted:>7}"
            f"  routed {watcher.routed:>7}  on the feed {watcher.deliveries.delivered:>7}"
            f"  by webhook {watcher.webhooks.delivered:>7}"
            f"  failed {run.failed}"
        )


async def run_pipeline(
    *, intake_url: str, bootstrap_servers: str, token: str, count: int, rate: float,
    receiver_url: str | None = None,
) -> PipelineResult:  # fmt: skip
    """Post `count` concerns at `rate`/s and wait (bounded) until each is routed and delivered."""
    bodies = concern_bodies(count)
    watcher = Watcher(bootstrap_servers, has_receiver=receiver_url is not None)
    await watcher.start()
    consuming = asyncio.create_task(watcher.run())
    receiving = asyncio.create_task(
        follow_receiver(receiver_url, watcher.webhooks) if receiver_url else asyncio.sleep(0)
    )
    run = OpenLoopRun(offered_rate=rate)
    stop = asyncio.Event()
    progress = asyncio.create_task(_progress(run, watcher, stop))
    try:
        async with make_client({"Authorization": f"Bearer {token}"}) as client:
            await open_loop(client, f"{intake_url}/v1/concerns", bodies, rate=rate, run=run)
        ids = {o.concern_id for o in run.outcomes if o.concern_id}
        deadline = time.monotonic() + max(60.0, count / rate)
        while time.monotonic() < deadline and not _settled(watcher, ids):
            for task in (consuming, receiving):
                if task.done():
                    task.result()
            await asyncio.sleep(0.2)
    finally:
        stop.set()
        progress.cancel()
        consuming.cancel()
        receiving.cancel()
        await asyncio.gather(progress, consuming, receiving, return_exceptions=True)
        await watcher.stop()
    return _result(run, watcher, ids)


def _routed(watcher: Watcher, ids: set[str]) -> int:
    return sum(1 for i in ids if (c := watcher.concerns.get(i)) and c.done_at is not None)


def _settled(watcher: Watcher, ids: set[str]) -> bool:
    """Every concern routed and every police notification on its feed and taken by its
    receiver (where the stack has them)."""
    feed, webhooks = watcher.deliveries, watcher.webhooks
    on_feed = not watcher.has_feed or feed.delivered == feed.wanted
    taken = not watcher.has_receiver or webhooks.delivered == webhooks.wanted
    return _routed(watcher, ids) == len(ids) and on_feed and taken


def _result(run: OpenLoopRun, watcher: Watcher, ids: set[str]) -> PipelineResult:
    end_to_end = Latencies("end to end (accepted -> notified)")
    intake_client = Latencies("intake POST (client, open loop)")
    intake_client.record_all(run.client_latencies())
    done = [c for i in ids if (c := watcher.concerns.get(i)) and c.done_at is not None]
    for concern in done:
        if concern.done_at is not None and concern.received_at is not None:
            end_to_end.record(concern.done_at - concern.received_at)
    return PipelineResult(
        posted=run.sent,
        accepted=run.accepted,
        routed=len(done),
        started=run.started,
        last_notification=max((c.done_at or 0.0 for c in done), default=run.started),
        end_to_end=end_to_end,
        intake_client=intake_client,
        stages=stages(done),
        intake_accepted_per_s=run.accepted_per_s(),
        notifications=sum(len(c.expected or ()) for c in done),
        received_size=_mean(watcher.received_sizes, default=2000),
        notification_size=_mean(watcher.notification_sizes, default=1500),
        failures=_failures(run),
        deliveries=watcher.deliveries.result(run.started),
        webhooks=watcher.webhooks.result(run.started),
    )


# The parts of end to end, in order: the key of their figures, and their name as printed.
STAGES = {
    "stage_intake": "intake: accepted -> on Kafka",
    "stage_waiting_for_routing": "routing: on Kafka -> taken up",
    "stage_routing": "routing: taken up -> notified",
}


def stages(done: Sequence[Followed]) -> tuple[Latencies, ...]:
    """Each concern's end to end in its three parts (see the module's docstring)."""
    parts = tuple(Latencies(name, part=True) for name in STAGES.values())
    for c in done:
        if (
            c.received_at is None
            or c.announced_at is None
            or c.taken_up_at is None
            or c.done_at is None
        ):
            continue
        marks = (c.received_at, c.announced_at, c.taken_up_at, c.done_at)
        for part, start, end in zip(parts, marks, marks[1:], strict=False):
            part.record(end - start)
    return parts


def _mean(values: Sequence[int], *, default: int) -> int:
    return round(sum(values) / len(values)) if values else default


def _failures(run: OpenLoopRun) -> dict[str, int]:
    """Failed sends by status (or error), so a refusal is never mistaken for slowness."""
    counted: dict[str, int] = {}
    for outcome in run.outcomes:
        if outcome.error is not None:
            reason = str(outcome.status) if outcome.status else outcome.error.split(":")[0]
            counted[reason] = counted.get(reason, 0) + 1
    return counted
