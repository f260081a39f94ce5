"""Events on concerns.submitted, .received, .routed and notifications.routed, .changed."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from schemas.v1.concern import Category, ConcernSubmission, Severity
from schemas.v1.disclosure import DisclosedConcern
from schemas.v1.envelope import Envelope


class _Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Submitter(_Payload):
    """Who submitted a concern: the token's subject and role."""

    subject: str = Field(description="The person or system named by the token.")
    role: str = Field(description="The token's role: agency_system or caseworker.")


class ConcernSubmitted(Envelope):
    """A concern posted straight onto Kafka by an agency system (`concerns.submitted`).

    The source agency is proven by a signed bearer token in the record's `authorization` header.
    """

    type: Literal["concern.submitted"] = "concern.submitted"
    payload: ConcernSubmission


class ConcernReceivedPayload(_Payload):
    """A concern accepted by intake."""

    concern_id: UUID
    source_agency: str = Field(description="The agency that raised it (from its token).")
    received_at: datetime = Field(
        description="When intake accepted it; routing's clock starts here."
    )
    submitted_by: Submitter
    concern: ConcernSubmission


class ConcernReceived(Envelope):
    """Intake accepted a concern (`concerns.received`), keyed by concern id."""

    type: Literal["concern.received"] = "concern.received"
    producer: str = "intake"
    payload: ConcernReceivedPayload


class NotificationKind(StrEnum):
    """Why a notification exists."""

    CONCERN = "concern"
    CUMULATIVE_CONCERN = "cumulative_concern"
    ESCALATION = "escalation"
    FEEDBACK = "feedback"


class EscalationReason(StrEnum):
    """Which deadline a recipient missed."""

    ACKNOWLEDGEMENT_OVERDUE = "acknowledgement_overdue"
    DECISION_OVERDUE = "decision_overdue"


class FeedbackDetail(_Payload):
    """A recipient's decision, fed back to the agency that raised the concern."""

    decided_notification_id: UUID = Field(description="The notification that was decided.")
    deciding_agency: str = Field(description="The agency that decided.")
    decision: str = Field(description="The decision's code, from the partnership file.")
    decision_label: str = Field(description="The decision as a person reads it.")
    decided_at: datetime
    revision: int = Field(ge=1, description="1 for the first decision, 2 for its first revision...")
    rationale: str | None = Field(
        default=None,
        description="Why; only when the source agency's sharing profile includes `narrative`.",
    )


class ChronologyEntry(_Payload):
    """One concern in a child's chronology: when, what, from whom (never the narrative)."""

    concern_id: UUID
    received_at: datetime
    occurred_at: datetime
    category: Category
    severity: Severity
    source_agency: str


class NotificationRoutedPayload(_Payload):
    """One notification to one recipient agency, cut to its sharing profile."""

    notification_id: UUID
    concern_id: UUID
    kind: NotificationKind
    recipient_agency: str
    source_agency: str
    category: Category
    severity: Severity
    received_at: datetime
    occurred_at: datetime | None = Field(
        default=None, description="When what the concern describes happened (the incident date)."
    )
    source_reference: str | None = Field(
        default=None, description="The raising agency's own reference, to quote when calling it."
    )
    reasons: list[str] = Field(description="Ids of every rule that sent it (or `fallback`).")
    policy_version: str
    acknowledge_by: datetime = Field(description="Deadline for acknowledgement before escalation.")
    child_id: UUID | None = Field(default=None, description="The child's id in routing's index.")
    concern: DisclosedConcern = Field(description="Only the fields the recipient's profile allows.")
    disclosed_fields: list[str] = Field(description="Names of the fields disclosed.")
    escalation_of: UUID | None = Field(
        default=None, description="For an escalation: the notification left unacknowledged."
    )
    chronology: list[ChronologyEntry] | None = Field(
        default=None, description="For a cumulative-concern alert: the child's concerns."
    )
    decide_by: datetime | None = Field(
        default=None, description="Deadline for the recipient's decision, when one is expected."
    )
    escalation_reason: EscalationReason | None = Field(
        default=None, description="For an escalation: which deadline was missed."
    )
    missed_by_agency: str | None = Field(
        default=None, description="For an escalation: the agency that missed its deadline."
    )
    feedback: FeedbackDetail | None = Field(
        default=None, description="For feedback: the decision it reports."
    )


class NotificationRouted(Envelope):
    """A notification for one agency (`notifications.routed`), keyed by child."""

    type: Literal["notification.routed"] = "notification.routed"
    producer: str = "routing"
    payload: NotificationRoutedPayload


class RoutedRecipient(_Payload):
    """One agency a concern went to, and the rules that sent it."""

    agency: str
    reasons: list[str]
    notification_id: UUID
    acknowledge_by: datetime | None = None
    decide_by: datetime | None = None


class ConcernRoutedPayload(_Payload):
    """Where a concern went."""

    concern_id: UUID
    source_agency: str
    policy_version: str
    routed_at: datetime
    recipients: list[RoutedRecipient]


class ConcernRouted(Envelope):
    """Routing decided a concern's recipients (`concerns.routed`), keyed by concern id."""

    type: Literal["concern.routed"] = "concern.routed"
    producer: str = "routing"
    payload: ConcernRoutedPayload


class NotificationChange(StrEnum):
    """What changed in a notification's life."""

    ACKNOWLEDGED = "acknowledged"
    ASSIGNED = "assigned"
    DECIDED = "decided"
    ESCALATED = "escalated"


class NotificationChangedPayload(_Payload):
    """A notification's state after one change, as routing holds it."""

    notification_id: UUID
    concern_id: UUID
    kind: NotificationKind
    recipient_agency: str
    source_agency: str
    change: NotificationChange
    status: str = Field(description="new, acknowledged, escalated or decided.")
    changed_at: datetime
    acknowledge_by: datetime
    decide_by: datetime | None = None
    acknowledged_at: datetime | None = None
    acknowledged_by_role: str | None = Field(
        default=None, description="caseworker (a person) or agency_system (a machine)."
    )
    assigned: bool = False
    decision: str | None = None
    decision_label: str | None = None
    decided_at: datetime | None = None
    revision: int | None = None


class NotificationChanged(Envelope):
    """A notification was acknowledged, assigned, decided or escalated (`notifications.changed`),
    keyed by concern id."""

    type: Literal["notification.changed"] = "notification.changed"
    producer: str = "routing"
    payload: NotificationChangedPayload
