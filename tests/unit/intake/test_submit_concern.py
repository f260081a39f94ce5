"""Submitting a concern over HTTP, through the use case and an in-memory unit of work."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from schemas.v1 import AuditEvent, ConcernReceived, Topic
from services.common.auth import Caller, Role
from services.intake.accept import Accepted
from services.intake.policy import Resubmission
from services.intake.service import (
    AgencyRefused,
    DatesRefused,
    RoleRefused,
    Submitted,
    submit_concern,
)
from tests.builders import RECEIVED, a_concern, the_reference_partnership
from tests.unit.intake.fakes import FakeUnitOfWork

HOSPITAL = Caller(subject="ed-system", agency="nm-hospital-ed", role=Role.AGENCY_SYSTEM)


async def submit(uow: FakeUnitOfWork, caller: Caller = HOSPITAL, **changes: Any) -> Submitted:
    return await submit_concern(
        uow,
        the_reference_partnership(),
        caller=caller,
        concern=a_concern(**changes),
        channel="http",
        correlation_id="corr-1",
        now=RECEIVED,
    )


async def accepted(uow: FakeUnitOfWork, caller: Caller = HOSPITAL, **changes: Any) -> Accepted:
    result = await submit(uow, caller, **changes)
    assert isinstance(result, Accepted)
    return result


async def test_a_new_concern_is_accepted_with_its_received_and_audit_events() -> None:
    uow = FakeUnitOfWork()
    new = await accepted(uow)
    assert new.outcome is Resubmission.NEW
    assert uow.commits == 1
    [received] = uow.outbox.on(Topic.CONCERNS_RECEIVED)
    [audit] = uow.outbox.on(Topic.AUDIT_EVENTS)
    assert isinstance(received.event, ConcernReceived)
    assert received.key == str(new.concern_id)
    assert received.event.correlation_id == "corr-1"
    assert received.event.payload.concern_id == new.concern_id
    assert received.event.payload.source_agency == "nm-hospital-ed"
    assert received.event.payload.received_at == RECEIVED
    assert received.event.payload.concern == a_concern()
    assert isinstance(audit.event, AuditEvent)
    assert audit.key == str(new.concern_id)
    assert audit.event.payload.action == "concern.submitted"
    assert audit.event.payload.concern_id == new.concern_id
    assert audit.event.payload.details == {
        "channel": "http",
        "category": "other",
        "severity": "medium",
    }


async def test_the_same_body_again_is_a_replay_of_the_same_concern_published_once() -> None:
    uow = FakeUnitOfWork()
    first = await accepted(uow)
    again = await accepted(uow)
    assert again == Accepted(first.concern_id, Resubmission.REPLAY)
    assert len(uow.outbox.committed) == 2
    assert uow.outbox.pending == []


async def test_another_body_under_the_same_reference_is_a_conflict_naming_the_concern() -> None:
    uow = FakeUnitOfWork()
    first = await accepted(uow)
    changed = await accepted(uow, summary="Something else")
    assert changed == Accepted(first.concern_id, Resubmission.CONFLICT)
    assert len(uow.outbox.committed) == 2
    assert uow.outbox.pending == []


async def test_the_same_reference_from_another_agency_is_another_concern() -> None:
    uow = FakeUnitOfWork()
    first = await accepted(uow)
    other = await accepted(uow, Caller(subject="sw", agency="nm-csc", role=Role.CASEWORKER))
    assert other.outcome is Resubmission.NEW
    assert other.concern_id != first.concern_id
    assert len(uow.outbox.on(Topic.CONCERNS_RECEIVED)) == 2


async def test_an_agency_outside_the_partnership_is_refused_and_nothing_kept() -> None:
    uow = FakeUnitOfWork()
    stranger = Caller(subject="x", agency="atlantis-police", role=Role.AGENCY_SYSTEM)
    assert await submit(uow, stranger) == AgencyRefused("atlantis-police")
    assert (uow.commits, uow.outbox.committed, uow.submissions.committed) == (0, [], {})


async def test_a_role_that_may_not_submit_is_refused_and_nothing_kept() -> None:
    uow = FakeUnitOfWork()
    auditor = Caller(subject="ig", agency="nm-csc", role=Role.AUDITOR)
    assert await submit(uow, auditor) == RoleRefused(Role.AUDITOR)
    assert (uow.commits, uow.outbox.committed, uow.submissions.committed) == (0, [], {})


async def test_future_dates_are_refused_field_by_field_and_nothing_kept() -> None:
    uow = FakeUnitOfWork()
    refused = await submit(
        uow,
        subject={"date_of_birth": (RECEIVED + timedelta(days=1)).date().isoformat()},
        occurred_at=(RECEIVED + timedelta(hours=1)).isoformat(),
    )
    assert refused == DatesRefused(
        [
            ("subject.date_of_birth", "must not be in the future"),
            ("occurred_at", "must not be in the future"),
        ]
    )
    assert (uow.commits, uow.outbox.committed, uow.submissions.committed) == (0, [], {})
