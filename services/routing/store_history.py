"""Reading the concerns routing holds from a period, for replaying them under another policy."""

from __future__ import annotations

from datetime import datetime

import structlog
from pydantic import ValidationError
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from schemas.v1.concern import ConcernSubmission
from services.routing.policy_diff import PastConcern
from services.routing.store import concerns

log = structlog.get_logger()


async def concerns_received_since(session: AsyncSession, since: datetime) -> list[PastConcern]:
    """Every concern received at or after `since`, oldest first, read in a read-only transaction."""
    await session.execute(text("SET TRANSACTION READ ONLY"))
    rows = await session.stream(
        select(
            concerns.c.concern_id,
            concerns.c.payload,
            concerns.c.source_agency,
            concerns.c.received_at,
        )
        .where(concerns.c.received_at >= since)
        .order_by(concerns.c.received_at, concerns.c.concern_id)
        .execution_options(yield_per=1000)
    )
    found: list[PastConcern] = []
    async for row in rows:
        try:
            concern = ConcernSubmission.model_validate(row.payload)
        except ValidationError:
            # An older contract's concern that today's cannot read: skipped, and said so.
            log.warning("policy_diff.concern_unreadable", concern_id=str(row.concern_id))
            continue
        found.append(PastConcern(row.concern_id, concern, row.source_agency, row.received_at))
    return found
