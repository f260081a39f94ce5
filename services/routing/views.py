"""Pure: how a stored notification is shown (worklist row, detail) and announced when it changes.

A worklist row carries only the child's names and age, when the profile disclosed them: never
the narrative, household, reporter or summary text. `summary_fields` names what it carried, for
the audit of a listing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from schemas.v1.api import (
    AcknowledgementView,
    ChildSummary,
    DecisionCodeView,
    DecisionView,
    NotificationStatus,
    NotificationSummary,
    NotificationView,
)
from schemas.v1.events import (
    NotificationChange,
    NotificationChanged,
    NotificationChangedPayload,
)
from schemas.v1.topics import Topic
from services.common.messages import OutboxMessage
from services.routing.policy import age_when_received, is_overdue
from services.routing.state import SEVERITY_RANK, DecisionRecord, StoredNotification

# The concern's fields a worklist row may carry (the age is worked out from the date of birth).
SUMMARY_FIELDS = ("subject.given_name", "subject.family_name", "subject.date_of_birth")


def due_at(stored: StoredNotification) -> datetime:
    """The next deadline: acknowledgement until acknowledged, then the decision (if expected)."""
    n = stored.notification
    if stored.acknowledged_at is None:
        return n.acknowledge_by
    return n.decide_by or n.acknowledge_by


def is_running_late(stored: StoredNotification, now: datetime) -> bool:
    """Whether a step still to be taken (acknowledge, decide) is past its deadline."""
    n = stored.notification
    late_acknowledgement = stored.acknowledged_at is None and is_overdue(n.acknowledge_by, now)
    late_decision = (
        n.decide_by is not None and stored.decided_at is None and is_overdue(n.decide_by, now)
    )
    return late_acknowledgement or late_decision


def worklist_key(stored: StoredNotification, now: datetime) -> tuple[bool, datetime, int, int]:
    """Sorts a worklist: overdue first, then by due time, then by severity high to low."""
    rank = SEVERITY_RANK.get(stored.notification.severity.value, 0)
    return (not is_running_late(stored, now), due_at(stored), -rank, -stored.seq)


def summary_fields(stored: StoredNotification) -> list[str]:
    """The names of the concern's fields a worklist row of this notification carries."""
    disclosed = set(stored.notification.disclosed_fields)
    whole_subject = "subject" in disclosed
    return [name for name in SUMMARY_FIELDS if whole_subject or name in disclosed]


def _child(stored: StoredNotification) -> ChildSummary:
    n = stored.notification
    subject = n.concern.subject
    if subject is None:
        return ChildSummary()
    shown = summary_fields(stored)
    born: date | None = subject.date_of_birth if "subject.date_of_birth" in shown else None
    return ChildSummary(
        given_name=subject.given_name if "subject.given_name" in shown else None,
        family_name=subject.family_name if "subject.family_name" in shown else None,
        age=age_when_received(born, n.received_at) if born else None,
    )


def summary(stored: StoredNotification, *, now: datetime) -> NotificationSummary:
    """A notification as a worklist row."""
    n = stored.notification
    return NotificationSummary(
        notification_id=n.notification_id,
        concern_id=n.concern_id,
        kind=n.kind,
        status=NotificationStatus(stored.status),
        category=n.category,
        severity=n.severity,
        source_agency=n.source_agency,
        received_at=n.received_at,
        acknowledge_by=n.acknowledge_by,
        decide_by=n.decide_by,
        due_at=due_at(stored),
        overdue=is_running_late(stored, now),
        assignee=stored.assignee,
        child=_child(stored),
        decision=stored.decision,
        decision_label=stored.decision_label,
        escalation_of=n.escalation_of,
        missed_by_agency=n.missed_by_agency,
    )


def decision_view(record: DecisionRecord) -> DecisionView:
    """One decision as the deciding agency sees it, rationale included."""
    return DecisionView(
        revision=record.revision,
        decision=record.decision,
        decision_label=record.decision_label,
        rationale=record.rationale,
        decided_by=record.decided_by,
        decided_by_role=record.decided_by_role,
        decided_at=record.decided_at,
    )


def detail(
    stored: StoredNotification,
    *,
    now: datetime,
    decisions: Sequence[DecisionRecord] = (),
    codes: Sequence[DecisionCodeView] = (),
) -> NotificationView:
    """A stored notification as its recipient sees it on opening it."""
    n = stored.notification
    acknowledgement = (
        AcknowledgementView(
            acknowledged_by=stored.acknowledged_by,
            acknowledged_at=stored.acknowledged_at,
            acknowledged_by_role=stored.acknowledged_by_role,
        )
        if stored.acknowledged_by and stored.acknowledged_at
        else None
    )
    history = [decision_view(record) for record in decisions]
    return NotificationView(
        notification_id=n.notification_id,
        concern_id=n.concern_id,
        kind=n.kind,
        status=NotificationStatus(stored.status),
        category=n.category,
        severity=n.severity,
        source_agency=n.source_agency,
        received_at=n.received_at,
        occurred_at=n.occurred_at,
        source_reference=n.source_reference,
        reasons=n.reasons,
        policy_version=n.policy_version,
        acknowledge_by=n.acknowledge_by,
        acknowledgement=acknowledgement,
        escalation_of=n.escalation_of,
        concern=n.concern,
        disclosed_fields=n.disclosed_fields,
        chronology=n.chronology,
        decide_by=n.decide_by,
        overdue=is_running_late(stored, now),
        assignee=stored.assignee,
        decision=history[-1] if history else None,
        decisions=history,
        decision_codes=list(codes),
        escalation_reason=n.escalation_reason,
        missed_by_agency=n.missed_by_agency,
        feedback=n.feedback,
        content_removed_at=stored.content_removed_at,
    )


def changed_payload(
    stored: StoredNotification, change: NotificationChange, *, at: datetime
) -> NotificationChangedPayload:
    """A notification's state after one change, as routing announces it."""
    n = stored.notification
    return NotificationChangedPayload(
        notification_id=n.notification_id,
        concern_id=n.concern_id,
        kind=n.kind,
        recipient_agency=n.recipient_agency,
        source_agency=n.source_agency,
        change=change,
        status=stored.status,
        changed_at=at,
        acknowledge_by=n.acknowledge_by,
        decide_by=n.decide_by,
        acknowledged_at=stored.acknowledged_at,
        acknowledged_by_role=stored.acknowledged_by_role,
        assigned=stored.assignee is not None,
        decision=stored.decision,
        decision_label=stored.decision_label,
        decided_at=stored.decided_at,
        revision=stored.revision,
    )


def changed(
    stored: StoredNotification, change: NotificationChange, *, at: datetime, correlation_id: str
) -> OutboxMessage:
    """The announcement of one change, for notifications.changed keyed by concern."""
    event = NotificationChanged(
        correlation_id=correlation_id,
        occurred_at=at,
        payload=changed_payload(stored, change, at=at),
    )
    return OutboxMessage(event, Topic.NOTIFICATIONS_CHANGED, str(stored.notification.concern_id))
