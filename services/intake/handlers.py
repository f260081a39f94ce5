"""Intake's Kafka subscribers: concerns submitted over Kafka, where concerns went, how far each
recipient has got."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import structlog
from faststream import Context
from faststream.kafka import KafkaMessage
from faststream.middlewares import AckPolicy

from schemas.v1 import AuditEvent, ConcernReceived, ConcernRouted, Topic
from schemas.v1.events import NotificationChanged
from services.common.auth import AuthError, Caller
from services.common.kafka import declare_publications
from services.common.poison import PoisonGuard
from services.common.poison_runtime import left_to_guard, poison_guard
from services.common.runtime import ServiceRuntime
from services.intake import service
from services.intake.unit_of_work import intake_unit_of_work
from services.partnership.holder import PartnershipHolder

log = structlog.get_logger()
RuntimeContext = Annotated[ServiceRuntime, Context("runtime")]
HolderContext = Annotated[PartnershipHolder, Context("partnership_holder")]
RoutedGuard = Annotated[PoisonGuard[ConcernRouted], Context("routed_guard")]
ChangedGuard = Annotated[PoisonGuard[NotificationChanged], Context("changed_guard")]
GROUP = "intake"


async def on_concerns_routed(
    events: list[ConcernRouted], message: KafkaMessage, runtime: RuntimeContext, guard: RoutedGuard
) -> None:
    """Remember where concerns went, so the agency that raised each can ask.

    A record that fails on its own goes to concerns.routed.dlq.
    """

    async def record(decoded: list[ConcernRouted]) -> None:
        await service.record_routings(intake_unit_of_work(runtime), decoded)

    await guard.handle(message.raw_message, record)


async def on_notifications_changed(
    events: list[NotificationChanged],
    message: KafkaMessage,
    runtime: RuntimeContext,
    guard: ChangedGuard,
) -> None:
    """Keep how far each recipient has got with a concern, so the agency that raised it can ask.

    A record that fails on its own goes to notifications.changed.dlq.
    """

    async def record(decoded: list[NotificationChanged]) -> None:
        await service.record_progress(intake_unit_of_work(runtime), decoded)

    await guard.handle(message.raw_message, record)


def _record_key(message: KafkaMessage) -> bytes | None:
    record = message.raw_message
    key = getattr(record, "key", None)
    return key if isinstance(key, bytes) else None


async def _dead_letter(runtime: ServiceRuntime, message: KafkaMessage, reason: str) -> None:
    headers = {"content-type": "application/json", "dlq-reason": reason[:1000]}
    await runtime.broker.publish(
        message.body,
        Topic.CONCERNS_SUBMITTED_DLQ.value,
        key=_record_key(message),
        headers=headers,
    )
    log.warning("concern.dead_lettered", reason=reason[:200])


async def on_concern_submitted(
    message: KafkaMessage, runtime: RuntimeContext, holder: HolderContext
) -> None:
    """Accept a concern an agency system put on Kafka, proven by the token in its header."""
    token = message.headers.get("authorization", "").removeprefix("Bearer ").strip()
    if runtime.token_verifier is None:
        raise RuntimeError("No token verifier configured")
    try:
        caller: Caller | None = runtime.token_verifier.verify(token)
    except AuthError:
        caller = None
    result = await service.submit_from_kafka(
        intake_unit_of_work(runtime),
        holder.current,
        caller=caller,
        body=message.body,
        now=datetime.now(UTC),
    )
    if isinstance(result, service.DeadLetter):
        await _dead_letter(runtime, message, result.reason)
    else:
        runtime.relay.wake()


async def _undecoded(message: KafkaMessage) -> bytes:
    # on_concern_submitted parses the body itself; FastStream's JSON decoding would raise on
    # bytes that are not UTF-8 JSON before the handler runs, and the record would be
    # redelivered forever (blocking its partition) instead of dead-lettered.
    return message.body


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
    common = {
        "group_id": GROUP,
        "auto_offset_reset": "earliest",
        "ack_policy": AckPolicy.NACK_ON_ERROR,
    }
    broker.subscriber(  # type: ignore[call-overload]
        Topic.CONCERNS_ROUTED.value,
        batch=True,
        decoder=left_to_guard,
        max_records=500,
        batch_timeout_ms=20,
        **common,
    )(on_concerns_routed)
    broker.subscriber(  # type: ignore[call-overload]
        Topic.NOTIFICATIONS_CHANGED.value,
        batch=True,
        decoder=left_to_guard,
        max_records=500,
        batch_timeout_ms=20,
        **common,
    )(on_notifications_changed)
    broker.subscriber(Topic.CONCERNS_SUBMITTED.value, decoder=_undecoded, **common)(  # type: ignore[call-overload]
        on_concern_submitted
    )
