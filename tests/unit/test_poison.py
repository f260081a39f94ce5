"""Poison records: found by halving a failing batch, dead-lettered unchanged; outages still wait."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import pytest
import sqlalchemy.exc
from pydantic import ValidationError

from schemas.v1 import Actor, AuditAction, AuditEvent, AuditEventPayload
from services.common.poison import DeadLetter, PoisonGuard, dead_letter_audit, failure_reason


@dataclass
class Record:
    """The parts of an aiokafka ConsumerRecord the guard reads."""

    value: bytes
    offset: int
    key: bytes | None = b"concern-1"
    topic: str = "audit.events"
    partition: int = 3
    headers: tuple[tuple[str, bytes], ...] = (("event-type", b"audit.event"),)


@dataclass
class FakeBroker:
    published: list[tuple[Any, str, dict[str, Any]]] = field(default_factory=list)

    async def publish(self, body: Any, topic: str, **options: Any) -> None:
        self.published.append((body, topic, options))


def an_event(subject: str) -> AuditEvent:
    return AuditEvent(
        producer="test",
        correlation_id="c",
        payload=AuditEventPayload(
            action=AuditAction.NOTIFICATION_VIEWED,
            actor=Actor(subject=subject, agency="nm-csc", role="caseworker"),
        ),
    )


def records(*subjects: str) -> list[Record]:
    return [
        Record(value=b"{not json" if s == "garbled" else an_event(s).model_dump_json().encode(),
               offset=n)
        for n, s in enumerate(subjects)
    ]  # fmt: skip


class Handler:
    """Fails any batch holding a `poison` event; raises `outage` instead when told to."""

    def __init__(self, outage: Exception | None = None) -> None:
        self.handled: list[str] = []
        self.calls = 0
        self.outage = outage

    async def __call__(self, events: list[AuditEvent]) -> None:
        self.calls += 1
        if self.outage is not None:
            raise self.outage
        if any(e.payload.actor.subject == "poison" for e in events):
            raise ValueError("refused: includes a value we must never log, like a name")
        self.handled += [e.payload.actor.subject for e in events]


def a_guard(broker: FakeBroker, failures: list[DeadLetter]) -> PoisonGuard[AuditEvent]:
    async def record(dead: DeadLetter) -> None:
        failures.append(dead)

    return PoisonGuard(broker=broker, service="audit", model=AuditEvent,  # type: ignore[arg-type]
                       attempts=5, record_failure=record, pause_seconds=0)  # fmt: skip


async def test_a_poison_record_is_dead_lettered_unchanged_and_the_rest_handled_in_order() -> None:
    broker, failures, handler = FakeBroker(), [], Handler()
    batch = records("a", "b", "poison", "c", "garbled", "d", "e")
    await a_guard(broker, failures).handle(batch, handler)
    assert handler.handled == ["a", "b", "c", "d", "e"]
    assert [(f.offset, f.reason.split(":")[0]) for f in failures] == [
        (2, "ValueError"),
        (4, "ValidationError"),
    ]
    assert [(body, topic) for body, topic, _ in broker.published] == [
        (batch[2].value, "audit.events.dlq"),
        (batch[4].value, "audit.events.dlq"),
    ]
    options = broker.published[0][2]
    assert options["key"] == b"concern-1"
    assert options["headers"]["event-type"] == "audit.event"
    assert options["headers"]["dlq-reason"] == "ValueError: the handler failed on this record"
    assert "name" not in options["headers"]["dlq-reason"]


async def test_a_good_batch_is_handled_in_one_call() -> None:
    broker, failures, handler = FakeBroker(), [], Handler()
    await a_guard(broker, failures).handle(records("a", "b", "c"), handler)
    assert (handler.handled, handler.calls, broker.published) == (["a", "b", "c"], 1, [])


async def test_a_poison_record_fails_exactly_the_configured_number_of_times_alone() -> None:
    broker, failures, handler = FakeBroker(), [], Handler()
    await a_guard(broker, failures).handle(records("poison"), handler)
    assert handler.calls == 5
    assert len(broker.published) == 1


@pytest.mark.parametrize(
    "outage",
    [
        sqlalchemy.exc.OperationalError("SELECT 1", {}, ConnectionRefusedError()),
        sqlalchemy.exc.DBAPIError("SELECT 1", {}, asyncpg.exceptions.CannotConnectNowError()),
        ConnectionRefusedError(),
        TimeoutError(),
    ],
)
async def test_a_database_outage_is_not_poison_it_is_raised_to_wait_and_retry(
    outage: Exception,
) -> None:
    broker, failures, handler = FakeBroker(), [], Handler(outage)
    with pytest.raises(type(outage)):
        await a_guard(broker, failures).handle(records("a", "poison"), handler)
    assert (handler.calls, broker.published, failures) == (1, [], [])


def test_a_validation_reason_names_fields_never_values() -> None:
    with pytest.raises(ValidationError) as caught:
        AuditEvent.model_validate_json(b'{"producer": "Jane Doe"}')
    reason = failure_reason(caught.value)
    assert reason.startswith("ValidationError: ")
    assert "payload: missing" in reason
    assert "Jane" not in reason


def test_a_dead_lettering_is_audited_once_with_where_and_why() -> None:
    dead = DeadLetter(topic="audit.events", partition=3, offset=7, reason="ValueError: x")
    event = dead_letter_audit(dead, service="audit")
    assert event.event_id == dead_letter_audit(dead, service="audit").event_id
    assert event.payload.action is AuditAction.RECORD_DEAD_LETTERED
    assert event.payload.details["dead_letter_topic"] == "audit.events.dlq"
    assert (event.payload.concern_id, event.payload.fields) == (None, [])
