"""Events on audit.events: what a service did and what a person saw."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from schemas.v1.envelope import Envelope


class AuditAction(StrEnum):
    """Everything the audit log records."""

    CONCERN_SUBMITTED = "concern.submitted"
    CONCERN_ROUTED = "concern.routed"
    NOTIFICATION_DELIVERED = "notification.delivered"
    NOTIFICATION_LISTED = "notification.listed"
    NOTIFICATION_VIEWED = "notification.viewed"
    NOTIFICATION_ACKNOWLEDGED = "notification.acknowledged"
    NOTIFICATION_ASSIGNED = "notification.assigned"
    NOTIFICATION_DECIDED = "notification.decided"
    NOTIFICATION_ESCALATED = "notification.escalated"
    DELIVERY_ATTEMPTED = "delivery.attempted"
    DELIVERY_SUCCEEDED = "delivery.succeeded"
    DELIVERY_FAILED = "delivery.failed"
    DELIVERY_DEAD_LETTERED = "delivery.dead_lettered"
    DELIVERY_REDELIVERED = "delivery.redelivered"
    RETENTION_APPLIED = "retention.applied"
    ACCESS_DENIED = "access.denied"
    RECORD_DEAD_LETTERED = "record.dead_lettered"
    AUDIT_QUERIED = "audit.queried"
    POLICY_APPLIED = "policy.applied"


# The policy.applied detail carrying the partnership file's text: audit keeps it in its policies
# table and leaves it out of the chained entry, which names only the version and its SHA-256.
POLICY_TEXT = "content"


class Actor(BaseModel):
    """Who acted: a person or system from a token, or a service acting on its own."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    subject: str = Field(description="The person or system (a name or id from the token).")
    agency: str | None = Field(default=None, description="Their agency; none for a service.")
    role: str = Field(description="agency_system, caseworker, auditor, or service.")


class AuditEventPayload(BaseModel):
    """One thing to record. Field names only, never their values."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    action: AuditAction
    actor: Actor
    concern_id: UUID | None = None
    notification_id: UUID | None = None
    fields: list[str] = Field(
        default_factory=list, description="Names of the concern's fields disclosed (never values)."
    )
    details: dict[str, JsonValue] = Field(
        default_factory=dict,
        description="Context without personal data: recipients and reasons, filters, counts.",
    )


class AuditEvent(Envelope):
    """Something to append to the audit log (`audit.events`)."""

    type: Literal["audit.event"] = "audit.event"
    payload: AuditEventPayload
