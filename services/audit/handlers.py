"""Audit's Kafka subscriber: append every audit event once, in batches."""

from __future__ import annotations

from typing import Annotated

import structlog
from faststream import Context
from faststream.middlewares import AckPolicy

from schemas.v1 import AuditEvent, Topic
from services.audit import store
from services.common.kafka import declare_publications
from services.common.runtime import ServiceRuntime

log = structlog.get_logger()
RuntimeContext = Annotated[ServiceRuntime, Context("runtime")]
GROUP = "audit"


async def on_audit_events(events: list[AuditEvent], runtime: RuntimeContext) -> None:
    """Append a batch of audit events, skipping any already in the log."""
    async with runtime.unit_of_work() as uow:
        appended = await store.append_events(uow.session, events)
        await uow.commit()
    log.info("audit.appended", received=len(events), appended=appended)


def register(runtime: ServiceRuntime) -> None:
    """Subscribe audit's handler on the runtime's broker."""
    runtime.broker.context.set_global("runtime", runtime)
    declare_publications(
        runtime.broker, {Topic.AUDIT_EVENTS.value: (AuditEvent, "audit.queried for each query.")}
    )
    runtime.broker.subscriber(
        Topic.AUDIT_EVENTS.value,
        group_id=GROUP,
        batch=True,
        max_records=1000,
        batch_timeout_ms=50,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
    )(on_audit_events)
