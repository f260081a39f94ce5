"""A caseworker's inbox through the service layer: list, open, acknowledge, follow; all audited."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import uuid4

import pytest

from schemas.v1 import NotificationRoutedPayload, Topic
from services.common.auth import Caller, Role
from services.routing import inbox
from services.routing.inbox import InboxFilters, NotificationNotFound
from services.routing.service import route_received_concerns
from tests.builders import RECEIVED, a_received_concern, the_reference_partnership
from tests.unit.routing.fakes import FakeRoutingUnitOfWork

SECRET = b"unit-test-child-index-key"
CSC = Caller(subject="sw-jones", agency="nm-csc", role=Role.CASEWORKER)
POLICE = Caller(subject="pc-smith", agency="nme-police", role=Role.CASEWORKER)
PATH = "/v1/notifications/some-id"


async def routed(
    uow: FakeRoutingUnitOfWork, **changes: Any
) -> dict[str, NotificationRoutedPayload]:
    """Route one neglect concern; its notifications by recipient."""
    event = a_received_concern(category="neglect", **changes)
    await route_received_concerns(
        uow, [event], partnership=the_reference_partnership(), secret=SECRET, now=RECEIVED
    )
    return {
        s.notification.recipient_agency: s.notification
        for s in uow.stored()
        if s.notification.concern_id == event.payload.concern_id
    }


def audits(uow: FakeRoutingUnitOfWork, action: str) -> list[dict[str, Any]]:
    payloads = [
        m.event.model_dump(mode="json")["payload"] for m in uow.outbox.on(Topic.AUDIT_EVENTS)
    ]
    return [p for p in payloads if p["action"] == action]


async def test_listing_shows_only_the_agencys_own_newest_first_and_audits_each_one() -> None:
    uow = FakeRoutingUnitOfWork()
    first, second = (await routed(uow))["nm-csc"], (await routed(uow))["nm-csc"]

    page = await inbox.list_notifications(uow, CSC, InboxFilters(), correlation_id="c-1")

    assert [s.notification.notification_id for s in page.notifications] == [
        second.notification_id, first.notification_id,
    ]  # fmt: skip
    assert page.next_before_seq is None
    listed = audits(uow, "notification.listed")
    assert [a["notification_id"] for a in listed] == [
        str(second.notification_id), str(first.notification_id),
    ]  # fmt: skip
    # A list carries a summary: of the concern, only the child's names and date of birth (age).
    assert listed[0]["fields"] == [
        "subject.given_name", "subject.family_name", "subject.date_of_birth",
    ]  # fmt: skip
    assert listed[0]["actor"] == {"subject": "sw-jones", "agency": "nm-csc", "role": "caseworker"}


async def test_listing_pages_on_from_the_last_one_shown_and_filters() -> None:
    uow = FakeRoutingUnitOfWork()
    first, second = (await routed(uow))["nm-csc"], (await routed(uow))["nm-csc"]

    page = await inbox.list_notifications(uow, CSC, InboxFilters(limit=1), correlation_id="c-1")
    assert [s.notification for s in page.notifications] == [second]
    assert page.next_before_seq is not None
    rest = await inbox.list_notifications(
        uow, CSC, InboxFilters(limit=1, before_seq=page.next_before_seq), correlation_id="c-2"
    )
    assert [s.notification for s in rest.notifications] == [first]
    only_first = await inbox.list_notifications(
        uow, CSC, InboxFilters(concern_id=first.concern_id), correlation_id="c-3"
    )
    assert [s.notification for s in only_first.notifications] == [first]


async def test_opening_is_audited_with_the_fields_disclosed() -> None:
    uow = FakeRoutingUnitOfWork()
    csc = (await routed(uow))["nm-csc"]
    opened = await inbox.open_notification(
        uow, CSC, csc.notification_id, correlation_id="c-1", path=PATH
    )
    assert opened.notification == csc
    (viewed,) = audits(uow, "notification.viewed")
    assert viewed["fields"] == csc.disclosed_fields
    assert viewed["concern_id"] == str(csc.concern_id)


async def test_another_agencys_notification_is_not_found_and_the_attempt_audited() -> None:
    uow = FakeRoutingUnitOfWork()
    school = (await routed(uow))["nm-school-oakfield"]

    with pytest.raises(NotificationNotFound):
        await inbox.open_notification(
            uow, POLICE, school.notification_id, correlation_id="c-1", path=PATH
        )
    with pytest.raises(NotificationNotFound):
        await inbox.acknowledge_notification(
            uow, POLICE, school.notification_id, now=RECEIVED, correlation_id="c-2", path=PATH
        )

    denied = audits(uow, "access.denied")
    assert [(a["notification_id"], a["concern_id"], a["details"]) for a in denied] == [
        (str(school.notification_id), str(school.concern_id), {"path": PATH})
    ] * 2
    assert audits(uow, "notification.viewed") == []
    assert {s.notification.notification_id: s for s in uow.stored()}[
        school.notification_id
    ].acknowledged_at is None


async def test_a_missing_notification_is_not_found_and_nothing_is_audited() -> None:
    uow = FakeRoutingUnitOfWork()
    await routed(uow)
    published = list(uow.outbox.committed)
    with pytest.raises(NotificationNotFound):
        await inbox.open_notification(uow, CSC, uuid4(), correlation_id="c-1", path=PATH)
    assert uow.outbox.committed == published


async def test_an_acknowledgement_is_recorded_and_audited_once() -> None:
    uow = FakeRoutingUnitOfWork()
    csc = (await routed(uow))["nm-csc"]
    at = RECEIVED + timedelta(minutes=5)

    first = await inbox.acknowledge_notification(
        uow, CSC, csc.notification_id, now=at, correlation_id="c-1", path=PATH
    )
    colleague = Caller(subject="sw-2", agency="nm-csc", role=Role.CASEWORKER)
    again = await inbox.acknowledge_notification(
        uow, colleague, csc.notification_id, now=at + timedelta(hours=1), correlation_id="c-2",
        path=PATH,
    )  # fmt: skip

    assert (first.status, first.acknowledged_by, first.acknowledged_at) == (
        "acknowledged",
        "sw-jones",
        at,
    )
    assert again == first
    assert len(audits(uow, "notification.acknowledged")) == 1


async def test_following_the_inbox_gives_what_came_after_and_audits_it_as_streamed() -> None:
    uow = FakeRoutingUnitOfWork()
    await routed(uow)
    start = await inbox.newest_position(uow)
    later = (await routed(uow))["nm-csc"]

    found = await inbox.notifications_after(
        uow, CSC, after_seq=start, limit=10, concern_id=None, correlation_id="c-1"
    )

    assert [s.notification for s in found] == [later]
    (listed,) = audits(uow, "notification.listed")
    assert listed["details"] == {"via": "stream"}
    assert (
        await inbox.notifications_after(
            uow, CSC, after_seq=found[-1].seq, limit=10, concern_id=None, correlation_id="c-2"
        )
        == []
    )
