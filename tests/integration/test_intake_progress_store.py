"""Intake's PostgreSQL unit of work keeps the newest progress and pages concerns without gaps."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest
import pytest_asyncio
from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import async_sessionmaker

from services.common.db import make_engine
from services.common.outbox import outbox_table, processed_events_table
from services.intake.app import migrate_intake
from services.intake.model import NewSubmission, PageCursor, RecipientProgress
from services.intake.settings import IntakeSettings
from services.intake.store import SCHEMA
from services.intake.unit_of_work import PostgresUnitOfWork

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

NOW = datetime.now(UTC).replace(microsecond=0)


@pytest_asyncio.fixture(loop_scope="session")
async def units(
    service_environment: dict[str, str],
) -> AsyncIterator[Callable[[], PostgresUnitOfWork]]:
    """New intake units of work on the run's PostgreSQL, its schema migrated."""
    await asyncio.to_thread(migrate_intake, service_environment["database_url"])
    engine = make_engine(IntakeSettings(**service_environment))
    # Table objects of its own: the intake app of the run owns the ones in store.metadata.
    metadata = MetaData(schema=SCHEMA)
    outbox, processed = outbox_table(metadata), processed_events_table(metadata)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    try:
        yield lambda: PostgresUnitOfWork(engine, sessions, outbox=outbox, processed=processed)
    finally:
        await engine.dispose()


def a_state(**changes: object) -> RecipientProgress:
    state = RecipientProgress(
        notification_id=uuid4(),
        concern_id=uuid4(),
        agency="nm-csc",
        changed_at=NOW,
        acknowledge_by=NOW + timedelta(hours=1),
        decide_by=NOW + timedelta(days=1),
        acknowledged_at=None,
        decision=None,
        decision_label=None,
        decided_at=None,
        assigned=False,
        escalated=False,
    )
    return dataclasses.replace(state, **changes)


async def record(units: Callable[[], PostgresUnitOfWork], state: RecipientProgress) -> None:
    async with units() as uow:
        await uow.progress.record([state])
        await uow.commit()


async def held(units: Callable[[], PostgresUnitOfWork], concern_id: UUID) -> RecipientProgress:
    async with units() as uow:
        (state,) = await uow.progress.of_concerns([concern_id])
    return state


async def test_an_older_state_changes_nothing_but_an_escalation_is_kept(
    units: Callable[[], PostgresUnitOfWork],
) -> None:
    decided = a_state(
        changed_at=NOW + timedelta(minutes=5),
        acknowledged_at=NOW,
        decision="early_help",
        decision_label="Early help",
        decided_at=NOW + timedelta(minutes=5),
        assigned=True,
    )
    await record(units, decided)
    await record(units, dataclasses.replace(decided, changed_at=NOW, decision=None, escalated=True))
    assert await held(units, decided.concern_id) == dataclasses.replace(decided, escalated=True)


async def test_a_newer_state_replaces_the_one_held_and_at_the_same_instant_the_later(
    units: Callable[[], PostgresUnitOfWork],
) -> None:
    first = a_state(acknowledged_at=NOW)
    revised = dataclasses.replace(first, changed_at=NOW + timedelta(hours=1), assigned=True)
    await record(units, first)
    await record(units, revised)
    assert await held(units, first.concern_id) == revised
    again = dataclasses.replace(revised, decision="noted", decision_label="Noted")
    await record(units, again)
    assert await held(units, first.concern_id) == again


async def test_pages_of_concerns_received_at_the_same_instant_neither_repeat_nor_skip(
    units: Callable[[], PostgresUnitOfWork],
) -> None:
    agency = f"test-agency-{uuid4().hex[:8]}"
    concern_ids = [uuid4() for _ in range(5)]
    async with units() as uow:
        for index, concern_id in enumerate(concern_ids):
            submission = NewSubmission(
                concern_id=concern_id,
                source_agency=agency,
                source_reference=f"REF-{index}",
                digest="0" * 64,
                submitted_by="tester",
                submitted_role="agency_system",
                channel="http",
                received_at=NOW,
            )
            assert await uow.submissions.add_if_new(submission, [])
        await uow.commit()
    seen: list[UUID] = []
    after: PageCursor | None = None
    while True:
        async with units() as uow:
            page = await uow.submissions.agency_concerns(source_agency=agency, limit=2, after=after)
        if not page:
            break
        seen.extend(s.concern_id for s in page)
        after = PageCursor(page[-1].received_at, page[-1].concern_id)
    assert seen == sorted(concern_ids, reverse=True)
