"""Pure: what recording a decision does: revision or repeat, implied acknowledgement, feedback.

A decision becomes a `feedback` notification to the agency that raised the concern, built by the
same builder and cut to that agency's profile as any notification; the rationale travels only
when that profile includes `narrative`. Never the rationale in the audit: only that one was given.
"""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from pydantic import JsonValue

from schemas.v1 import Actor, AuditAction, AuditEvent, AuditEventPayload, NotificationKind, Topic
from schemas.v1 import NotificationRoutedPayload as Notification
from schemas.v1.concern import ConcernSubmission
from schemas.v1.disclosure import DisclosedConcern
from schemas.v1.events import FeedbackDetail, NotificationChange
from services.common.messages import OutboxMessage
from services.partnership import Partnership
from services.routing import policy
from services.routing.announcements import announced, delivery_audit, routing_audit
from services.routing.notifications import ConcernEnvelope, build_notification, disclosure_for
from services.routing.profiles import Disclosure
from services.routing.state import (
    ROUTED,
    ChangeEntry,
    DecisionRecord,
    StoredNotification,
    change_entry,
)
from services.routing.views import changed

FEEDBACK = "feedback"
NARRATIVE = "narrative"


@dataclass(frozen=True)
class UnknownDecision:
    """The code is not one of the recipient agency's decisions."""

    valid_codes: list[str]


@dataclass(frozen=True)
class Unchanged:
    """The same decision and rationale as the latest: nothing to record."""


@dataclass(frozen=True)
class Decided:
    """A decision or revision to record, and everything it announces."""

    record: DecisionRecord
    after: StoredNotification
    implied_acknowledgement: bool
    feedback: Notification | None
    messages: tuple[OutboxMessage, ...]
    changes: tuple[ChangeEntry, ...]


def feedback_id(decided_id: UUID, revision: int) -> UUID:
    """The id of the feedback on one revision of a decision: each exists once."""
    return uuid.uuid5(decided_id, f"feedback:{revision}")


def can_be_decided(notification: Notification) -> bool:
    """Feedback reports a decision; it is not itself decided."""
    return notification.kind is not NotificationKind.FEEDBACK


def decide(
    stored: StoredNotification,
    *,
    decision: str,
    rationale: str | None,
    latest: DecisionRecord | None,
    actor: Actor,
    concern: ConcernSubmission | None,
    partnership: Partnership,
    now: datetime,
    correlation_id: str,
) -> UnknownDecision | Unchanged | Decided:
    """Judge a decision on a notification and, when it is new, what it records and announces."""
    n = stored.notification
    label = partnership.decision_label(n.recipient_agency, decision)
    if label is None:
        return UnknownDecision([c.code for c in partnership.decision_codes(n.recipient_agency)])
    if latest is not None and (latest.decision, latest.rationale) == (decision, rationale):
        return Unchanged()
    record = DecisionRecord(
        notification_id=n.notification_id,
        revision=(latest.revision if latest else 0) + 1,
        decision=decision,
        decision_label=label,
        rationale=rationale,
        decided_by=actor.subject,
        decided_by_role=actor.role,
        decided_at=now,
    )
    implied = stored.acknowledged_at is None
    acknowledged = (
        dataclasses.replace(
            stored, acknowledged_by=actor.subject, acknowledged_at=now,
            acknowledged_by_role=actor.role,
        )
        if implied
        else stored
    )  # fmt: skip
    after = dataclasses.replace(
        acknowledged,
        status="decided",
        decision=decision,
        decision_label=label,
        decided_at=now,
        revision=record.revision,
    )
    feedback = feedback_notification(n, record, concern, partnership)
    audits = [_decided_audit(record, n, actor)]
    if implied:
        audits.insert(0, _audit(AuditAction.NOTIFICATION_ACKNOWLEDGED, n, actor,
                                details={"implied_by": "decision"}))  # fmt: skip
    messages = [
        OutboxMessage(
            AuditEvent(producer="routing", correlation_id=correlation_id, occurred_at=now,
                       payload=payload),
            Topic.AUDIT_EVENTS,
            str(n.concern_id),
        )
        for payload in audits
    ]  # fmt: skip
    messages.append(changed(after, NotificationChange.DECIDED, at=now,
                            correlation_id=correlation_id))  # fmt: skip
    entries = [change_entry(after, NotificationChange.DECIDED)]
    if feedback is not None:
        messages += feedback_events(feedback, record, correlation_id=correlation_id, at=now)
        entries.append(ChangeEntry(feedback.recipient_agency, feedback.notification_id, ROUTED))
    return Decided(record=record, after=after, implied_acknowledgement=implied,
                   feedback=feedback, messages=tuple(messages), changes=tuple(entries))  # fmt: skip


