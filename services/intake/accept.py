"""Accepting a concern, whichever way it came: one statement with its outbox rows."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

import structlog
from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncEngine

from schemas.v1 import (
    AuditAction,
    AuditEvent,
    AuditEventPayload,
    ConcernReceived,
    ConcernReceivedPayload,
    ConcernSubmission,
    Submitter,
    Topic,
)
from services.common.auth import Caller
from services.common.messages import OutboxMessage
from services.intake import store
from services.intake.policy import Resubmission, classify_resubmission, submission_digest

log = structlog.get_logger()


@dataclass(frozen=True)
class Accepted:
    """The concern id a submission has, and whether it was new, a replay or a conflict."""

    concern_id: UUID
    outcome: Resubmission


async def accept_concern(
    engine: AsyncEngine,
    outbox: Table,
    *,
    concern: ConcernSubmission,
    caller: Caller,
    channel: str,
    correlation_id: str,
) -> Accepted:
    """Store a new concern with its ConcernReceived and audit events, or classify a repeat."""
    digest = submission_digest(concern)
    received_at = datetime.now(UTC)
    concern_id = uuid.uuid4()
    received = ConcernReceived(
        correlation_id=correlation_id,
        payload=ConcernReceivedPayload(
            concern_id=concern_id,
            source_agency=caller.agency,
            received_at=received_at,
            submitted_by=Submitter(subject=caller.subject, role=caller.role.value),
            concern=concern,
        ),
    )
    audit = AuditEvent(
        producer="intake",
        correlation_id=correlation_id,
        occurred_at=received_at,
        payload=AuditEventPayload(
            action=AuditAction.CONCERN_SUBMITTED,
            actor=caller.as_actor(),
            concern_id=concern_id,
            details={
                "channel": channel,
                "category": concern.category.value,
                "severity": concern.severity.value,
            },
        ),
    )
    async with engine.connect() as connection:
        # The submission and its outbox rows are one statement, so autocommit makes them one
        # transaction without BEGIN and COMMIT round trips.
        autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
        added = await store.add_submission(
            autocommit,
            outbox,
            {
                "concern_id": concern_id,
                "source_agency": caller.agency,
                "source_reference": concern.source_reference,
                "digest": digest,
                "submitted_by": caller.subject,
                "submitted_role": caller.role.value,
                "channel": channel,
                "received_at": received_at,
            },
            [
                OutboxMessage(received, Topic.CONCERNS_RECEIVED, str(concern_id)),
                OutboxMessage(audit, Topic.AUDIT_EVENTS, str(concern_id)),
            ],
        )
        if not added:
            # Taken already (perhaps a moment ago by a concurrent post): the row decides.
            previous = await store.find_by_reference(
                autocommit, source_agency=caller.agency, source_reference=concern.source_reference
            )
            assert previous is not None
            outcome = classify_resubmission(previous.digest, digest)
            log.info("concern.resubmitted", concern_id=str(previous.concern_id), outcome=outcome)
            return Accepted(previous.concern_id, outcome)
    log.info("concern.accepted", concern_id=str(concern_id), channel=channel)
    return Accepted(concern_id, Resubmission.NEW)
