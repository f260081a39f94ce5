"""Poison records: a record that keeps failing goes to `<topic>.dlq`, and its partition moves on.

An outage (the database or Kafka unreachable) is not poison: it is raised as before, so the
batch waits and is delivered again. Any other failure of a batch is narrowed down by halving
it until the record(s) that fail on their own are found; each is tried `attempts` times, then
published unchanged to `<topic>.dlq` with a `dlq-reason` header, audited and counted.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import aiokafka.errors
import sqlalchemy.exc
import structlog
from faststream.kafka import KafkaBroker
from prometheus_client import Counter
from pydantic import BaseModel, ValidationError

from schemas.v1 import Actor, AuditAction, AuditEvent, AuditEventPayload
from services.common.problems import UNAVAILABLE

log = structlog.get_logger()
M = TypeVar("M", bound=BaseModel)

DEAD_LETTERED = Counter(
    "kafka_records_dead_lettered_total", "Records sent to a dead-letter topic", ["service", "topic"]
)
# What Kafka raises while a broker is restarting or unreachable: wait, as for the database.
KAFKA_UNAVAILABLE: tuple[type[Exception], ...] = (
    aiokafka.errors.KafkaConnectionError,
    aiokafka.errors.KafkaTimeoutError,
    aiokafka.errors.NodeNotReadyError,
    aiokafka.errors.RequestTimedOutError,
    aiokafka.errors.NotLeaderForPartitionError,
    aiokafka.errors.LeaderNotAvailableError,
    aiokafka.errors.NotEnoughReplicasError,
    aiokafka.errors.ProducerClosed,
)
NAMESPACE = uuid.UUID("6f1c2b9e-43a5-4d1e-9d7b-d1e0c0a5e7a1")


def dlq_topic(topic: str) -> str:
    """The dead-letter topic of a topic."""
    return f"{topic}.dlq"


def is_outage(error: BaseException) -> bool:
    """Whether the error (or one it came from) says the database or Kafka is unreachable."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, UNAVAILABLE + KAFKA_UNAVAILABLE):
            return True
        if isinstance(current, sqlalchemy.exc.DBAPIError):
            if current.connection_invalidated:
                return True
            if isinstance(current.orig, BaseException):
                current = current.orig  # the driver's own error, which says what happened
                continue
        current = current.__cause__ or current.__context__
    return False


def failure_reason(error: BaseException) -> str:
    """The exception's type and a short message that holds no value from the record.

    Validation errors name the fields and what was wrong with them, never the input; any other
    message might quote the record (a database's DETAIL line does), so only its type is kept.
    """
    kind = type(error).__name__
    if isinstance(error, ValidationError):
        problems = "; ".join(
            f"{'.'.join(str(part) for part in e['loc']) or 'value'}: {e['type']}"
            for e in error.errors(include_input=False, include_url=False)[:5]
        )
        return f"{kind}: {problems}"[:500]
    return f"{kind}: the handler failed on this record"


@dataclass(frozen=True)
class DeadLetter:
    """A record sent to its dead-letter topic: where it was, and why (no content)."""

    topic: str
    partition: int
    offset: int
    reason: str

    @property
    def event_id(self) -> uuid.UUID:
        """A stable id for the audit of this dead-lettering: the same record, the same id."""
        return uuid.uuid5(NAMESPACE, f"{self.topic}/{self.partition}/{self.offset}")


@dataclass
class PoisonGuard(Generic[M]):
    """Handles a batch of raw records so that poison records are dead-lettered, not retried."""

    broker: KafkaBroker
    service: str
    model: type[M]
    attempts: int
    record_failure: Callable[[DeadLetter], Awaitable[None]]
    pause_seconds: float = 0.2

    async def handle(
        self, records: Sequence[Any], handler: Callable[[list[M]], Awaitable[None]]
    ) -> None:
        """Decode and handle the records; dead-letter those that fail alone `attempts` times."""
        await self._settle(list(records), handler)

    async def _settle(
        self, records: list[Any], handler: Callable[[list[M]], Awaitable[None]]
    ) -> None:
        if not records:
            return
        tries = self.attempts if len(records) == 1 else 1
        failure: Exception | None = None
        for attempt in range(1, tries + 1):
            try:
                await handler([self.model.model_validate_json(r.value) for r in records])
                return
            except Exception as error:
                if is_outage(error):
                    raise
                failure = error
                log.warning(
                    "kafka.records_failed",
                    error=type(error).__name__,
                    records=len(records),
                    attempt=attempt,
                )
                if attempt < tries:
                    await asyncio.sleep(self.pause_seconds * attempt)
        if len(records) == 1 and failure is not None:
            await self._dead_letter(records[0], failure)
            return
        middle = len(records) // 2
        await self._settle(records[:middle], handler)
        await self._settle(records[middle:], handler)

    async def _dead_letter(self, record: Any, error: Exception) -> None:
        dead = DeadLetter(
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            reason=failure_reason(error),
        )
        # Audited first: its id is stable, so a retry after a failed publish records it once.
        await self.record_failure(dead)
        headers = {name: value.decode("utf-8", "replace") for name, value in record.headers or ()}
        headers["dlq-reason"] = dead.reason
        await self.broker.publish(
            record.value,
            dlq_topic(record.topic),
            key=record.key,
            headers=headers,
            correlation_id=headers.get("correlation_id"),
        )
        DEAD_LETTERED.labels(self.service, record.topic).inc()
        log.warning(
            "kafka.record_dead_lettered",
            topic=dead.topic,
            partition=dead.partition,
            offset=dead.offset,
            reason=dead.reason,
        )


def dead_letter_audit(dead: DeadLetter, *, service: str) -> AuditEvent:
    """The audit event of a dead-lettering: where the record was and why, never its content."""
    return AuditEvent(
        event_id=dead.event_id,
        producer=service,
        correlation_id=f"dlq-{dead.topic}-{dead.partition}-{dead.offset}",
        payload=AuditEventPayload(
            action=AuditAction.RECORD_DEAD_LETTERED,
            actor=Actor(subject=service, agency=None, role="service"),
            details={
                "topic": dead.topic,
                "partition": dead.partition,
                "offset": dead.offset,
                "dead_letter_topic": dlq_topic(dead.topic),
                "reason": dead.reason,
            },
        ),
    )
