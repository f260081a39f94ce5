"""Events on concerns.submitted, concerns.received, concerns.routed and notifications.routed."""

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
