"""Routing received concerns through the service layer, on an in-memory unit of work."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from schemas.v1 import ConcernReceived, NotificationKind, Topic
from services.routing.routing import RoutedBatch
from services.routing.service import route_received_concerns
from tests.builders import RECEIVED, a_received_concern, the_reference_partnership
from tests.unit.routing.fakes import FakeRoutingUnitOfWork

SECRET = b"unit-test-child-index-key"
NOW = RECEIVED + timedelta(seconds=2)


async def route(uow: FakeRoutingUnitOfWork, *events: ConcernReceived) -> RoutedBatch:
    return await route_received_concerns(
        uow, list(events), partnership=the_reference_partnership(), secret=SECRET, now=NOW
    )


def recipients(
    uow: FakeRoutingUnitOfWork, kind: NotificationKind = NotificationKind.CONCERN
) -> dict[str, list[str]]:
    return {
        s.notification.recipient_agency: s.notification.reasons
        for s in uow.stored()
        if s.notification.kind is kind
    }


def audit_actions(uow: FakeRoutingUnitOfWork) -> list[str]:
    return [m.event.model_dump()["payload"]["action"] for m in uow.outbox.on(Topic.AUDIT_EVENTS)]


async def test_a_neglect_concern_reaches_home_social_care_and_the_school_cut_to_each_profile() -> (
    None
):
    uow = FakeRoutingUnitOfWork()
    await route(uow, a_received_concern(category="neglect"))

    assert recipients(uow) == {
        "nm-csc": ["home-social-care", "incident-social-care"],
        "nm-school-oakfield": ["school-of-child"],
    }
    cut = {s.notification.recipient_agency: s.notification for s in uow.stored()}
    assert "narrative" in cut["nm-csc"].disclosed_fields
    assert cut["nm-school-oakfield"].disclosed_fields == [
        "subject.date_of_birth", "subject.family_name", "subject.given_name",
        "subject.school_urn", "summary",
    ]  # fmt: skip
    school = cut["nm-school-oakfield"].concern.model_dump(exclude_unset=True)
    assert "narrative" not in school
    assert "reporter" not in school
    assert uow.commits == 1


async def test_a_routing_is_announced_keyed_by_child_and_by_concern_and_audited() -> None:
    uow = FakeRoutingUnitOfWork()
    event = a_received_concern(category="neglect")
    await route(uow, event)

    child_id = uow.stored()[0].notification.child_id
    routed = uow.outbox.on(Topic.NOTIFICATIONS_ROUTED)
    assert {m.key for m in routed} == {str(child_id)}
    assert len(routed) == 2
    (where,) = uow.outbox.on(Topic.CONCERNS_ROUTED)
    assert where.key == str(event.payload.concern_id)
    assert audit_actions(uow) == [
        "concern.routed", "notification.delivered", "notification.delivered",
    ]  # fmt: skip
    assert all(m.event.correlation_id == event.correlation_id for m in uow.outbox.committed)


async def test_the_source_agency_never_receives_its_own_concern() -> None:
    uow = FakeRoutingUnitOfWork()
    await route(uow, a_received_concern(source_agency="nm-school-oakfield", category="neglect"))
    assert "nm-school-oakfield" not in recipients(uow)


async def test_a_redelivered_concern_changes_nothing() -> None:
    uow = FakeRoutingUnitOfWork()
    event = a_received_concern(category="neglect")
    await route(uow, event)
    stored, published = uow.stored(), list(uow.outbox.committed)

    again = await route(uow, event)

    assert again == RoutedBatch()
    assert uow.stored() == stored
    assert uow.outbox.committed == published
    assert uow.commits == 1


async def test_an_event_twice_in_one_batch_is_routed_once() -> None:
    uow = FakeRoutingUnitOfWork()
    event = a_received_concern(category="neglect")
    await route(uow, event, event)
    assert len(uow.stored()) == 2


async def test_nothing_is_kept_when_routing_fails_so_a_redelivery_routes_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    uow = FakeRoutingUnitOfWork()
    event = a_received_concern(category="neglect")

    async def broken(*_: Any) -> None:
        raise ConnectionError("database went away")

    with monkeypatch.context() as patch:
        patch.setattr(uow.concerns, "add", broken)
        with pytest.raises(ConnectionError):
            await route(uow, event)
    assert uow.stored() == []
    assert uow.outbox.committed == []

    await route(uow, event)
    assert len(uow.stored()) == 2


def three_concerns_about_one_child() -> list[ConcernReceived]:
    return [
        a_received_concern(source_agency=agency, received=RECEIVED - timedelta(days=days))
        for agency, days in (("nme-police", 20), ("nm-school-oakfield", 10), ("nm-hospital-ed", 0))
    ]


async def test_a_childs_third_concern_from_two_agencies_alerts_home_social_care_first() -> None:
    uow = FakeRoutingUnitOfWork()
    *earlier, third = three_concerns_about_one_child()
    for event in earlier:
        await route(uow, event)
    assert recipients(uow, NotificationKind.CUMULATIVE_CONCERN) == {}

    routed = await route(uow, third)

    about_third = [s for s in uow.stored() if s.notification.concern_id == third.payload.concern_id]
    alert, *concern_notifications = about_third
    assert alert.notification.kind is NotificationKind.CUMULATIVE_CONCERN
    assert alert.notification.recipient_agency == "nm-csc"
    assert alert.notification.reasons == ["cumulative_concern"]
    assert [e.source_agency for e in alert.notification.chronology or []] == [
        "nme-police", "nm-school-oakfield", "nm-hospital-ed",
    ]  # fmt: skip
    # Stored first, so a newest-first inbox lists the concern above its alert.
    assert all(alert.seq < n.seq for n in concern_notifications)
    assert dict(routed.newly_alerted) == {alert.notification.child_id: third.payload.received_at}
    assert routed.outcomes[0].cumulative_alert == "nm-csc"


async def test_an_alert_is_raised_once_until_a_fresh_set_of_concerns() -> None:
    uow = FakeRoutingUnitOfWork()
    for event in three_concerns_about_one_child():
        await route(uow, event)
    await route(uow, a_received_concern(source_agency="nme-camhs", received=RECEIVED))
    assert len(recipients(uow, NotificationKind.CUMULATIVE_CONCERN)) == 1
    assert len([s for s in uow.stored() if s.notification.kind.value == "cumulative_concern"]) == 1


def published(uow: FakeRoutingUnitOfWork) -> list[tuple[Topic, str | None, dict[str, Any]]]:
    return [
        (m.topic, m.key, m.event.model_dump(mode="json", exclude={"event_id"}))
        for m in uow.outbox.committed
    ]


async def test_a_batch_is_routed_exactly_as_its_concerns_one_at_a_time() -> None:
    events = [
        *three_concerns_about_one_child(),
        a_received_concern(source_agency="nme-police", subject={"nhs_number": None,
                           "given_name": "Noah", "postcode": "EV1 2AB"}, category="fgm"),
        a_received_concern(source_agency="nme-camhs", category="self_harm", received=RECEIVED),
    ]  # fmt: skip
    batched, one_by_one = FakeRoutingUnitOfWork(), FakeRoutingUnitOfWork()

    await route(batched, *events)
    for event in events:
        await route(one_by_one, event)

    assert batched.stored() == one_by_one.stored()
    assert published(batched) == published(one_by_one)
    assert batched.committed.children == one_by_one.committed.children
    assert batched.commits == 1


async def test_a_concern_naming_two_known_children_joins_them_and_counts_both() -> None:
    uow = FakeRoutingUnitOfWork()
    by_names = a_received_concern(
        source_agency="nme-police", received=RECEIVED - timedelta(days=9),
        subject={"nhs_number": None},
    )  # fmt: skip
    by_number = a_received_concern(
        source_agency="nm-school-oakfield", received=RECEIVED - timedelta(days=5),
        subject={"given_name": "Millie"},
    )  # fmt: skip
    both = a_received_concern(source_agency="nm-hospital-ed")
    await route(uow, by_names)
    await route(uow, by_number)
    assert len(uow.committed.children) == 2

    await route(uow, both)

    assert len(uow.committed.children) == 1
    (alert,) = [
        s for s in uow.stored() if s.notification.kind is NotificationKind.CUMULATIVE_CONCERN
    ]
    assert len(alert.notification.chronology or []) == 3
