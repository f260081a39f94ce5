"""What intake remembers of a concern: its submission, where it went, how far each got."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID


@dataclass(frozen=True)
class NewSubmission:
    """A concern being accepted: who submitted it, how, when, and its content's digest."""

    concern_id: UUID
    source_agency: str
    source_reference: str
    digest: str
    submitted_by: str
    submitted_role: str
    channel: str
    received_at: datetime


@dataclass(frozen=True)
class Submission:
    """One accepted concern as intake remembers it."""

    concern_id: UUID
    source_agency: str
    source_reference: str
    digest: str
    received_at: datetime
    routed_at: datetime | None
    recipients: list[dict[str, Any]] | None


@dataclass(frozen=True)
class Routing:
    """Where one concern went."""

    concern_id: UUID
    routed_at: datetime
    recipients: list[dict[str, Any]]


@dataclass(frozen=True)
class RecipientProgress:
    """How far one recipient agency has got with the notification of a concern it was sent."""

    notification_id: UUID
    concern_id: UUID
    agency: str
    changed_at: datetime
    acknowledge_by: datetime
    decide_by: datetime | None
    acknowledged_at: datetime | None
    decision: str | None
    decision_label: str | None
    decided_at: datetime | None
    assigned: bool
    escalated: bool


@dataclass(frozen=True)
class PageCursor:
    """Where a page of an agency's concerns ends: the last concern it held."""

    received_at: datetime
    concern_id: UUID
