"""Routing's Kafka subscribers."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import structlog
from faststream import Context
from faststream.middlewares import AckPolicy
from sqlalchemy.ext.asyncio import AsyncSession

from schemas.v1 import (
    AuditEvent,
    ConcernReceived,
    ConcernReceivedPayload,
    ConcernRouted,
    NotificationRouted,
    NotificationRoutedPayload,
    Topic,
)
from services.common.kafka import declare_publications
from services.common.logging import bind_correlation_id
from services.common.outbox import enqueue_all, first_delivery
from services.common.runtime import ServiceRuntime
from services.routing import policy, store, store_children
from services.routing.notifications import (
    alert_events,
    concern_notifications,
    cumulative_alert,
    routed_events,
)
from services.routing.partnership import Partnership
from services.routing.store_children import ChildIndexSecret

log = structlog.get_logger()
RuntimeContext = Annotated[ServiceRuntime, Context("runtime")]
PartnershipContext = Annotated[Partnership, Context("partnership")]
ChildIndexContext = Annotated[ChildIndexSecret, Context("child_index")]
GROUP = "routing"


async def on_concern_received(
    event: ConcernReceived,
    runtime: RuntimeContext,
    partnership: PartnershipContext,
    child_index: ChildIndexContext,
) -> None:
    """Route one received concern, add it to its child's chronology, and alert if they add up."""
    bind_correlation_id(event.correlation_id)
    received = event.payload
    secret = await child_index.value(runtime.sessions)
    async with runtime.unit_of_work() as uow:
        if not await first_delivery(uow.session, runtime.processed, event.event_id):
            return
        decision = policy.decide_recipients(
            received.concern,
            source_agency=received.source_agency,
            received_at=received.received_at,
            partnership=partnership,
        )
        now = datetime.now(UTC)
        keys = policy.child_match_keys(received.concern.subject, secret=secret)
        child = await store_children.record_concern(
            uow.session, keys=keys, received=received, now=now
        )
        alert = await _cumulative_alert(uow.session, received, child, partnership)
        notifications = concern_notifications(received, decision, child_id=child.child_id)
        # The alert is stored first, so a newest-first inbox lists the concern above its alert.
        await store.add_notifications(uow.session, [alert] if alert else [])
        await store.add_notifications(uow.session, notifications)
        await store.add_concern(uow.session, received)
        events = routed_events(
            received,
            notifications,
            policy_version=decision.policy_version,
            routed_at=now,
            correlation_id=event.correlation_id,
            child_key=str(child.child_id),
        )
        if alert:
            events += alert_events(alert, routed_at=now, correlation_id=event.correlation_id)
        await enqueue_all(uow.session, runtime.outbox, events)
        await uow.commit()
    runtime.relay.wake()
    log.info(
        "concern.routed",
        concern_id=str(received.concern_id),
        child_id=str(child.child_id),
        recipients=[n.recipient_agency for n in notifications],
        cumulative_alert=alert.recipient_agency if alert else None,
    )


async def _cumulative_alert(
    session: AsyncSession,
    received: ConcernReceivedPayload,
    child: store_children.IndexedChild,
    partnership: Partnership,
) -> NotificationRoutedPayload | None:
    """The alert this concern raises, if the child's concerns now cross the threshold."""
    chronology = await store_children.find_chronology(session, child.child_id)
    # Concerns about one child may be routed out of their received order (concerns.received is
    # keyed by concern), so judge the window as of the newest concern known, not this one.
    as_of = max([entry.received_at for entry in chronology] + [received.received_at])
    if not policy.cumulative_alert_due(
        chronology,
        received_at=as_of,
        partnership=partnership,
        already_alerted_at=child.last_alerted_at,
    ):
        return None
    await store_children.mark_alerted(session, child.child_id, at=as_of)
    return cumulative_alert(received, chronology, partnership, child_id=child.child_id, as_of=as_of)


def register(
    runtime: ServiceRuntime, partnership: Partnership, child_index: ChildIndexSecret
) -> None:
    """Subscribe routing's handlers on the runtime's broker."""
    runtime.broker.context.set_global("runtime", runtime)
    runtime.broker.context.set_global("partnership", partnership)
    runtime.broker.context.set_global("child_index", child_index)
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
