"""Escalation's job: a notification not acknowledged, or not decided, by its deadline is passed on.

Each deadline escalates a notification once.

What an escalation is (to whom, with what disclosure, which events) is decided in
escalation_policy.py; this module only runs it. Deadlines live in PostgreSQL, so a restart loses
none: the job only ever looks at the table.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Mapping
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import structlog
from sqlalchemy import Table

from schemas.v1 import NotificationRoutedPayload
from services.common.db import UnitOfWork
from services.common.runtime import ServiceRuntime
from services.partnership import Partnership
from services.partnership.holder import PartnershipHolder
from services.routing import service
from services.routing.service import ESCALATION_BATCH as BATCH
from services.routing.unit_of_work import SqlRoutingUnitOfWork, routing_unit_of_work

log = structlog.get_logger()


async def escalate_overdue(
    uow: UnitOfWork,
    outbox: Table,
    partnership: Partnership,
    *,
    now: datetime,
    limit: int = BATCH,
) -> Mapping[UUID, list[NotificationRoutedPayload]]:
    """One pass of the job on a database unit of work, its events into this outbox table."""
    routing_uow = SqlRoutingUnitOfWork(uow, outbox=outbox)
    return await service.escalate_overdue(routing_uow, partnership, now=now, limit=limit)


async def escalate_undecided(
    uow: UnitOfWork,
    outbox: Table,
    partnership: Partnership,
    *,
    now: datetime,
    limit: int = BATCH,
) -> Mapping[UUID, list[NotificationRoutedPayload]]:
    """One pass of the decision deadline's job on a database unit of work."""
    routing_uow = SqlRoutingUnitOfWork(uow, outbox=outbox)
    return await service.escalate_undecided(routing_uow, partnership, now=now, limit=limit)


def escalation_job(
    runtime: ServiceRuntime, holder: PartnershipHolder, *, interval: float
) -> Callable[[], Coroutine[Any, Any, None]]:
    """A background job that escalates overdue notifications every `interval` seconds."""

    async def run() -> None:
        while True:
            partnership = holder.current  # one version for the whole pass
            try:
                # Each unit of work hands its escalations to the outbox relay when it commits.
                unacknowledged = await service.escalate_overdue(
                    routing_unit_of_work(runtime), partnership, now=datetime.now(UTC)
                )
                undecided = await service.escalate_undecided(
                    routing_unit_of_work(runtime), partnership, now=datetime.now(UTC)
                )
                made = max(len(unacknowledged), len(undecided))
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.warning("escalation.failed", error=type(error).__name__, retry_in=interval)
                made = 0
            # A full batch may mean more are waiting: go again at once.
            if made < BATCH:
                await asyncio.sleep(interval)

    return run
