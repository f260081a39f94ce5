"""Routing's Kafka subscribers."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import structlog
from faststream import Context
from faststream.middlewares import AckPolicy

from schemas.v1 import AuditEvent, ConcernReceived, ConcernRouted, NotificationRouted, Topic
from services.common.kafka import declare_publications
from services.common.logging import bind_correlation_id
from services.common.outbox import enqueue_all, first_delivery
from services.common.runtime import ServiceRuntime
from services.routing import policy, store
from services.routing.notifications import concern_notifications, routed_events
from services.routing.partnership import Partnership

log = structlog.get_logger()
RuntimeContext = Annotated[ServiceRuntime, Context("runtime")]
PartnershipContext = Annotated[Partnership, Context("partnership")]
GROUP = "routing"


async def on_concern_received(
    event: ConcernReceived, runtime: RuntimeContext, partnership: PartnershipContext
) -> None:
    """Route one received concern to the agencies that should see it."""
    bind_correlation_id(event.correlation_id)
    received = event.payload
    async with runtime.unit_of_work() as uow:
        if not await first_delivery(uow.session, runtime.processed, event.event_id):
            return
        decision = policy.decide_recipients(
            received.concern,
            source_agency=received.source_agency,
            received_at=received.received_at,
            partnership=partnership,
        )
        notifications = concern_notifications(received, decision)
        await store.add_notifications(uow.session, notifications)
        await store.add_concern(uow.session, received)
        keys = policy.child_match_keys(received.concern.subject)
        await enqueue_all(
            uow.session,
            runtime.outbox,
            routed_events(
                received,
                notifications,
                policy_version=decision.policy_version,
                routed_at=datetime.now(UTC),
                correlation_id=event.correlation_id,
                child_key=keys[0] if keys else str(received.concern_id),
            ),
        )
        await uow.commit()
    runtime.relay.wake()
    log.info(
        "concern.routed",
        concern_id=str(received.concern_id),
        recipients=[n.recipient_agency for n in notifications],
    )


def register(runtime: ServiceRuntime, partnership: Partnership) -> None:
    """Subscribe routing's handlers on the runtime's broker."""
    runtime.broker.context.set_global("runtime", runtime)
    runtime.broker.context.set_global("partnership", partnership)
    declare_publications(
        runtime.broker,
        "routing",
        {
            Topic.NOTIFICATIONS_ROUTED.value: (NotificationRouted, "One per recipient, by child."),
            Topic.CONCERNS_ROUTED.value: (ConcernRouted, "Where each concern went."),
            Topic.AUDIT_EVENTS.value: (AuditEvent, "Routing, delivery and every caseworker look."),
        },
    )
    runtime.broker.subscriber(
        Topic.CONCERNS_RECEIVED.value,
        group_id=GROUP,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
    )(on_concern_received)
