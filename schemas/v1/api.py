"""HTTP request and response bodies that are not events."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from schemas.v1.concern import Category, Severity
from schemas.v1.disclosure import DisclosedConcern
from schemas.v1.events import ChronologyEntry, NotificationKind


class _View(BaseModel):
    model_config = ConfigDict(frozen=True)


class ConcernAccepted(_View):
    """Answer to a new or repeated submission."""

    concern_id: UUID
    status: Literal["accepted"] = "accepted"


class RecipientView(_View):
    """One agency a concern was routed to."""

    agency: str
    reasons: list[str]


class ConcernStatusView(_View):
    """A concern's progress, for the agency that raised it."""

    concern_id: UUID
    source_reference: str
    status: Literal["accepted", "routed"]
    received_at: datetime
    routed_at: datetime | None = None
    recipients: list[RecipientView] = Field(default_factory=list)


class NotificationStatus(StrEnum):
    """Where a notification stands."""

    NEW = "new"
    ACKNOWLEDGED = "acknowledged"
    ESCALATED = "escalated"


class AcknowledgementView(_View):
    """Who acknowledged a notification, and when."""

    acknowledged_by: str
    acknowledged_at: datetime


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
    reasons: list[str]
    policy_version: str
    acknowledge_by: datetime
    acknowledgement: AcknowledgementView | None = None
    escalation_of: UUID | None = None
    concern: DisclosedConcern
    disclosed_fields: list[str]
    chronology: list[ChronologyEntry] | None = None


class NotificationPage(_View):
    """One page of an agency's notifications, newest first."""

    items: list[NotificationView]
    next_cursor: str | None = None
