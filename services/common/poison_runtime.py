"""A service's poison guard: dead-lettered records audited through the service's own outbox."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from faststream.kafka import KafkaBroker
from faststream.middlewares import AckPolicy
from pydantic import BaseModel
from sqlalchemy.dialects.postgresql import insert as pg_insert

from schemas.v1 import Topic
from services.common.kafka import IDLE_POLL_MS, waits_in_fetch
from services.common.poison import DeadLetter, M, PoisonGuard, dead_letter_audit
from services.common.runtime import ServiceRuntime

# What a gathering fetch waits for at most: more than any batch at the rates we meet.
GATHER_BYTES = 1 << 20


def outbox_recorder(runtime: ServiceRuntime) -> Callable[[DeadLetter], Awaitable[None]]:
    """Record each dead-lettering as an audit event in the runtime's outbox, in its own commit."""

    async def record(dead: DeadLetter) -> None:
        event = dead_letter_audit(dead, service=runtime.name)
        row = {
            "event_id": event.event_id,
            "topic": Topic.AUDIT_EVENTS.value,
            "key": None,
            "event_type": event.type,
            "correlation_id": event.correlation_id,
            "payload": event.model_dump_json(),
        }
        async with runtime.unit_of_work() as uow:
            # Its id is the record's: dead-lettered again after a failed publish, it is kept once.
            await uow.session.execute(
                pg_insert(runtime.outbox).values(row).on_conflict_do_nothing()
            )
            await uow.commit()
        runtime.relay.wake()

    return record


def poison_guard(runtime: ServiceRuntime, model: type[M]) -> PoisonGuard[M]:
    """The guard for a subscriber of `model` records on this runtime's broker."""
    return PoisonGuard(
        broker=runtime.broker,
        service=runtime.name,
        model=model,
        attempts=runtime.settings.kafka_poison_attempts,
        record_failure=outbox_recorder(runtime),
    )


async def left_to_guard(message: object) -> list[BaseModel]:
    """A batch decoder that decodes nothing: the PoisonGuard decodes each record itself.

    FastStream's own decoding of a batch fails as a whole on one undecodable record, before
    the handler could set it aside; the handler's list[model] still documents the payload.
    """
    return []


def guarded_batches(
    broker: KafkaBroker, topic: str, *, group_id: str, max_records: int, gather_ms: int = 0
) -> Any:
    """The subscriber of a batch handler whose PoisonGuard decodes each record itself.

    A batch is acknowledged only once handled, a new group reads from the start, and the
    subscriber waits in Kafka's fetch for its records (waits_in_fetch). With `gather_ms`, the
    broker holds each fetch up to that long for more records, for a subscriber nobody waits on.
    """
    subscriber: Any = broker.subscriber(
        topic,
        group_id=group_id,
        batch=True,
        decoder=left_to_guard,
        max_records=max_records,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        # When not gathering: answer on the first byte, or after IDLE_POLL_MS when none comes.
        # Kafka answers the moment a record is there, so a longer wait than aiokafka's 500 ms
        # costs no latency; it only makes an idle consumer ask a quarter as often.
        fetch_max_wait_ms=gather_ms or IDLE_POLL_MS,
        fetch_min_bytes=GATHER_BYTES if gather_ms else 1,
    )
    return waits_in_fetch(subscriber)
