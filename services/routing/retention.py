"""Pure: which concerns are past the partnership's retention, and what removing their content means.

Routing keeps each concern, and each notification's disclosed copy of it, for escalations,
feedback and caseworkers. Past `retention.personal_content` (from the concern's received time)
the personal content goes: the narrative, the household and the reporter. The rest stays (the
child, summary, location, lawful basis, the envelope, every deadline, decision and status), so
escalation and feedback still work, cut from what is left.

Removed is not withheld: a notification keeps its `disclosed_fields` and is marked with when
its content was removed, so its reader is told "removed under the retention policy" rather
than "not shared".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from pydantic import AwareDatetime

from schemas.v1 import AuditAction, AuditEventPayload
from schemas.v1.concern import ConcernSubmission, HouseholdMember, Reporter
from services.common.messages import OutboxMessage
from services.routing.announcements import ROUTING, routing_audit

# The parts of a concern removed past retention, in the order the audit names them.
PERSONAL_CONTENT: tuple[str, ...] = ("household", "narrative", "reporter")


class RetainedConcern(ConcernSubmission):
    """A stored concern whose personal content was removed: those parts are gone, not blank."""

    # Removed, so never a value: a profile that allows them discloses nothing of them.
    household: list[HouseholdMember] | None = None  # type: ignore[assignment]
    narrative: str | None = None  # type: ignore[assignment]
    reporter: Reporter | None = None  # type: ignore[assignment]
    content_removed_at: AwareDatetime


def removed_parts(concern: ConcernSubmission) -> frozenset[str]:
    """The parts of this concern removed under the retention policy (none while kept)."""
    return frozenset(PERSONAL_CONTENT) if isinstance(concern, RetainedConcern) else frozenset()


def retention_cutoff(now: datetime, retention: timedelta) -> datetime:
    """Concerns received before this moment are past retention."""
    return now - retention


def is_past_retention(received_at: datetime, retention: timedelta, now: datetime) -> bool:
    """Whether a concern received then has been kept longer than the retention allows."""
    return received_at + retention < now


def concern_without_content(payload: Mapping[str, Any]) -> dict[str, Any]:
    """A stored concern's JSON with its personal content removed."""
    return {name: value for name, value in payload.items() if name not in PERSONAL_CONTENT}


def notification_without_content(payload: Mapping[str, Any]) -> dict[str, Any]:
    """A stored notification's JSON with the personal content removed from its disclosed concern.

    `disclosed_fields` is kept: it says what the recipient was shown, which stays true.
    """
    disclosed = payload.get("concern") or {}
    return {**payload, "concern": concern_without_content(disclosed)}


def retained_concern(payload: Mapping[str, Any], *, removed_at: datetime) -> RetainedConcern:
    """A stored concern's JSON, after its content was removed, as a concern to cut from."""
    return RetainedConcern.model_validate(
        {**concern_without_content(payload), "content_removed_at": removed_at}
    )


@dataclass(frozen=True)
class RemovedContent:
    """What one pass removed from one concern: its parts, across how many notifications."""

    concern_id: UUID
    received_at: datetime
    fields: tuple[str, ...]
    notifications: int


def retention_applied(
    removed: RemovedContent, *, policy_version: str, retention: timedelta, at: datetime
) -> OutboxMessage:
    """The audit entry of removing one concern's personal content: field names, never values.

    `fields` (what was disclosed) stays empty: nothing was shown to anyone.
    """
    payload = AuditEventPayload(
        action=AuditAction.RETENTION_APPLIED,
        actor=ROUTING,
        concern_id=removed.concern_id,
        details={
            "fields_removed": list(removed.fields),
            "policy_version": policy_version,
            "retention": iso_duration(retention),
            "received_at": removed.received_at.isoformat(),
            "notifications": removed.notifications,
        },
    )
    return routing_audit(
        payload,
        correlation_id=f"retention-{removed.concern_id}",
        occurred_at=at,
        key=str(removed.concern_id),
    )


def iso_duration(period: timedelta) -> str:
    """A retention period as the ISO 8601 duration the partnership file writes (P1095D, PT5S)."""
    days, seconds = period.days, period.seconds
    whole = f"P{days}D" if days else "P"
    return whole + (f"T{seconds}S" if seconds or not days else "")
