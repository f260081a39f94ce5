"""What intake remembers of a concern: its submission and where it was routed."""

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
