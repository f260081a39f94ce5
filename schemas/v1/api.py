"""HTTP request and response bodies that are not events."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from schemas.v1.concern import Category, Severity
from schemas.v1.disclosure import DisclosedConcern
from schemas.v1.events import (
    ChronologyEntry,
    EscalationReason,
    FeedbackDetail,
    NotificationKind,
)


class _View(BaseModel):
    model_config = ConfigDict(frozen=True)


class ConcernAccepted(_View):
    """Answer to a new or repeated submission."""

    concern_id: UUID
    status: Literal["accepted"] = "accepted"


class RecipientView(_View):
    """One agency a concern was routed to, and how far it has got with it."""

    agency: str
    reasons: list[str]
    notification_id: UUID | None = None
    acknowledge_by: datetime | None = None
    decide_by: datetime | None = None
    acknowledged_at: datetime | None = None
    decision: str | None = Field(default=None, description="The latest decision's code.")
    decision_label: str | None = None
    decided_at: datetime | None = None
    assigned: bool = Field(default=False, description="Whether someone there has taken it.")
    overdue: bool = Field(
        default=False, description="Whether its acknowledgement or decision is past its deadline."
    )


class ConcernStatusView(_View):
    """A concern's progress, for the agency that raised it."""

    concern_id: UUID
    source_reference: str
    status: Literal["accepted", "routed"]
    received_at: datetime
    routed_at: datetime | None = None
    recipients: list[RecipientView] = Field(default_factory=list)


class ConcernStatusPage(_View):
    """One page of an agency's concerns, newest first, each with its recipients' progress."""

    items: list[ConcernStatusView]
    next_cursor: str | None = Field(
        default=None, description="Pass as `cursor` for the next page; absent on the last."
    )


class NotificationStatus(StrEnum):
    """Where a notification stands."""

    NEW = "new"
    ACKNOWLEDGED = "acknowledged"
    ESCALATED = "escalated"
    DECIDED = "decided"


class AcknowledgementView(_View):
    """Who acknowledged a notification, and when."""

    acknowledged_by: str
    acknowledged_at: datetime
    acknowledged_by_role: str | None = Field(
        default=None, description="caseworker (a person) or agency_system (a machine)."
    )


Assignee = Annotated[
    str,
    Field(
        min_length=1,
        max_length=200,
        pattern=r"^[^\x00-\x1f\x7f]+$",
        description="The subject (person) it is assigned to, as their token names them.",
    ),
]


class DecisionRequest(_View):
    """A recipient's decision on a notification."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    decision: str = Field(
        min_length=1, max_length=64, description="A decision code of the recipient's agency kind."
    )
    rationale: str | None = Field(
        default=None, max_length=4000, description="Why (personal data: stored, never logged)."
    )


class AssignmentRequest(_View):
    """Who in the recipient agency takes a notification."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    assignee: Assignee


class DecisionCodeView(_View):
    """A decision an agency may record, with its label."""

    code: str
    label: str


class DecisionView(_View):
    """One decision or revision, as recorded."""

    revision: int
    decision: str
    decision_label: str
    rationale: str | None = None
    decided_by: str
    decided_by_role: str
    decided_at: datetime


class ChildSummary(_View):
    """The child, as far as the recipient's profile allows a list to show."""

    given_name: str | None = None
    family_name: str | None = None
    age: int | None = Field(default=None, description="Whole years when the concern was received.")


class NotificationSummary(_View):
    """A notification as a worklist row: never the narrative, household or reporter."""

    notification_id: UUID
    concern_id: UUID
    kind: NotificationKind
    status: NotificationStatus
    category: Category
    severity: Severity
    source_agency: str
    received_at: datetime
    acknowledge_by: datetime
    decide_by: datetime | None = None
    due_at: datetime = Field(description="The next deadline: acknowledgement, then decision.")
    overdue: bool
    assignee: str | None = None
    child: ChildSummary
    decision: str | None = None
    decision_label: str | None = None
    escalation_of: UUID | None = None
    missed_by_agency: str | None = None


class NotificationView(_View):
    """A notification as its recipient agency sees it."""

    notification_id: UUID
    concern_id: UUID
    kind: NotificationKind
    status: NotificationStatus
    category: Category
    severity: Severity
    source_agency: str
    received_at: datetime
    occurred_at: datetime | None = Field(default=None, description="The incident date.")
    source_reference: str | None = Field(
        default=None, description="The raising agency's own reference for the concern."
    )
    reasons: list[str]
    policy_version: str
    acknowledge_by: datetime
    acknowledgement: AcknowledgementView | None = None
    escalation_of: UUID | None = None
    concern: DisclosedConcern
    disclosed_fields: list[str]
    chronology: list[ChronologyEntry] | None = None
    decide_by: datetime | None = None
    overdue: bool = False
    assignee: str | None = None
    decision: DecisionView | None = Field(default=None, description="The latest decision.")
    decisions: list[DecisionView] = Field(
        default_factory=list, description="Every decision and revision, oldest first."
    )
    decision_codes: list[DecisionCodeView] = Field(
        default_factory=list, description="The decisions this agency may record."
    )
    escalation_reason: EscalationReason | None = None
    missed_by_agency: str | None = None
    feedback: FeedbackDetail | None = None
    content_removed_at: datetime | None = Field(
        default=None,
        description=(
            "When the concern's narrative, household and reporter were removed under the "
            "partnership's retention policy; null while they are kept. A part listed in "
            "`disclosed_fields` but absent from `concern` was removed, not withheld."
        ),
    )


class NotificationPage(_View):
    """One page of an agency's notifications (newest first, or as a worklist) as summaries."""

    items: list[NotificationSummary]
    next_cursor: str | None = None
    counts: dict[str, int] = Field(
        default_factory=dict,
        description="Per status, the agency's notifications matching every filter but status.",
    )
    stream_position: int | None = Field(
        default=None,
        description="The stream's newest event id when the page was read: connect the stream "
        "with it as Last-Event-ID to miss nothing that changed since.",
    )
