"""Where concerns went, recorded once per routing event, and told only to the source agency."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID, uuid4

from schemas.v1 import ConcernRouted, ConcernStatusView, RecipientView
from schemas.v1.events import ConcernRoutedPayload, RoutedRecipient
from services.common.auth import Caller, Role
from services.intake.accept import Accepted
from services.intake.service import concern_status, record_routings, submit_concern
from tests.builders import RECEIVED, a_concern, the_reference_partnership
from tests.unit.intake.fakes import FakeUnitOfWork

HOSPITAL = Caller(subject="ed-system", agency="nm-hospital-ed", role=Role.AGENCY_SYSTEM)
POLICE = Caller(subject="police-system", agency="nme-police", role=Role.AGENCY_SYSTEM)
ROUTED = RECEIVED + timedelta(seconds=2)


async def a_submitted_concern(uow: FakeUnitOfWork) -> UUID:
    accepted = await submit_concern(
        uow,
        the_reference_partnership(),
        caller=HOSPITAL,
        concern=a_concern(),
        channel="http",
        correlation_id="corr-1",
        now=RECEIVED,
    )
    assert isinstance(accepted, Accepted)
    return accepted.concern_id


def routed(concern_id: UUID, *agencies: str, at: timedelta = timedelta()) -> ConcernRouted:
    return ConcernRouted(
        correlation_id="corr-1",
        payload=ConcernRoutedPayload(
            concern_id=concern_id,
            source_agency="nm-hospital-ed",
            policy_version="test",
            routed_at=ROUTED + at,
            recipients=[
                RoutedRecipient(agency=agency, reasons=["home"], notification_id=uuid4())
                for agency in agencies
            ],
        ),
    )


async def test_a_routed_concern_shows_its_recipients_to_the_source_agency() -> None:
    uow = FakeUnitOfWork()
    concern_id = await a_submitted_concern(uow)
    event = routed(concern_id, "nm-csc", "nme-police")
    await record_routings(uow, [event])
    csc, police = (r.notification_id for r in event.payload.recipients)
    assert await concern_status(
        uow, caller=HOSPITAL, concern_id=concern_id, now=ROUTED
    ) == ConcernStatusView(
        concern_id=concern_id,
        source_reference="REF-0001",
        status="routed",
        received_at=RECEIVED,
        routed_at=ROUTED,
        recipients=[
            RecipientView(agency="nm-csc", reasons=["home"], notification_id=csc),
            RecipientView(agency="nme-police", reasons=["home"], notification_id=police),
        ],
    )


async def test_a_concern_not_yet_routed_is_accepted() -> None:
    uow = FakeUnitOfWork()
    concern_id = await a_submitted_concern(uow)
    status = await concern_status(uow, caller=HOSPITAL, concern_id=concern_id, now=ROUTED)
    assert status is not None
    assert (status.status, status.routed_at, status.recipients) == ("accepted", None, [])


async def test_a_routing_delivered_twice_in_a_batch_is_recorded_once() -> None:
    uow = FakeUnitOfWork()
    concern_id = await a_submitted_concern(uow)
    event = routed(concern_id, "nm-csc")
    await record_routings(uow, [event, event])
    assert [r.concern_id for r in uow.submissions.routings] == [concern_id]


async def test_a_routing_delivered_again_later_changes_nothing() -> None:
    uow = FakeUnitOfWork()
    concern_id = await a_submitted_concern(uow)
    first, later = routed(concern_id, "nm-csc"), routed(concern_id, "ev-csc", at=timedelta(1))
    await record_routings(uow, [first])
    await record_routings(uow, [later])
    await record_routings(uow, [first])
    assert len(uow.submissions.routings) == 2
    status = await concern_status(uow, caller=HOSPITAL, concern_id=concern_id, now=ROUTED)
    assert status is not None
    assert [r.agency for r in status.recipients] == ["ev-csc"]
    assert uow.processed.seen == {first.event_id, later.event_id}


async def test_another_agency_asking_finds_no_concern() -> None:
    uow = FakeUnitOfWork()
    concern_id = await a_submitted_concern(uow)
    assert await concern_status(uow, caller=POLICE, concern_id=concern_id, now=ROUTED) is None


async def test_an_unknown_concern_is_not_found() -> None:
    assert (
        await concern_status(FakeUnitOfWork(), caller=HOSPITAL, concern_id=uuid4(), now=ROUTED)
        is None
    )
