"""Audit's side of the run: entries appended while it ran, an append burst, and raw COPY.

During the end-to-end run, audit can only append as fast as the pipeline produces events, so its
capacity is measured separately: a burst of audit events (actor `bench`, action `audit.queried`,
details naming the run, so they are told apart from real ones in the log) is put on
`audit.events` all at once, and appending is timed from the first record sent to the moment
every entry of the burst is seen committed (looked for every 20 ms, so the figure errs slow).
The records go out in ready-made batches, one partition after another, so that the bench's own
producer, a few microseconds a record, does not set the pace. The baseline copies exactly the
burst's rows, with asyncpg's `copy_records_to_table`, into a temporary table shaped like
`audit.entries`.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from aiokafka import AIOKafkaProducer

from schemas.v1 import Actor, AuditAction, AuditEvent, AuditEventPayload, Topic

COLUMNS = (
    "seq", "event_id", "action", "actor_subject", "actor_agency", "actor_role", "concern_id",
    "notification_id", "occurred_at", "recorded_at", "content", "previous_hash", "entry_hash",
    "leaf_hash",
)  # fmt: skip
NEWEST_SEQ = "SELECT coalesce(max(seq), 0) FROM audit.entries"
COUNT_AFTER = "SELECT count(*) FROM audit.entries WHERE seq > $1"


def asyncpg_dsn(database_url: str) -> str:
    """The DATABASE_URL as asyncpg takes it (no SQLAlchemy driver suffix)."""
    scheme, rest = database_url.split("://", 1)
    return f"{scheme.split('+', 1)[0]}://{rest}"


async def last_seq(dsn: str) -> int:
    """The newest audit entry's sequence number, 0 if none."""
    connection = await asyncpg.connect(dsn)
    try:
        return int(await connection.fetchval(NEWEST_SEQ))
    finally:
        await connection.close()


async def quiet(dsn: str, *, quiet_s: float, limit_s: float) -> None:
    """Wait (at most `limit_s`) until audit has appended nothing for `quiet_s`."""
    connection = await asyncpg.connect(dsn)
    try:
        newest, changed = -1, time.monotonic()
        deadline = changed + limit_s
        while time.monotonic() < deadline:
            now = int(await connection.fetchval(NEWEST_SEQ))
            if now != newest:
                newest, changed = now, time.monotonic()
            elif time.monotonic() - changed >= quiet_s:
                return
            await asyncio.sleep(0.2)
    finally:
        await connection.close()


@dataclass(frozen=True)
class AuditResult:
    """Entries appended during the run and when the last of them was recorded."""

    entries: int
    last_recorded: float
    rows: list[tuple[Any, ...]]

    def per_s(self, started: float) -> float:
        return self.entries / max(self.last_recorded - started, 1e-9)


async def settle(
    dsn: str, after_seq: int, *, quiet_s: float = 2.0, limit_s: float = 60
) -> AuditResult:
    """Wait until no entry has been appended for `quiet_s`; the entries after `after_seq`."""
    connection = await asyncpg.connect(dsn)
    try:
        count, changed, deadline = -1, time.monotonic(), time.monotonic() + limit_s
        while time.monotonic() < deadline:
            now = int(await connection.fetchval(COUNT_AFTER, after_seq))
            if now != count:
                count, changed = now, time.monotonic()
            elif time.monotonic() - changed >= quiet_s:
                break
            await asyncio.sleep(0.25)
        rows = await connection.fetch(
            f"SELECT {', '.join(COLUMNS)} FROM audit.entries WHERE seq > $1 ORDER BY seq",
            after_seq,
        )
    finally:
        await connection.close()
    last = max((row["recorded_at"].timestamp() for row in rows), default=0.0)
    return AuditResult(entries=len(rows), last_recorded=last, rows=[tuple(r) for r in rows])


async def raw_copy_rows_per_s(dsn: str, rows: list[tuple[Any, ...]]) -> float:
    """Rows per second of one `copy_records_to_table` of these rows into a temporary table."""
    if not rows:
        return 0.0
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(
            # The same indexes as the log itself: appending has to maintain them too.
            "CREATE TEMP TABLE bench_entries "
            "(LIKE audit.entries INCLUDING DEFAULTS INCLUDING INDEXES)"
        )
        started = time.perf_counter()
        await connection.copy_records_to_table("bench_entries", records=rows, columns=COLUMNS)
        elapsed = time.perf_counter() - started
        await connection.execute("DROP TABLE bench_entries")
    finally:
        await connection.close()
    return len(rows) / max(elapsed, 1e-9)


@dataclass(frozen=True)
class BurstResult:
    """How fast audit appended a backlog of events put on Kafka at once."""

    entries: int
    seconds: float
    rows: list[tuple[Any, ...]]

    @property
    def per_s(self) -> float:
        """Entries appended per second."""
        return self.entries / max(self.seconds, 1e-9)


def burst_events(count: int, *, run: str) -> list[AuditEvent]:
    """Audit events of the usual size that say plainly they come from a benchmark."""
    actor = Actor(subject="bench", agency=None, role="service")
    return [
        AuditEvent(
            producer="bench",
            correlation_id=f"bench-{run}",
            payload=AuditEventPayload(
                action=AuditAction.AUDIT_QUERIED,
                actor=actor,
                details={"bench_run": run, "n": index, "filters": {"agency": "bench"}},
            ),
        )
        for index in range(count)
    ]


async def _produce_in_batches(producer: AIOKafkaProducer, topic: str, values: list[bytes]) -> None:
    """Send the values in batches as full as the producer allows, partitions in turn."""
    partitions = sorted(await producer.partitions_for(topic))
    batches = [producer.create_batch()]
    for index, value in enumerate(values):
        key = f"bench-{index}".encode()
        if batches[-1].append(key=key, value=value, timestamp=None) is None:
            batches.append(producer.create_batch())
            batches[-1].append(key=key, value=value, timestamp=None)
    sent = [
        await producer.send_batch(batch, topic, partition=partitions[n % len(partitions)])
        for n, batch in enumerate(batches)
    ]
    await asyncio.gather(*sent)


async def _until_committed(dsn: str, after_seq: int, count: int, *, limit_s: float) -> float:
    """The time at which `count` entries after `after_seq` are first seen (or the limit)."""
    connection = await asyncpg.connect(dsn)
    try:
        deadline = time.monotonic() + limit_s
        while await connection.fetchval(COUNT_AFTER, after_seq) < count:
            if time.monotonic() > deadline:
                break
            await asyncio.sleep(0.02)
        return time.time()
    finally:
        await connection.close()


async def burst(servers: str, dsn: str, *, count: int, run: str) -> BurstResult:
    """Put `count` audit events on Kafka at once; time audit appending all of them."""
    events = [event.model_dump_json().encode() for event in burst_events(count, run=run)]
    after = await last_seq(dsn)
    limit_s = max(60.0, count / 200)
    producer = AIOKafkaProducer(bootstrap_servers=servers, acks="all", linger_ms=5)
    await producer.start()
    started = time.time()
    waiting = asyncio.create_task(_until_committed(dsn, after, count, limit_s=limit_s))
    try:
        await _produce_in_batches(producer, Topic.AUDIT_EVENTS.value, events)
        committed = await waiting
    finally:
        waiting.cancel()
        await producer.stop()
    settled = await settle(dsn, after, quiet_s=2.0, limit_s=limit_s)
    return BurstResult(entries=settled.entries, seconds=committed - started, rows=settled.rows)
