"""Pure: what escalating overdue notifications does: to whom, with what disclosure, which events.

The escalation goes to the same agency, with the same disclosure, and to the children's social
care of the child's home area, cut to that agency's own profile.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from schemas.v1 import AuditAction, AuditEventPayload, NotificationKind
from schemas.v1 import NotificationRoutedPayload as Notification
from schemas.v1.concern import ConcernSubmission
from schemas.v1.events import EscalationReason
from services.common.messages import OutboxMessage
from services.partnership import Partnership
from services.routing import policy
from services.routing.announcements import ROUTING, announced, delivery_audit, routing_audit
from services.routing.notifications import (
    ConcernEnvelope,
    build_notification,
    decision_escalation_id,
    disclosure_for,
    escalation_id,
)
from services.routing.profiles import Disclosure

ESCALATION = "escalation"


@dataclass(frozen=True)
class Escalations:
    """What escalating a set of overdue notifications decided, in store and publish order."""

    # The escalations made, by the id of the notification each escalates.
    made: Mapping[UUID, list[Notification]] = field(default_factory=dict)
    notifications: tuple[Notification, ...] = ()
    messages: tuple[OutboxMessage, ...] = ()


def decide_escalations(
    overdue: Sequence[Notification],
    concerns: Mapping[UUID, ConcernSubmission],
    child_ids: Mapping[UUID, UUID],
    partnership: Partnership,
    *,
    now: datetime,
    reason: EscalationReason = EscalationReason.ACKNOWLEDGEMENT_OVERDUE,
) -> Escalations:
    """Escalate each overdue notification; `concerns` and `child_ids` are by concern id."""
    made: dict[UUID, list[Notification]] = {}
    stored: list[Notification] = []
    outgoing: list[OutboxMessage] = []
    for original in overdue:
        # The child as the index knows it now: a merge may have re-pointed the concern.
        child_id = child_ids.get(original.concern_id, original.child_id)
        escalations = escalation_notifications(
            original,
            concerns.get(original.concern_id),
            partnership,
            escalated_at=now,
            child_id=child_id,
            reason=reason,
        )
        made[original.notification_id] = escalations
        stored += escalations
        outgoing += escalation_events(
            original,
            escalations,
            escalated_at=now,
            child_key=str(child_id or original.concern_id),
            reason=reason,
        )
    return Escalations(made=made, notifications=tuple(stored), messages=tuple(outgoing))


def escalation_notifications(
    original: Notification,
    concern: ConcernSubmission | None,
    partnership: Partnership,
    *,
    escalated_at: datetime,
    child_id: UUID | None = None,
    reason: EscalationReason = EscalationReason.ACKNOWLEDGEMENT_OVERDUE,
) -> list[Notification]:
    """The escalations of one overdue notification: to its agency and the home social care.

    Each names the deadline missed and the agency that missed it.
    """
    cut = {
        original.recipient_agency: Disclosure(
            concern=original.concern, disclosed_fields=original.disclosed_fields
        )
    }
    if concern is not None:
        csc = policy.home_childrens_social_care(concern, partnership)
        # The agency that raised the concern is never sent it, not even as an escalation.
        if csc not in cut and csc != original.source_agency:
            cut[csc] = disclosure_for(concern, csc, partnership)
    envelope = ConcernEnvelope.of_notification(original)
    deadline = policy.acknowledgement_deadline(escalated_at, original.severity, partnership)
    return [
        build_notification(
            NotificationKind.ESCALATION,
            envelope,
            notification_id=_escalation_id(reason, original.notification_id, agency),
            recipient=agency,
            disclosure=disclosure,
            reasons=[ESCALATION],
            acknowledge_by=deadline,
            policy_version=partnership.policy_version,
            child_id=child_id or original.child_id,
            escalation_of=original.notification_id,
            escalation_reason=reason,
            missed_by_agency=original.recipient_agency,
        )
        for agency, disclosure in cut.items()
    ]


def _escalation_id(reason: EscalationReason, original_id: UUID, agency: str) -> UUID:
    if reason is EscalationReason.DECISION_OVERDUE:
        return decision_escalation_id(original_id, agency)
    return escalation_id(original_id, agency)


def escalation_events(
    original: Notification,
    escalations: Sequence[Notification],
    *,
    escalated_at: datetime,
    child_key: str,
    reason: EscalationReason = EscalationReason.ACKNOWLEDGEMENT_OVERDUE,
) -> list[OutboxMessage]:
    """The events announcing one escalation: notifications, and what the audit log records."""
    correlation_id = f"escalation-{original.notification_id}"
    deadline = (
        {"decide_by": original.decide_by.isoformat() if original.decide_by else None}
        if reason is EscalationReason.DECISION_OVERDUE
        else {"acknowledge_by": original.acknowledge_by.isoformat()}
    )
    concern_key = str(original.concern_id)
    events = [
        announced(n, correlation_id=correlation_id, occurred_at=escalated_at, key=child_key)
        for n in escalations
    ]
    escalated = AuditEventPayload(
        action=AuditAction.NOTIFICATION_ESCALATED,
        actor=ROUTING,
        concern_id=original.concern_id,
        notification_id=original.notification_id,
        details={
            "recipient_agency": original.recipient_agency,
            **deadline,
            "reason": reason.value,
            "missed_by_agency": original.recipient_agency,
            "escalated_to": [
                {"agency": n.recipient_agency, "notification_id": str(n.notification_id)}
                for n in escalations
            ],
        },
    )
    events.extend(
        routing_audit(
            payload, correlation_id=correlation_id, occurred_at=escalated_at, key=concern_key
        )
        for payload in [escalated, *(delivery_audit(n) for n in escalations)]
    )
    return events
