"""Pure: one builder for every kind of notification, and the ids each kind derives.

Every notification carries the concern's envelope (ids, category, severity, source agency,
received time), who it is for and why, by when it must be acknowledged, and the concern cut to
what the recipient may see. Only those vary by kind; the builder is the one place they meet.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from schemas.v1 import (
    ChronologyEntry,
    ConcernReceivedPayload,
    NotificationKind,
    NotificationRoutedPayload,
)
from schemas.v1.concern import Category, ConcernSubmission, Severity
from schemas.v1.events import EscalationReason, FeedbackDetail
from services.partnership import Partnership
from services.partnership.deadlines import decision_deadline
from services.routing import policy
from services.routing.policy import RoutingDecision
from services.routing.profiles import Disclosure, apply_sharing_profile

CUMULATIVE_CONCERN = "cumulative_concern"


@dataclass(frozen=True)
class ConcernEnvelope:
    """What every notification about a concern carries, whatever its recipient may see."""

    concern_id: UUID
    source_agency: str
    category: Category
    severity: Severity
    received_at: datetime
    occurred_at: datetime | None = None
    source_reference: str | None = None

    @classmethod
    def of_received(cls, received: ConcernReceivedPayload) -> ConcernEnvelope:
        """The envelope of a concern as intake received it."""
        return cls(
            concern_id=received.concern_id,
            source_agency=received.source_agency,
            category=received.concern.category,
            severity=received.concern.severity,
            received_at=received.received_at,
            occurred_at=received.concern.occurred_at,
            source_reference=received.concern.source_reference,
        )

    @classmethod
    def of_notification(cls, notification: NotificationRoutedPayload) -> ConcernEnvelope:
        """The envelope an earlier notification carried (for escalations and feedback)."""
        return cls(
            concern_id=notification.concern_id,
            source_agency=notification.source_agency,
            category=notification.category,
            severity=notification.severity,
            received_at=notification.received_at,
            occurred_at=notification.occurred_at,
            source_reference=notification.source_reference,
        )


# Ids are derived, never random, so a redelivery or a second pass names the same notification
# and the store's primary key turns a repeat into a no-op.
def concern_notification_id(concern_id: UUID, agency: str) -> UUID:
    """The id of a concern's notification to one agency."""
    return uuid.uuid5(concern_id, f"concern:{agency}")


def cumulative_alert_id(concern_id: UUID) -> UUID:
    """The id of the alert a concern raises: one concern raises at most one."""
    return uuid.uuid5(concern_id, "cumulative")


def escalation_id(original_id: UUID, agency: str) -> UUID:
    """The id of a notification's escalation to one agency: it can only ever exist once."""
    return uuid.uuid5(original_id, f"escalation:{agency}")


def decision_escalation_id(original_id: UUID, agency: str) -> UUID:
    """The id of the escalation to one agency of a notification left undecided."""
    return uuid.uuid5(original_id, f"decision-escalation:{agency}")


def build_notification(
    kind: NotificationKind,
    envelope: ConcernEnvelope,
    *,
    notification_id: UUID,
    recipient: str,
    disclosure: Disclosure,
    reasons: Sequence[str],
    acknowledge_by: datetime,
    policy_version: str,
    child_id: UUID | None,
    escalation_of: UUID | None = None,
    chronology: list[ChronologyEntry] | None = None,
    decide_by: datetime | None = None,
    escalation_reason: EscalationReason | None = None,
    missed_by_agency: str | None = None,
    feedback: FeedbackDetail | None = None,
) -> NotificationRoutedPayload:
    """A notification of any kind for one recipient, holding only what its disclosure allows."""
    return NotificationRoutedPayload(
        notification_id=notification_id,
        concern_id=envelope.concern_id,
        kind=kind,
        recipient_agency=recipient,
        source_agency=envelope.source_agency,
        category=envelope.category,
        severity=envelope.severity,
        received_at=envelope.received_at,
        occurred_at=envelope.occurred_at,
        source_reference=envelope.source_reference,
        reasons=list(reasons),
        policy_version=policy_version,
        acknowledge_by=acknowledge_by,
        child_id=child_id,
        concern=disclosure.concern,
        disclosed_fields=disclosure.disclosed_fields,
        escalation_of=escalation_of,
        chronology=chronology,
        decide_by=decide_by,
        escalation_reason=escalation_reason,
        missed_by_agency=missed_by_agency,
        feedback=feedback,
    )


def disclosure_for(concern: ConcernSubmission, agency: str, partnership: Partnership) -> Disclosure:
    """A concern cut to the sharing profile of one agency of the partnership."""
    profile = partnership.sharing_profiles[partnership.agency(agency).profile]
    return apply_sharing_profile(concern, profile)


def concern_notifications(
    received: ConcernReceivedPayload, decision: RoutingDecision, *, child_id: UUID | None = None
) -> list[NotificationRoutedPayload]:
    """One notification per recipient, cut to its sharing profile."""
    envelope = ConcernEnvelope.of_received(received)
    return [
        build_notification(
            NotificationKind.CONCERN,
            envelope,
            notification_id=concern_notification_id(received.concern_id, recipient.agency),
            recipient=recipient.agency,
            disclosure=apply_sharing_profile(received.concern, recipient.fields),
            reasons=recipient.reasons,
            acknowledge_by=recipient.acknowledge_by,
            decide_by=recipient.decide_by,
            policy_version=decision.policy_version,
            child_id=child_id,
        )
        for recipient in decision.recipients
    ]


def cumulative_alert(
    received: ConcernReceivedPayload,
    chronology: Sequence[ChronologyEntry],
    partnership: Partnership,
    *,
    child_id: UUID,
    as_of: datetime,
) -> NotificationRoutedPayload:
    """The cumulative-concern alert raised by a concern, for the child's home social care.

    It goes there even when that agency raised the concern itself: the alert is about the
    child's concerns taken together, which no single agency holds. The chronology is the
    child's concerns in the window, without narratives; the triggering concern itself is cut
    to the recipient's profile as any notification is.
    """
    concern = received.concern
    agency = policy.home_childrens_social_care(concern, partnership)
    return build_notification(
        NotificationKind.CUMULATIVE_CONCERN,
        ConcernEnvelope.of_received(received),
        notification_id=cumulative_alert_id(received.concern_id),
        recipient=agency,
        disclosure=disclosure_for(concern, agency, partnership),
        reasons=[CUMULATIVE_CONCERN],
        acknowledge_by=policy.acknowledgement_deadline(
            received.received_at, concern.severity, partnership
        ),
        policy_version=partnership.policy_version,
        child_id=child_id,
        chronology=policy.in_window(chronology, received_at=as_of, partnership=partnership),
        decide_by=decision_deadline(received.received_at, agency, concern.severity, partnership),
    )
