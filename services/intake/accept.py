"""Accepting a concern, whichever way it came: the submission with its outbox messages."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import structlog

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
from services.intake.model import NewSubmission
from services.intake.policy import Resubmission, classify_resubmission, submission_digest
from services.intake.unit_of_work import IntakeUnitOfWork

log = structlog.get_logger()


@dataclass(frozen=True)
class Accepted:
    """The concern id a submission has, and whether it was new, a replay or a conflict."""

    concern_id: UUID
    outcome: Resubmission


def announcements(
    concern: ConcernSubmission,
    *,
    concern_id: UUID,
    caller: Caller,
    channel: str,
    correlation_id: str,
    received_at: datetime,
) -> list[OutboxMessage]:
    """ConcernReceived for routing and concern.submitted for audit, both keyed by concern id."""
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
    return [
        OutboxMessage(received, Topic.CONCERNS_RECEIVED, str(concern_id)),
        OutboxMessage(audit, Topic.AUDIT_EVENTS, str(concern_id)),
    ]


async def accept_concern(
    uow: IntakeUnitOfWork,
    *,
    concern: ConcernSubmission,
    caller: Caller,
    channel: str,
    correlation_id: str,
    now: datetime,
) -> Accepted:
    """Add a new concern with its ConcernReceived and audit events, or classify a repeat."""
    digest = submission_digest(concern)
    concern_id = uuid.uuid4()
    submission = NewSubmission(
        concern_id=concern_id,
        source_agency=caller.agency,
        source_reference=concern.source_reference,
        digest=digest,
        submitted_by=caller.subject,
        submitted_role=caller.role.value,
        channel=channel,
        received_at=now,
    )
    messages = announcements(
        concern,
        concern_id=concern_id,
        caller=caller,
        channel=channel,
        correlation_id=correlation_id,
        received_at=now,
    )
    if not await uow.submissions.add_if_new(submission, messages):
        # Taken already (perhaps a moment ago by a concurrent post): the row decides.
        previous = await uow.submissions.find_by_reference(
            source_agency=caller.agency, source_reference=concern.source_reference
        )
        assert previous is not None
        outcome = classify_resubmission(previous.digest, digest)
        log.info("concern.resubmitted", concern_id=str(previous.concern_id), outcome=outcome)
        return Accepted(previous.concern_id, outcome)
    await uow.commit()
    log.info("concern.accepted", concern_id=str(concern_id), channel=channel)
    return Accepted(concern_id, Resubmission.NEW)
