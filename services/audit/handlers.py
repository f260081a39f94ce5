"""Audit's Kafka subscriber: append every audit event once, in batches, then sign a tree head."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import structlog
from faststream import Context
from faststream.middlewares import AckPolicy

from schemas.v1 import AuditEvent, Topic
from services.audit import service
from services.audit.store_uow import SqlAuditUnitOfWork
from services.audit.tree_head import TreeSigner
from services.common.kafka import batch_of, declare_publications
from services.common.runtime import ServiceRuntime

log = structlog.get_logger()
RuntimeContext = Annotated[ServiceRuntime, Context("runtime")]
SignerContext = Annotated[TreeSigner, Context("tree_signer")]
GROUP = "audit"


async def on_audit_events(
    events: list[AuditEvent], runtime: RuntimeContext, signer: SignerContext
) -> None:
    """Append a batch of audit events, skipping any already in the log, and sign the new head."""
    batch = await service.append_audit_events(
        SqlAuditUnitOfWork(runtime), events, signing_key=signer.private_key, now=datetime.now(UTC)
    )
    log.info(
        "audit.appended",
        received=batch.received,
        appended=batch.appended,
        tree_size=batch.tree_size,
    )


def register(runtime: ServiceRuntime, signer: TreeSigner | None = None) -> None:
    """Subscribe audit's handler on the runtime's broker."""
    runtime.broker.context.set_global("runtime", runtime)
    runtime.broker.context.set_global("tree_signer", signer or TreeSigner())
    declare_publications(
        runtime.broker,
        "audit",
        {Topic.AUDIT_EVENTS.value: (AuditEvent, "audit.queried for each query.")},
    )
    runtime.broker.subscriber(
        Topic.AUDIT_EVENTS.value,
        group_id=GROUP,
        batch=True,
        max_records=2000,
        decoder=batch_of(AuditEvent),
        batch_timeout_ms=50,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
    )(on_audit_events)
