"""Intake's Kafka subscribers: concerns submitted over Kafka, where concerns went, how far each
recipient has got."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated

import structlog
from aiokafka.structs import ConsumerRecord

from schemas.v1 import AuditEvent, ConcernReceived, ConcernRouted, ConcernSubmitted, Topic
from schemas.v1.events import NotificationChanged
from services.common.auth import AuthError, Caller
from services.common.kafka import ConsumedMessage, FromContext, declare_publications
from services.common.poison import PoisonGuard
from services.common.poison_runtime import guarded_batches, poison_guard
from services.common.runtime import ServiceRuntime
from services.intake import service
from services.intake.unit_of_work import intake_unit_of_work
from services.partnership.holder import PartnershipHolder

log = structlog.get_logger()
RuntimeContext = Annotated[ServiceRuntime, FromContext("runtime")]
HolderContext = Annotated[PartnershipHolder, FromContext("partnership_holder")]
RoutedGuard = Annotated[PoisonGuard[ConcernRouted], FromContext("routed_guard")]
ChangedGuard = Annotated[PoisonGuard[NotificationChanged], FromContext("changed_guard")]
GROUP = "intake"
# Submissions of one batch accepted at once (each holds a database connection meanwhile).
SUBMISSIONS_AT_ONCE = 8


async def on_concerns_routed(
    events: list[ConcernRouted],
    message: ConsumedMessage,
    runtime: RuntimeContext,
    guard: RoutedGuard,
) -> None:
    """Remember where concerns went, so the agency that raised each can ask.

    A record that fails on its own goes to concerns.routed.dlq.
    """

    async def record(decoded: list[ConcernRouted]) -> None:
        await service.record_routings(intake_unit_of_work(runtime), decoded)

    await guard.handle(message.raw_message, record)


async def on_notifications_changed(
    events: list[NotificationChanged],
    message: ConsumedMessage,
    runtime: RuntimeContext,
    guard: ChangedGuard,
) -> None:
    """Keep how far each recipient has got with a concern, so the agency that raised it can ask.

    A record that fails on its own goes to notifications.changed.dlq.
    """

    async def record(decoded: list[NotificationChanged]) -> None:
        await service.record_progress(intake_unit_of_work(runtime), decoded)

    await guard.handle(message.raw_message, record)


def _header(record: ConsumerRecord[bytes, bytes], name: str) -> str:
    for key, value in record.headers or ():
        if key.lower() == name:
            return str(value.decode("utf-8", errors="replace"))
    return ""


async def _dead_letter(
    runtime: ServiceRuntime, record: ConsumerRecord[bytes, bytes], reason: str
) -> None:
    headers = {"content-type": "application/json", "dlq-reason": reason[:1000]}
    await runtime.broker.publish(
        record.value or b"",
        Topic.CONCERNS_SUBMITTED_DLQ.value,
        key=record.key if isinstance(record.key, bytes) else None,
        headers=headers,
    )
    log.warning("concern.dead_lettered", reason=reason[:200])


async def on_concerns_submitted(
    submitted: list[ConcernSubmitted],
    message: ConsumedMessage,
    runtime: RuntimeContext,
    holder: HolderContext,
) -> None:
    """Accept the concerns agency systems put on Kafka, each proven by the token in its header;
    a refused one goes to concerns.submitted.dlq with the reason.

    A batch at a time, so its offsets are committed once (a commit costs more than accepting a
    concern), each key's records in their order; redelivered after a crash, an accepted one is
    a replay, not a second.
    """
    verifier = runtime.token_verifier
    if verifier is None:
        raise RuntimeError("No token verifier configured")
    partnership = holder.current
    records: tuple[ConsumerRecord[bytes, bytes], ...] = message.raw_message

    async def take(record: ConsumerRecord[bytes, bytes]) -> None:
        token = _header(record, "authorization").removeprefix("Bearer ").strip()
        try:
            caller: Caller | None = verifier.verify(token)
        except AuthError:
            caller = None
        result = await service.submit_from_kafka(
            intake_unit_of_work(runtime),
            partnership,
            caller=caller,
            body=record.value or b"",
            now=datetime.now(UTC),
        )
        if isinstance(result, service.DeadLetter):
            await _dead_letter(runtime, record, result.reason)

    # Records under one key (an agency's source reference) in the order they came; the others
    # side by side, so one round trip's wait does not hold up the batch.
    in_order: dict[object, list[ConsumerRecord[bytes, bytes]]] = {}
    for index, record in enumerate(records):
        in_order.setdefault(record.key if record.key is not None else index, []).append(record)
    room = asyncio.Semaphore(SUBMISSIONS_AT_ONCE)

    async def take_in_order(group: list[ConsumerRecord[bytes, bytes]]) -> None:
        async with room:
            for record in group:
                await take(record)

    async with asyncio.TaskGroup() as group:
        for same_key in in_order.values():
            group.create_task(take_in_order(same_key))


def register(runtime: ServiceRuntime, holder: PartnershipHolder) -> None:
    """Subscribe intake's handlers on the runtime's broker."""
    broker = runtime.broker
    broker.context.set_global("runtime", runtime)
    broker.context.set_global("partnership_holder", holder)
    broker.context.set_global("routed_guard", poison_guard(runtime, ConcernRouted))
    broker.context.set_global("changed_guard", poison_guard(runtime, NotificationChanged))
    declare_publications(
        broker,
        "intake",
        {
            Topic.CONCERNS_RECEIVED.value: (ConcernReceived, "Each accepted concern, once."),
            Topic.AUDIT_EVENTS.value: (AuditEvent, "concern.submitted for every submission."),
            Topic.CONCERNS_SUBMITTED_DLQ.value: (bytes, "Refused Kafka submissions, with reason."),
            Topic.CONCERNS_ROUTED_DLQ.value: (bytes, "Records that kept failing, with dlq-reason."),
            Topic.NOTIFICATIONS_CHANGED_DLQ.value: (
                bytes,
                "Records that kept failing, with dlq-reason.",
            ),
        },
    )
    # Batches whose records each handler parses itself: FastStream's decoding would fail a
    # batch on one record that is not JSON, before it could be set aside or dead-lettered.
    # Where a concern went and how far it has got are read by people, never waited on by the
    # pipeline, so their fetches gather records for a while; submissions are answered at once.
    for topic, handler, most, gather_ms in (
        (Topic.CONCERNS_ROUTED, on_concerns_routed, 500, 200),
        (Topic.NOTIFICATIONS_CHANGED, on_notifications_changed, 500, 200),
        (Topic.CONCERNS_SUBMITTED, on_concerns_submitted, 200, 0),
    ):
        guarded_batches(broker, topic.value, group_id=GROUP, max_records=most, gather_ms=gather_ms)(
            handler
        )
