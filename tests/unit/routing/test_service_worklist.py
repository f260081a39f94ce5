"""The inbox as a team's worklist: summaries, counts, order, and a stream of every change."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from schemas.v1 import NotificationRoutedPayload, Topic
from services.common.auth import Caller, Role
from services.routing import casework, inbox
from services.routing.inbox import InboxFilters
from services.routing.service import route_received_concerns
from tests.builders import RECEIVED, a_received_concern, the_reference_partnership
from tests.unit.routing.fakes import FakeRoutingUnitOfWork

SECRET = b"unit-test-child-index-key"
CSC = Caller(subject="sw-jones", agency="nm-csc", role=Role.CASEWORKER)
SOON = RECEIVED + timedelta(minutes=10)


async def routed(uow: FakeRoutingUnitOfWork, **changes: Any) -> NotificationRoutedPayload:
    """Route one concern; its notification to nm-csc."""
    event = a_received_concern(**changes)
    await route_received_concerns(
        uow, [event], partnership=the_reference_partnership(), secret=SECRET, now=RECEIVED
    )
    return next(
        s.notification
        for s in uow.stored()
        if s.notification.concern_id == event.payload.concern_id
        and s.notification.recipient_agency == "nm-csc"
    )


async def test_counts_per_status_ignore_the_status_filter_and_the_position_is_the_newest() -> None:
    uow = FakeRoutingUnitOfWork()
    first, _ = await routed(uow), await routed(uow)
    await inbox.acknowledge_notification(
        uow, CSC, first.notification_id, now=SOON, correlation_id="c", path="/p"
    )

    page = await inbox.list_notifications(
        uow, CSC, InboxFilters(status="acknowledged"), correlation_id="c-1", now=SOON
    )

    assert [s.notification_id for s in page.notifications] == [first.notification_id]
    assert page.counts == {"new": 1, "acknowledged": 1, "escalated": 0, "decided": 0}
    assert page.stream_position == await inbox.newest_position(uow) > 0


async def test_the_worklist_lists_overdue_first_then_by_due_time_and_pages_on() -> None:
    uow = FakeRoutingUnitOfWork()
    medium = await routed(uow, severity="medium")  # acknowledge within a day
    high = await routed(uow, severity="high")  # within an hour
    immediate = await routed(uow, severity="immediate")  # within 15 minutes
    now = RECEIVED + timedelta(minutes=30)  # the immediate one is overdue

    first = await inbox.list_notifications(
        uow, CSC, InboxFilters(order="worklist", limit=2), correlation_id="c-1", now=now
    )
    rest = await inbox.list_notifications(
        uow, CSC, InboxFilters(order="worklist", limit=2, offset=first.next_offset or 0),
        correlation_id="c-2", now=now,
    )  # fmt: skip

    assert [s.notification_id for s in first.notifications] == [
        immediate.notification_id, high.notification_id,
    ]  # fmt: skip
    assert first.next_offset == 2
    assert [s.notification_id for s in rest.notifications] == [medium.notification_id]
    assert rest.next_offset is None


async def test_the_stream_gives_new_notifications_and_every_change_after_a_position() -> None:
    uow = FakeRoutingUnitOfWork()
    csc = await routed(uow)
    position = (
        await inbox.list_notifications(uow, CSC, InboxFilters(), correlation_id="c", now=SOON)
    ).stream_position
    await inbox.acknowledge_notification(
        uow, CSC, csc.notification_id, now=SOON, correlation_id="c", path="/p"
    )
    await casework.assign_notification(
        uow, CSC, csc.notification_id, assignee="sw-jones", now=SOON, correlation_id="c",
        path="/p",
    )  # fmt: skip
    later = await routed(uow)

    found = await inbox.notifications_after(
        uow, CSC, after_seq=position, limit=10, concern_id=None, correlation_id="c-2"
    )

    assert [(i.change, i.notification.notification_id) for i in found] == [
        ("acknowledged", csc.notification_id),
        ("assigned", csc.notification_id),
        ("routed", later.notification_id),
    ]
    assert found[0].stored.assignee == "sw-jones"  # each as it stands now
    assert [i.seq for i in found] == sorted(i.seq for i in found)
    streamed = [
        m.event.model_dump(mode="json")["payload"]
        for m in uow.outbox.on(Topic.AUDIT_EVENTS)
        if m.event.model_dump(mode="json")["payload"]["details"] == {"via": "stream"}
    ]
    summary = ["subject.given_name", "subject.family_name", "subject.date_of_birth"]
    assert sorted(len(a["fields"]) for a in streamed) == [3, 3, len(later.disclosed_fields)]
    assert [a["fields"] for a in streamed if len(a["fields"]) == 3] == [summary, summary]
