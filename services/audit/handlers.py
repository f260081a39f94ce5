"""Audit's Kafka subscriber: append every audit event once, in batches, then sign a tree head."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import structlog
from faststream import Context
from faststream.middlewares import AckPolicy

from schemas.v1 import AuditEvent, Topic
from services.audit import store, store_tree
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
    async with runtime.unit_of_work() as uow:
        appended = await store.append_events(uow.session, events)
        head = await store_tree.add_tree_head(
            uow.session, signing_key=signer.private_key, now=datetime.now(UTC)
        )
        await uow.commit()
    log.info(
        "audit.appended",
        received=len(events),
        appended=appended,
        tree_size=head.tree_size if head else None,
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
