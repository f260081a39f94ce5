"""Escalation: a concern notification not acknowledged by its deadline is passed on, once.

The escalation goes to the same agency, with the same disclosure, and to the children's social
care of the child's home area, cut to that agency's own profile. Deadlines live in PostgreSQL,
so a restart loses none: the job only ever looks at the table.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import structlog
from sqlalchemy import Table

from schemas.v1 import (
    AuditAction,
    AuditEvent,
    AuditEventPayload,
    NotificationKind,
    NotificationRouted,
    NotificationRoutedPayload,
    Topic,
)
from schemas.v1.concern import ConcernSubmission
from schemas.v1.disclosure import DisclosedConcern
from services.common.db import UnitOfWork
from services.common.outbox import OutboxMessage, enqueue_all
from services.common.runtime import ServiceRuntime
from services.partnership import Partnership
from services.routing import policy, store, store_children
from services.routing.notifications import ROUTING, delivery_audit
from services.routing.profiles import apply_sharing_profile

log = structlog.get_logger()
ESCALATION = "escalation"
BATCH = 100


def escalation_notifications(
    original: NotificationRoutedPayload,
    concern: ConcernSubmission | None,
    partnership: Partnership,
    *,
    escalated_at: datetime,
    child_id: UUID | None = None,
) -> list[NotificationRoutedPayload]:
    """The escalations of one overdue notification: to its agency and the home social care."""
    cut: dict[str, tuple[DisclosedConcern, list[str]]] = {
        original.recipient_agency: (original.concern, original.disclosed_fields)
    }
    if concern is not None:
        csc = policy.home_childrens_social_care(concern, partnership)
        # The agency that raised the concern is never sent it, not even as an escalation.
        if csc not in cut and csc != original.source_agency:
            profile = partnership.sharing_profiles[partnership.agency(csc).profile]
            disclosure = apply_sharing_profile(concern, profile)
            cut[csc] = (disclosure.concern, disclosure.disclosed_fields)
    deadline = policy.acknowledgement_deadline(escalated_at, original.severity, partnership)
    return [
        NotificationRoutedPayload(
            # Derived from the original and agency, so the escalation can only ever exist once.
            notification_id=uuid.uuid5(original.notification_id, f"escalation:{agency}"),
            concern_id=original.concern_id,
            kind=NotificationKind.ESCALATION,
            recipient_agency=agency,
            source_agency=original.source_agency,
            category=original.category,
            severity=original.severity,
            received_at=original.received_at,
            reasons=[ESCALATION],
            policy_version=partnership.policy_version,
            acknowledge_by=deadline,
            child_id=child_id or original.child_id,
            concern=disclosed,
            disclosed_fields=fields,
            escalation_of=original.notification_id,
        )
        for agency, (disclosed, fields) in cut.items()
    ]


def escalation_events(
    original: NotificationRoutedPayload,
    escalations: list[NotificationRoutedPayload],
    *,
    escalated_at: datetime,
    child_key: str,
) -> list[OutboxMessage]:
    """The events announcing one escalation: notifications, and what the audit log records."""
    correlation_id = f"escalation-{original.notification_id}"
    concern_key = str(original.concern_id)
    events: list[OutboxMessage] = [
        OutboxMessage(
            NotificationRouted(correlation_id=correlation_id, payload=n),
            Topic.NOTIFICATIONS_ROUTED,
            child_key,
        )
        for n in escalations
    ]  # fmt: skip
    audits = [
        AuditEventPayload(
            action=AuditAction.NOTIFICATION_ESCALATED,
            actor=ROUTING,
            concern_id=original.concern_id,
            notification_id=original.notification_id,
            details={
                "recipient_agency": original.recipient_agency,
                "acknowledge_by": original.acknowledge_by.isoformat(),
                "escalated_to": [
                    {"agency": n.recipient_agency, "notification_id": str(n.notification_id)}
                    for n in escalations
                ],
            },
        )
    ] + [delivery_audit(n) for n in escalations]
    events.extend(
        OutboxMessage(
            AuditEvent(
                producer="routing",
                correlation_id=correlation_id,
                occurred_at=escalated_at,
                payload=payload,
            ),
            Topic.AUDIT_EVENTS,
            concern_key,
        )
        for payload in audits
    )
    return events


async def escalate_overdue(
    uow: UnitOfWork,
    outbox: Table,
    partnership: Partnership,
    *,
    now: datetime,
    limit: int = BATCH,
) -> dict[UUID, list[NotificationRoutedPayload]]:
    """Escalate up to `limit` overdue notifications in one transaction.

    Returns the escalations made, by the id of the notification each escalates.
    """
    made: dict[UUID, list[NotificationRoutedPayload]] = {}
    async with uow:
        overdue = await store.claim_overdue_notifications(uow.session, now=now, limit=limit)
        if not overdue:
            return {}
        concerns = await store.find_concerns(
            uow.session, [stored.notification.concern_id for stored in overdue]
        )
        # The child as the index knows it now: a merge may have re-pointed the concern.
        child_ids = await store_children.find_child_ids(
            uow.session, [stored.notification.concern_id for stored in overdue]
        )
        for stored in overdue:
            original = stored.notification
            concern = concerns.get(original.concern_id)
            child_id = child_ids.get(original.concern_id, original.child_id)
            escalations = escalation_notifications(
                original, concern, partnership, escalated_at=now, child_id=child_id
            )
            await store.add_notifications(uow.session, escalations)
            await enqueue_all(
                uow.session,
                outbox,
                escalation_events(
                    original,
                    escalations,
                    escalated_at=now,
                    child_key=str(child_id or original.concern_id),
                ),
            )
            made[original.notification_id] = escalations
            log.info(
                "notification.escalated",
                notification_id=str(original.notification_id),
                concern_id=str(original.concern_id),
                agency=original.recipient_agency,
                concern_known=concern is not None,
            )
        await uow.commit()
    return made


def escalation_job(
    runtime: ServiceRuntime, partnership: Partnership, *, interval: float
) -> Callable[[], Coroutine[Any, Any, None]]:
    """A background job that escalates overdue notifications every `interval` seconds."""

    async def run() -> None:
        while True:
            try:
                made = await escalate_overdue(
                    runtime.unit_of_work(), runtime.outbox, partnership, now=datetime.now(UTC)
                )
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.warning("escalation.failed", error=type(error).__name__, retry_in=interval)
                made = {}
            if made:
                runtime.relay.wake()
            # A full batch may mean more are waiting: go again at once.
            if len(made) < BATCH:
                await asyncio.sleep(interval)

    return run
