"""Audit's Kafka subscriber: append every audit event once, in batches, then sign a tree head."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import structlog

from schemas.v1 import AuditEvent, Topic
from services.audit import service
from services.audit.store_uow import SqlAuditUnitOfWork
from services.audit.tree_head import TreeSigner
from services.common.kafka import ConsumedMessage, FromContext, declare_publications
from services.common.poison import PoisonGuard
from services.common.poison_runtime import guarded_batches, poison_guard
from services.common.runtime import ServiceRuntime

log = structlog.get_logger()
RuntimeContext = Annotated[ServiceRuntime, FromContext("runtime")]
SignerContext = Annotated[TreeSigner, FromContext("tree_signer")]
GuardContext = Annotated[PoisonGuard[AuditEvent], FromContext("poison_guard")]
GROUP = "audit"


async def on_audit_events(
    events: list[AuditEvent],
    message: ConsumedMessage,
    runtime: RuntimeContext,
    signer: SignerContext,
    guard: GuardContext,
) -> None:
    """Append a batch of audit events, skipping any already in the log, and sign the new head.

    A record that fails on its own goes to audit.events.dlq (the guard decodes each record).
    """

    async def append(decoded: list[AuditEvent]) -> None:
        batch = await service.append_audit_events(
            SqlAuditUnitOfWork(runtime),
            decoded,
            signing_key=signer.private_key,
            now=datetime.now(UTC),
        )
        log.info(
            "audit.appended",
            received=batch.received,
            appended=batch.appended,
            tree_size=batch.tree_size,
        )

    await guard.handle(message.raw_message, append)


def register(runtime: ServiceRuntime, signer: TreeSigner | None = None) -> None:
    """Subscribe audit's handler on the runtime's broker."""
    runtime.broker.context.set_global("runtime", runtime)
    runtime.broker.context.set_global("tree_signer", signer or TreeSigner())
    runtime.broker.context.set_global("poison_guard", poison_guard(runtime, AuditEvent))
    declare_publications(
        runtime.broker,
        "audit",
        {
            Topic.AUDIT_EVENTS.value: (AuditEvent, "audit.queried for each query."),
            Topic.AUDIT_EVENTS_DLQ.value: (bytes, "Records that kept failing, with dlq-reason."),
        },
    )
    guarded_batches(
        runtime.broker, Topic.AUDIT_EVENTS.value, group_id=GROUP, max_records=5000, gather_ms=200
    )(on_audit_events)
