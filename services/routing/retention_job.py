"""Retention's job: past the partnership's period, a concern's personal content is removed.

In small batches, one transaction each, with one `retention.applied` audit event per concern
through the outbox in the same transaction. A concern is claimed with FOR UPDATE SKIP LOCKED
and marked as it is emptied, so two processes, or the same pass run twice, remove it once.
What to remove, and what the audit says, is decided in retention.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

import structlog
from sqlalchemy import Table

from services.common.db import UnitOfWork
from services.common.outbox import SessionOutbox
from services.common.runtime import ServiceRuntime
from services.partnership import Partnership
from services.partnership.holder import PartnershipHolder
from services.routing import store_retention
from services.routing.retention import (
    PERSONAL_CONTENT,
    RemovedContent,
    retention_applied,
    retention_cutoff,
)

log = structlog.get_logger()
RETENTION_BATCH = 100


async def apply_retention(
    uow: UnitOfWork,
    outbox: Table,
    partnership: Partnership,
    *,
    now: datetime,
    limit: int = RETENTION_BATCH,
) -> list[RemovedContent]:
    """One batch: remove the personal content of up to `limit` concerns past retention."""
    period = partnership.retention.personal_content
    async with uow:
        held = await store_retention.claim_concerns_past_retention(
            uow.session, received_before=retention_cutoff(now, period), limit=limit
        )
        if not held:
            return []
        await store_retention.remove_personal_content(uow.session, held, at=now)
        removed = [
            RemovedContent(h.concern_id, h.received_at, PERSONAL_CONTENT, len(h.notifications))
            for h in held
        ]
        await SessionOutbox(uow.session, outbox).add(
            retention_applied(
                r, policy_version=partnership.policy_version, retention=period, at=now
            )
            for r in removed
        )
        await uow.commit()
    for r in removed:
        log.info(
            "retention.applied",
            concern_id=str(r.concern_id),
            notifications=r.notifications,
            fields_removed=list(r.fields),
        )
    return removed


def retention_job(
    runtime: ServiceRuntime,
    holder: PartnershipHolder,
    *,
    interval: float,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Callable[[], Coroutine[Any, Any, None]]:
    """A background job that applies the retention policy every `interval` seconds."""

    async def run() -> None:
        while True:
            try:
                removed = await apply_retention(
                    runtime.unit_of_work(), runtime.outbox, holder.current, now=clock()
                )
                if removed:
                    runtime.relay.wake()
                made = len(removed)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.warning("retention.failed", error=type(error).__name__, retry_in=interval)
                made = 0
            # A full batch may mean more are waiting: go again, after a breath for casework.
            await asyncio.sleep(0.05 if made >= RETENTION_BATCH else interval)

    return run
