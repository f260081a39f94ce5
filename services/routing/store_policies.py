"""Each partnership policy version routing has put in force, by name: one text per name, for ever.

The holder remembers the versions of one process; this table remembers them across restarts and
across routing's processes, so a changed file under a name applied before is refused.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, DateTime, String, Table, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.routing.store import metadata

policy_versions = Table(
    "policy_versions",
    metadata,
    Column("policy_version", String(200), primary_key=True),
    Column("sha256", String(64), nullable=False),
    Column("applied_at", DateTime(timezone=True), nullable=False),
    Column("applied_by", String(200), nullable=False),
)


async def find_policy_sha256(session: AsyncSession, policy_version: str) -> str | None:
    """The SHA-256 on record under this policy_version, if it was ever applied."""
    found: str | None = await session.scalar(
        select(policy_versions.c.sha256).where(policy_versions.c.policy_version == policy_version)
    )
    return found


async def add_policy_version(
    session: AsyncSession,
    *,
    policy_version: str,
    sha256: str,
    applied_at: datetime,
    applied_by: str,
) -> str:
    """Record a version the first time it is applied; the SHA-256 on record under its name."""
    added = await session.scalar(
        pg_insert(policy_versions)
        .values(
            policy_version=policy_version,
            sha256=sha256,
            applied_at=applied_at,
            applied_by=applied_by[:200],
        )
        .on_conflict_do_nothing()
        .returning(policy_versions.c.sha256)
    )
    if added is not None:
        return str(added)
    on_record = await find_policy_sha256(session, policy_version)
    assert on_record is not None  # the conflict was on this very row
    return on_record
