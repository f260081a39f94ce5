"""Putting each partnership policy version that comes into force on the audit record."""

from __future__ import annotations

from uuid import uuid4

import structlog

from schemas.v1 import Actor, AuditAction, AuditEvent, AuditEventPayload, Topic
from schemas.v1.audit import POLICY_TEXT
from services.common.outbox import OutboxMessage
from services.partnership.holder import PolicyVersion
from services.routing.unit_of_work import RoutingUnitOfWork

log = structlog.get_logger()


def policy_applied(version: PolicyVersion, *, operator: str) -> AuditEvent:
    """The audit event saying this version came into force in routing, applied by `operator`."""
    return AuditEvent(
        producer="routing",
        correlation_id=f"policy-{uuid4()}",
        payload=AuditEventPayload(
            action=AuditAction.POLICY_APPLIED,
            actor=Actor(subject=operator, agency=None, role="operator"),
            details={
                "partnership": version.partnership.partnership,
                "policy_version": version.version,
                "sha256": version.sha256,
                "service": "routing",
                POLICY_TEXT: version.content,
            },
        ),
    )


async def record_policy_applied(
    uow: RoutingUnitOfWork, version: PolicyVersion, *, operator: str
) -> None:
    """Enqueue policy.applied on the outbox, in its own transaction."""
    async with uow:
        await uow.outbox.add(
            [
                OutboxMessage(
                    policy_applied(version, operator=operator), Topic.AUDIT_EVENTS, version.version
                )
            ]
        )
        await uow.commit()
    log.info("policy.recorded", policy_version=version.version, sha256=version.sha256)
