"""Intake's Kafka subscribers: concerns submitted over Kafka, and where concerns were routed."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import structlog
from faststream import Context
from faststream.kafka import KafkaMessage
from faststream.middlewares import AckPolicy
from pydantic import ValidationError

from schemas.v1 import AuditEvent, ConcernReceived, ConcernRouted, ConcernSubmitted, Topic
from services.common.auth import AuthError, Role
from services.common.kafka import batch_of, declare_publications
from services.common.logging import bind_correlation_id
from services.common.outbox import first_deliveries
from services.common.runtime import ServiceRuntime
from services.intake import store
from services.intake.accept import accept_concern
from services.intake.policy import Resubmission, timeliness_errors
from services.partnership import Partnership

log = structlog.get_logger()
RuntimeContext = Annotated[ServiceRuntime, Context("runtime")]
PartnershipContext = Annotated[Partnership, Context("partnership")]
GROUP = "intake"


async def on_concerns_routed(events: list[ConcernRouted], runtime: RuntimeContext) -> None:
    """Remember where concerns went, so the agency that raised each can ask."""
    async with runtime.unit_of_work() as uow:
        fresh = await first_deliveries(uow.session, runtime.processed, (e.event_id for e in events))
        await store.record_routings(
            uow.session,
            [
                store.Routing(
                    concern_id=event.payload.concern_id,
                    routed_at=event.payload.routed_at,
                    recipients=[
                        {"agency": r.agency, "reasons": r.reasons} for r in event.payload.recipients
                    ],
                )
                for event in {e.event_id: e for e in events if e.event_id in fresh}.values()
            ],
        )
        await uow.commit()


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
    message: KafkaMessage, runtime: RuntimeContext, partnership: PartnershipContext
) -> None:
    """Accept a concern an agency system put on Kafka, proven by the token in its header."""
    token = message.headers.get("authorization", "").removeprefix("Bearer ").strip()
    if runtime.token_verifier is None:
        raise RuntimeError("No token verifier configured")
    try:
        caller = runtime.token_verifier.verify(token)
    except AuthError:
        await _dead_letter(runtime, message, "authorization: missing, expired or forged token")
        return
    if caller.role not in (Role.AGENCY_SYSTEM, Role.CASEWORKER):
        await _dead_letter(runtime, message, f"authorization: role {caller.role} may not submit")
        return
    if not partnership.has_agency(caller.agency):
        await _dead_letter(runtime, message, f"authorization: unknown agency {caller.agency}")
        return
    try:
        event = ConcernSubmitted.model_validate_json(message.body)
    except ValidationError as error:
        fields = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors()
        )
        await _dead_letter(runtime, message, f"invalid: {fields}")
        return
    late = timeliness_errors(event.payload, datetime.now(UTC))
    if late:
        await _dead_letter(runtime, message, "invalid: " + "; ".join(f"{f}: {m}" for f, m in late))
        return
    bind_correlation_id(event.correlation_id)
    accepted = await accept_concern(
        runtime.engine,
        runtime.outbox,
        concern=event.payload,
        caller=caller,
        channel="kafka",
        correlation_id=event.correlation_id,
    )
    if accepted.outcome is Resubmission.CONFLICT:
        await _dead_letter(
            runtime, message, f"conflict: reference used for concern {accepted.concern_id}"
        )
    runtime.relay.wake()


async def _undecoded(message: KafkaMessage) -> bytes:
    # on_concern_submitted parses the body itself; FastStream's JSON decoding would raise on
    # bytes that are not UTF-8 JSON before the handler runs, and the record would be
    # redelivered forever (blocking its partition) instead of dead-lettered.
    return message.body


def register(runtime: ServiceRuntime, partnership: Partnership) -> None:
    """Subscribe intake's handlers on the runtime's broker."""
    broker = runtime.broker
    broker.context.set_global("runtime", runtime)
    broker.context.set_global("partnership", partnership)
    declare_publications(
        broker,
        "intake",
        {
            Topic.CONCERNS_RECEIVED.value: (ConcernReceived, "Each accepted concern, once."),
            Topic.AUDIT_EVENTS.value: (AuditEvent, "concern.submitted for every submission."),
            Topic.CONCERNS_SUBMITTED_DLQ.value: (bytes, "Refused Kafka submissions, with reason."),
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
        decoder=batch_of(ConcernRouted),
        max_records=500,
        batch_timeout_ms=20,
        **common,
    )(on_concerns_routed)
    broker.subscriber(Topic.CONCERNS_SUBMITTED.value, decoder=_undecoded, **common)(  # type: ignore[call-overload]
        on_concern_submitted
    )
