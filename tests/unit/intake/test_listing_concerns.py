"""An agency's own concerns, newest first, a page at a time, each with its recipients' progress."""

from __future__ import annotations

import base64
from datetime import timedelta
from uuid import UUID, uuid4

import pytest

from schemas.v1 import ConcernStatusPage
from services.common.auth import Caller, Role
from services.intake.accept import Accepted
from services.intake.model import PageCursor, Submission
from services.intake.progress import page_cursor, read_cursor
from services.intake.service import (
    BadCursor,
    RoleRefused,
    list_concerns,
    record_progress,
    submit_concern,
)
from tests.builders import RECEIVED, a_concern, the_reference_partnership
from tests.unit.intake.fakes import FakeUnitOfWork
from tests.unit.intake.test_recipient_progress import a_routed_concern, decided
from tests.unit.intake.test_routings_and_status import HOSPITAL, POLICE

NOW = RECEIVED + timedelta(days=2)


async def submitted(uow: FakeUnitOfWork, caller: Caller, reference: str, *, minute: int) -> UUID:
    accepted = await submit_concern(
        uow,
        the_reference_partnership(),
        caller=caller,
        concern=a_concern(source_reference=reference),
        channel="http",
        correlation_id="corr-1",
        now=RECEIVED + timedelta(minutes=minute),
    )
    assert isinstance(accepted, Accepted)
    return accepted.concern_id


async def page(
    uow: FakeUnitOfWork, *, limit: int, cursor: str | None = None, caller: Caller = HOSPITAL
) -> ConcernStatusPage:
    listed = await list_concerns(uow, caller=caller, limit=limit, cursor=cursor, now=NOW)
    assert isinstance(listed, ConcernStatusPage)
    return listed


async def test_pages_hold_the_agencys_concerns_newest_first_each_once() -> None:
    uow = FakeUnitOfWork()
    # Three at the same minute: the concern id orders them, so no page repeats or skips one.
    minutes = [0, 1, 2, 2, 2, 3, 4]
    ids = [await submitted(uow, HOSPITAL, f"REF-{i}", minute=m) for i, m in enumerate(minutes)]
    await submitted(uow, POLICE, "POLICE-1", minute=5)
    seen: list[UUID] = []
    cursor: str | None = None
    pages = 0
    while True:
        listed = await page(uow, limit=3, cursor=cursor)
        seen.extend(item.concern_id for item in listed.items)
        pages += 1
        if listed.next_cursor is None:
            break
        cursor = listed.next_cursor
    assert pages == 3
    newest_first = sorted(
        zip(minutes, ids, strict=True), key=lambda pair: (pair[0], pair[1]), reverse=True
    )
    assert seen == [concern_id for _, concern_id in newest_first]


async def test_a_page_exactly_full_at_the_end_has_no_next_cursor() -> None:
    uow = FakeUnitOfWork()
    for minute in range(2):
        await submitted(uow, HOSPITAL, f"REF-{minute}", minute=minute)
    listed = await page(uow, limit=2)
    assert (len(listed.items), listed.next_cursor) == (2, None)


async def test_an_agency_with_no_concerns_gets_an_empty_page() -> None:
    uow = FakeUnitOfWork()
    await submitted(uow, HOSPITAL, "REF-1", minute=0)
    assert await page(uow, limit=10, caller=POLICE) == ConcernStatusPage(items=[])


async def test_each_listed_concern_carries_its_recipients_progress() -> None:
    uow = FakeUnitOfWork()
    concern_id, notification_id = await a_routed_concern(uow)
    await record_progress(uow, [decided(concern_id, notification_id, timedelta(hours=2))])
    (item,) = (await page(uow, limit=10)).items
    (csc,) = item.recipients
    assert (item.concern_id, item.status) == (concern_id, "routed")
    assert (csc.agency, csc.decision, csc.assigned) == ("nm-csc", "strategy_discussion", True)


@pytest.mark.parametrize(
    "cursor", ["", "not-a-cursor", "%%%", "MjAyNi0xMS0xNnxub3Bl", "é", "A" * 5000]
)
async def test_a_cursor_intake_did_not_give_is_refused(cursor: str) -> None:
    listed = await list_concerns(
        FakeUnitOfWork(), caller=HOSPITAL, limit=10, cursor=cursor, now=NOW
    )
    assert listed == BadCursor()


def test_a_cursor_without_a_time_zone_is_refused() -> None:
    naive = base64.urlsafe_b64encode(f"2026-11-16T09:30:00|{uuid4()}".encode()).decode()
    assert read_cursor(naive) is None


def test_a_cursor_reads_back_as_the_concern_it_follows() -> None:
    last = Submission(uuid4(), "nm-hospital-ed", "REF-1", "digest", RECEIVED, None, None)
    assert read_cursor(page_cursor(last)) == PageCursor(RECEIVED, last.concern_id)


async def test_an_auditor_may_not_list_concerns() -> None:
    auditor = Caller(subject="ig-lead", agency="nm-hospital-ed", role=Role.AUDITOR)
    listed = await list_concerns(FakeUnitOfWork(), caller=auditor, limit=10, cursor=None, now=NOW)
    assert listed == RoleRefused(Role.AUDITOR)


async def test_a_caseworker_of_the_source_agency_lists_its_concerns() -> None:
    uow = FakeUnitOfWork()
    concern_id = await submitted(uow, HOSPITAL, "REF-1", minute=0)
    nurse = Caller(subject="nurse-1", agency="nm-hospital-ed", role=Role.CASEWORKER)
    assert [item.concern_id for item in (await page(uow, limit=5, caller=nurse)).items] == [
        concern_id
    ]
