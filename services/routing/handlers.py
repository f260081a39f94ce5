"""Routing's Kafka subscribers."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID

import structlog
from faststream import Context
from faststream.middlewares import AckPolicy

from schemas.v1 import (
    AuditEvent,
    ConcernReceived,
    ConcernReceivedPayload,
    ConcernRouted,
    NotificationRouted,
    NotificationRoutedPayload,
    Topic,
)
from schemas.v1.events import ChronologyEntry
from services.common.kafka import batch_of, declare_publications
from services.common.logging import bind_correlation_id
from services.common.outbox import OutboxMessage, enqueue_all, first_deliveries
from services.common.runtime import ServiceRuntime
from services.partnership import Partnership
from services.routing import policy, store, store_children
from services.routing.notifications import (
    alert_events,
    concern_notifications,
    cumulative_alert,
    routed_events,
)
from services.routing.store_children import ChildIndexSecret

log = structlog.get_logger()
RuntimeContext = Annotated[ServiceRuntime, Context("runtime")]
PartnershipContext = Annotated[Partnership, Context("partnership")]
ChildIndexContext = Annotated[ChildIndexSecret, Context("child_index")]
GROUP = "routing"
# A batch is one transaction: larger batches cost fewer round trips per concern, smaller ones
# hold the child-index locks for less time.
BATCH = 200
BATCH_WAIT_MS = 20


async def on_concerns_received(
    events: list[ConcernReceived],
    runtime: RuntimeContext,
    partnership: PartnershipContext,
    child_index: ChildIndexContext,
) -> None:
    """Route a batch of received concerns, add each to its child's chronology, alert if due.

    One transaction for the batch; the outcome is the same as routing the concerns one at a time
    in the order they came.
    """
    secret = await child_index.value(runtime.sessions)
    async with runtime.unit_of_work() as uow:
        fresh = await first_deliveries(uow.session, runtime.processed, (e.event_id for e in events))
        batch = list({e.event_id: e for e in events if e.event_id in fresh}.values())
        if not batch:
            return
        now = datetime.now(UTC)
        children = await store_children.record_concerns(
            uow.session,
            [
                (policy.child_match_keys(e.payload.concern.subject, secret=secret), e.payload)
                for e in batch
            ],
            now=now,
        )
        in_batch = {e.payload.concern_id for e in batch}
        # What each child's chronology held before this batch; the batch's concerns join it in
        # order below, as if routed one by one.
        known = {
            child_id: [entry for entry in entries if entry.concern_id not in in_batch]
            for child_id, entries in (
                await store_children.find_chronologies(uow.session, {c.child_id for c in children})
            ).items()
        }
        alerted = {child.child_id: child.last_alerted_at for child in children}
        newly_alerted: dict[UUID, datetime] = {}
        stored: list[NotificationRoutedPayload] = []
        outgoing: list[OutboxMessage] = []
        routed: list[tuple[ConcernReceived, UUID, list[NotificationRoutedPayload], str | None]] = []
        for event, child in zip(batch, children, strict=True):
            received = event.payload
            decision = policy.decide_recipients(
                received.concern,
                source_agency=received.source_agency,
                received_at=received.received_at,
                partnership=partnership,
            )
            chronology = known[child.child_id]
            chronology.append(_chronology_entry(received))
            chronology.sort(key=lambda entry: (entry.received_at, entry.concern_id))
            alert, as_of = _cumulative_alert(
                received, chronology, child.child_id, alerted[child.child_id], partnership
            )
            notifications = concern_notifications(received, decision, child_id=child.child_id)
            # The alert is stored first, so a newest-first inbox lists the concern above it.
            stored += ([alert] if alert else []) + notifications
            outgoing += routed_events(
                received,
                notifications,
                policy_version=decision.policy_version,
                routed_at=now,
                correlation_id=event.correlation_id,
                child_key=str(child.child_id),
            )
            if alert:
                alerted[child.child_id] = newly_alerted[child.child_id] = as_of
                outgoing += alert_events(alert, routed_at=now, correlation_id=event.correlation_id)
            alert_to = alert.recipient_agency if alert else None
            routed.append((event, child.child_id, notifications, alert_to))
        await store_children.mark_alerted(uow.session, newly_alerted)
        await store.add_notifications(uow.session, stored)
        await store.add_concerns(uow.session, [e.payload for e in batch])
        await enqueue_all(uow.session, runtime.outbox, outgoing)
        await uow.commit()
    runtime.relay.wake()
    for event, child_id, notifications, alert_to in routed:
        bind_correlation_id(event.correlation_id)
        log.info(
            "concern.routed",
            concern_id=str(event.payload.concern_id),
            child_id=str(child_id),
            recipients=[n.recipient_agency for n in notifications],
            cumulative_alert=alert_to,
        )


def _chronology_entry(received: ConcernReceivedPayload) -> ChronologyEntry:
    concern = received.concern
    return ChronologyEntry(
        concern_id=received.concern_id,
        received_at=received.received_at,
        occurred_at=concern.occurred_at,
        category=concern.category,
        severity=concern.severity,
        source_agency=received.source_agency,
    )


def _cumulative_alert(
    received: ConcernReceivedPayload,
    chronology: list[ChronologyEntry],
    child_id: UUID,
    already_alerted_at: datetime | None,
    partnership: Partnership,
) -> tuple[NotificationRoutedPayload | None, datetime]:
    """The alert this concern raises, if the child's concerns now cross the threshold."""
    # Concerns about one child may be routed out of their received order (concerns.received is
    # keyed by concern), so judge the window as of the newest concern known, not this one.
    as_of = max(entry.received_at for entry in chronology)
    if not policy.cumulative_alert_due(
        chronology,
        received_at=as_of,
        partnership=partnership,
        already_alerted_at=already_alerted_at,
    ):
        return None, as_of
    alert = cumulative_alert(received, chronology, partnership, child_id=child_id, as_of=as_of)
    return alert, as_of


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
        batch=True,
        decoder=batch_of(ConcernReceived),
        max_records=BATCH,
        batch_timeout_ms=BATCH_WAIT_MS,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
    )(on_concerns_received)
