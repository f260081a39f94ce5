"""The text of each partnership policy version that came into force, kept beside the chain.

A policy.applied event carries the file's text in its details; the chained entry keeps only the
version and its SHA-256 (the log stays field names and ids), and the text goes to `policies`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import structlog
from sqlalchemy import Column, DateTime, String, Table, Text, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from schemas.v1 import AuditAction, AuditEvent, PolicyView
from schemas.v1.audit import POLICY_TEXT as CONTENT
from services.audit.store import metadata

log = structlog.get_logger()

policies = Table(
    "policies",
    metadata,
    Column("version", String(200), primary_key=True),
    Column("sha256", String(64), nullable=False),
    Column("partnership", String(100), nullable=False),
    Column("content", Text, nullable=False),
    Column("came_into_force_at", DateTime(timezone=True), nullable=False),
    Column("applied_by", String(200), nullable=False),
)


@dataclass(frozen=True)
class AppliedPolicy:
    """One policy version's row: what came into force, when, applied by whom."""

    version: str
    sha256: str
    partnership: str
    content: str
    came_into_force_at: datetime
    applied_by: str


def set_policy_text_aside(
    events: Sequence[AuditEvent],
) -> tuple[list[AuditEvent], list[AppliedPolicy]]:
    """The events as the chain keeps them (no policy text), and the policy versions they bring."""
    chained: list[AuditEvent] = []
    applied: list[AppliedPolicy] = []
    for event in events:
        p = event.payload
        if p.action is not AuditAction.POLICY_APPLIED or CONTENT not in p.details:
            chained.append(event)
            continue
        details = {k: v for k, v in p.details.items() if k != CONTENT}
        content, version, sha256 = (
            p.details[CONTENT],
            details.get("policy_version"),
            details.get("sha256"),
        )
        if isinstance(content, str) and isinstance(version, str) and isinstance(sha256, str):
            applied.append(
                AppliedPolicy(
                    version=version,
                    sha256=sha256,
                    partnership=str(details.get("partnership", "")),
                    content=content,
                    came_into_force_at=event.occurred_at,
                    applied_by=p.actor.subject,
                )
            )
        chained.append(
            event.model_copy(update={"payload": p.model_copy(update={"details": details})})
        )
    return chained, applied


REFUSED = "another text is on record under this policy_version"


async def record_policies(session: AsyncSession, applied: Sequence[AppliedPolicy]) -> set[str]:
    """Keep each new version's text; the SHA-256s refused (on record under another text)."""
    refused: set[str] = set()
    for policy in applied:
        added = await session.execute(
            pg_insert(policies)
            .values(**policy.__dict__)
            .on_conflict_do_nothing()
            .returning(policies.c.version)
        )
        if added.first() is not None:
            continue
        on_record = await session.scalar(
            select(policies.c.sha256).where(policies.c.version == policy.version)
        )
        if on_record != policy.sha256:
            refused.add(policy.sha256)
            log.warning(
                "policy.refused",
                policy_version=policy.version,
                sha256=policy.sha256,
                on_record=on_record,
                reason=REFUSED,
            )
    return refused


def mark_refused(events: Sequence[AuditEvent], refused: set[str]) -> list[AuditEvent]:
    """The events, each policy.applied whose text was refused saying so in its details."""
    marked: list[AuditEvent] = []
    for event in events:
        p = event.payload
        if p.action is AuditAction.POLICY_APPLIED and p.details.get("sha256") in refused:
            details = {**p.details, "refused": REFUSED}
            event = event.model_copy(update={"payload": p.model_copy(update={"details": details})})
        marked.append(event)
    return marked


async def find_policy(session: AsyncSession, version: str) -> PolicyView | None:
    """The policy version on record under this name, if any."""
    row = (
        await session.execute(
            select(
                policies.c.version,
                policies.c.sha256,
                policies.c.content,
                policies.c.came_into_force_at,
            ).where(policies.c.version == version)
        )
    ).first()
    return None if row is None else PolicyView.model_validate(row._asdict())