def _audit(
    action: AuditAction,
    n: Notification,
    actor: Actor,
    *,
    fields: list[str] | None = None,
    details: dict[str, JsonValue] | None = None,
) -> AuditEventPayload:
    return AuditEventPayload(
        action=action,
        actor=actor,
        concern_id=n.concern_id,
        notification_id=n.notification_id,
        fields=fields or [],
        details=details or {},
    )


def _decided_audit(record: DecisionRecord, n: Notification, actor: Actor) -> AuditEventPayload:
    # The names of what was recorded; the rationale's words stay in routing's store.
    fields = ["decision", "rationale"] if record.rationale else ["decision"]
    details: dict[str, JsonValue] = {"decision": record.decision, "revision": record.revision}
    return _audit(AuditAction.NOTIFICATION_DECIDED, n, actor, fields=fields, details=details)


def feedback_notification(
    decided: Notification,
    record: DecisionRecord,
    concern: ConcernSubmission | None,
    partnership: Partnership,
) -> Notification | None:
    """The feedback on a decision for the agency that raised the concern, if it can have one.

    None when that agency is the deciding one (a cumulative alert on its own concern) or is not
    in the partnership (there is no profile to cut the concern to).
    """
    source = decided.source_agency
    if source == decided.recipient_agency or not partnership.has_agency(source):
        return None
    profile = partnership.sharing_profiles[partnership.agency(source).profile]
    disclosure = (
        disclosure_for(concern, source, partnership)
        if concern is not None
        else Disclosure(concern=DisclosedConcern(), disclosed_fields=[])
    )
    detail = FeedbackDetail(
        decided_notification_id=decided.notification_id,
        deciding_agency=decided.recipient_agency,
        decision=record.decision,
        decision_label=record.decision_label,
        decided_at=record.decided_at,
        revision=record.revision,
        rationale=record.rationale if NARRATIVE in profile else None,
    )
    return build_notification(
        NotificationKind.FEEDBACK,
        ConcernEnvelope.of_notification(decided),
        notification_id=feedback_id(decided.notification_id, record.revision),
        recipient=source,
        disclosure=disclosure,
        reasons=[FEEDBACK],
        # From the decision, not the concern: the referrer has as long to read it as any notice.
        acknowledge_by=policy.acknowledgement_deadline(
            record.decided_at, decided.severity, partnership
        ),
        policy_version=partnership.policy_version,
        child_id=decided.child_id,
        feedback=detail,
    )


def feedback_events(
    feedback: Notification, record: DecisionRecord, *, correlation_id: str, at: datetime
) -> list[OutboxMessage]:
    """The feedback notification, and the audit of its delivery to the source agency."""
    delivered = delivery_audit(
        feedback,
        decided_notification_id=str(record.notification_id),
        revision=record.revision,
    )
    return [
        announced(feedback, correlation_id=correlation_id, occurred_at=at,
                  key=str(feedback.child_id or feedback.concern_id)),
        routing_audit(delivered, correlation_id=correlation_id, occurred_at=at,
                      key=str(feedback.concern_id)),
    ]  # fmt: skip
