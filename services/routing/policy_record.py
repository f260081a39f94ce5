"""Putting each partnership policy version that comes into force on record: routing's and audit's.

Routing keeps each version's SHA-256 by name, so a changed file under a name applied in any run
before is refused: at start (routing does not start) and on reload (the running policy stays).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from uuid import uuid4

import structlog

from schemas.v1 import Actor, AuditAction, AuditEvent, AuditEventPayload, Topic
from schemas.v1.audit import POLICY_TEXT
from services.common.outbox import OutboxMessage
from services.partnership.holder import REUSED_VERSION, PolicyVersion, reused_version
from services.partnership.loader import PartnershipError, Problem
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
    uow: RoutingUnitOfWork, version: PolicyVersion, *, operator: str, at: datetime
) -> None:
    """Record the version by name (first time only) and enqueue policy.applied, in one commit."""
    async with uow:
        on_record = await uow.policy_versions.record(
            policy_version=version.version,
            sha256=version.sha256,
            applied_at=at,
            applied_by=operator,
        )
        if on_record != version.sha256:
            # Another routing process put another text in force under this name since it was
            # admitted here. Audit is told all the same, and marks this policy.applied refused.
            log.warning(
                "policy.reused_version",
                policy_version=version.version,
                sha256=version.sha256,
                on_record=on_record,
            )
        await uow.outbox.add(
            [
                OutboxMessage(
                    policy_applied(version, operator=operator), Topic.AUDIT_EVENTS, version.version
                )
            ]
        )
        await uow.commit()
    log.info("policy.recorded", policy_version=version.version, sha256=version.sha256)


async def check_policy_version(uow: RoutingUnitOfWork, version: PolicyVersion) -> Problem | None:
    """The problem with a version whose name is on record under another SHA-256, if it is."""
    async with uow:
        on_record = await uow.policy_versions.sha256_of(version.version)
    return reused_version(version, on_record)


async def refuse_reused_version(
    uow: RoutingUnitOfWork, version: PolicyVersion, *, path: Path
) -> None:
    """Raise PartnershipError, logged (places only), if the version's name has another text."""
    problem = await check_policy_version(uow, version)
    if problem is None:
        return
    log.error(
        "partnership.refused",
        policy_version=version.version,
        sha256=version.sha256,
        places=[problem.place],
        reason=REUSED_VERSION,
    )
    raise PartnershipError(path, [problem])
