"""Routing's use cases on a unit of work: route received concerns, escalate overdue ones.

Each reads what it needs, hands it to a pure decision (routing.py, escalation_policy.py), then
stores, adds to the outbox and commits once. Callable without FastAPI or FastStream.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from uuid import UUID

import structlog

from schemas.v1 import ConcernReceived, NotificationRoutedPayload
from schemas.v1.events import EscalationReason, NotificationChange
from services.common.logging import bind_correlation_id
from services.partnership import Partnership
from services.routing.escalation_policy import decide_escalations
from services.routing.routing import (
    RoutedBatch,
    child_index_entries,
    first_deliveries_of,
    route_batch,
)
from services.routing.state import change_entry, routed_entries
from services.routing.unit_of_work import RoutingUnitOfWork
from services.routing.views import changed

log = structlog.get_logger()
ESCALATION_BATCH = 100


async def route_received_concerns(
    uow: RoutingUnitOfWork,
    events: Sequence[ConcernReceived],
    *,
    partnership: Partnership,
    secret: bytes,
    now: datetime,
) -> RoutedBatch:
    """Route a batch of received concerns, add each to its child's chronology, alert if due.

    One transaction for the batch; a redelivered event changes nothing. The outcome is the
    same as routing the concerns one at a time in the order they came.
    """
    # Keys for every event, redeliveries included: they are known before the redeliveries are.
    entries = child_index_entries(events, secret=secret)
    async with uow:
        taken = await uow.children.take_up(
            list(entries), sorted({key for keys, _ in entries.values() for key in keys})
        )
        batch = first_deliveries_of(events, taken.fresh)
        if not batch:
            return RoutedBatch()
        indexed = await uow.children.record_concerns(
            [entries[e.event_id] for e in batch], known=taken.known, now=now
        )
        routed = route_batch(
            batch, indexed.children, indexed.chronologies, partnership=partnership, now=now
        )
        await uow.children.mark_alerted(routed.newly_alerted)
        await uow.notifications.add(routed.notifications)
        await uow.concerns.add([e.payload for e in batch])
        await uow.outbox.add(routed.messages)
        # Last: the change log's insert holds its lock until the commit.
        await uow.changes.append(routed_entries(routed.notifications))
        await uow.commit()
    for outcome in routed.outcomes:
        bind_correlation_id(outcome.correlation_id)
        log.info(
            "concern.routed",
            concern_id=str(outcome.concern_id),
            child_id=str(outcome.child_id),
            recipients=list(outcome.recipients),
            cumulative_alert=outcome.cumulative_alert,
        )
    return routed


async def escalate_overdue(
    uow: RoutingUnitOfWork,
    partnership: Partnership,
    *,
    now: datetime,
    limit: int = ESCALATION_BATCH,
) -> Mapping[UUID, list[NotificationRoutedPayload]]:
    """Escalate up to `limit` notifications unacknowledged past their deadline, each once.

    Returns the escalations made, by the id of the notification each escalates.
    """
    return await _escalate(
        uow, partnership, EscalationReason.ACKNOWLEDGEMENT_OVERDUE, now=now, limit=limit
    )


async def escalate_undecided(
    uow: RoutingUnitOfWork,
    partnership: Partnership,
    *,
    now: datetime,
    limit: int = ESCALATION_BATCH,
) -> Mapping[UUID, list[NotificationRoutedPayload]]:
    """Escalate up to `limit` notifications undecided past their decision deadline, each once."""
    return await _escalate(
        uow, partnership, EscalationReason.DECISION_OVERDUE, now=now, limit=limit
    )


async def _escalate(
    uow: RoutingUnitOfWork,
    partnership: Partnership,
    reason: EscalationReason,
    *,
    now: datetime,
    limit: int,
) -> Mapping[UUID, list[NotificationRoutedPayload]]:
    async with uow:
        if reason is EscalationReason.DECISION_OVERDUE:
            claimed = await uow.notifications.claim_undecided(now=now, limit=limit)
        else:
            claimed = await uow.notifications.claim_overdue(now=now, limit=limit)
        if not claimed:
            return {}
        overdue = [stored.notification for stored in claimed]
        concern_ids = [n.concern_id for n in overdue]
        concerns = await uow.concerns.find(concern_ids)
        child_ids = await uow.children.child_ids(concern_ids)
        escalations = decide_escalations(
            overdue, concerns, child_ids, partnership, now=now, reason=reason
        )
        change = NotificationChange.ESCALATED
        announced = [
            changed(stored, change, at=now,
                    correlation_id=f"escalation-{stored.notification_id}")
            for stored in claimed
        ]  # fmt: skip
        await uow.notifications.add(escalations.notifications)
        await uow.outbox.add([*escalations.messages, *announced])
        await uow.changes.append(
            [*(change_entry(stored, change) for stored in claimed),
             *routed_entries(escalations.notifications)]
        )  # fmt: skip
        await uow.commit()
    for original in overdue:
        log.info(
            "notification.escalated",
            notification_id=str(original.notification_id),
            concern_id=str(original.concern_id),
            agency=original.recipient_agency,
            reason=reason.value,
            concern_known=original.concern_id in concerns,
        )
    return escalations.made
