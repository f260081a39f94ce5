"""Escalating overdue notifications through the service layer, on an in-memory unit of work."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from schemas.v1 import NotificationKind, NotificationRoutedPayload, Topic
from services.routing.service import escalate_overdue, route_received_concerns
from tests.builders import RECEIVED, a_received_concern, the_reference_partnership
from tests.unit.routing.fakes import FakeRoutingUnitOfWork

SECRET = b"unit-test-child-index-key"
LATE = RECEIVED + timedelta(days=2)


async def routed(
    uow: FakeRoutingUnitOfWork, **changes: Any
) -> dict[str, NotificationRoutedPayload]:
    """Route one concern received at RECEIVED; its notifications by recipient."""
    event = a_received_concern(**changes)
    await route_received_concerns(
        uow, [event], partnership=the_reference_partnership(), secret=SECRET, now=RECEIVED
    )
    return {
        s.notification.recipient_agency: s.notification
        for s in uow.stored()
        if s.notification.concern_id == event.payload.concern_id
    }


async def escalate(uow: FakeRoutingUnitOfWork, now: Any = LATE) -> Any:
    return await escalate_overdue(uow, the_reference_partnership(), now=now)


def escalation_audits(uow: FakeRoutingUnitOfWork) -> list[dict[str, Any]]:
    audits = [m.event.model_dump(mode="json")["payload"] for m in uow.outbox.on(Topic.AUDIT_EVENTS)]
    return [a for a in audits if a["action"] == "notification.escalated"]


async def test_an_overdue_notification_is_escalated_once_to_its_agency_and_home_social_care() -> (
    None
):
    uow = FakeRoutingUnitOfWork()
    school = (await routed(uow, category="neglect"))["nm-school-oakfield"]

    made = await escalate(uow)
    again = await escalate(uow, LATE + timedelta(hours=1))

    assert again == {}
    escalations = {n.recipient_agency: n for n in made[school.notification_id]}
    assert sorted(escalations) == ["nm-csc", "nm-school-oakfield"]
    to_school, to_csc = escalations["nm-school-oakfield"], escalations["nm-csc"]
    assert to_school.kind is to_csc.kind is NotificationKind.ESCALATION
    assert to_school.reasons == to_csc.reasons == ["escalation"]
    assert to_school.escalation_of == to_csc.escalation_of == school.notification_id
    assert (to_school.concern, to_school.disclosed_fields) == (
        school.concern,
        school.disclosed_fields,
    )
    assert "narrative" in to_csc.disclosed_fields  # the home social care's own, fuller profile
    assert to_school.acknowledge_by == LATE + timedelta(days=1)
    assert to_school.notification_id == uuid.uuid5(
        school.notification_id, "escalation:nm-school-oakfield"
    )
    stored = {s.notification.notification_id: s for s in uow.stored()}
    assert stored[school.notification_id].status == "escalated"
    assert all(stored[n.notification_id].status == "new" for n in escalations.values())


async def test_an_escalation_is_announced_and_audited_with_whom_it_went_to() -> None:
    uow = FakeRoutingUnitOfWork()
    school = (await routed(uow, category="neglect"))["nm-school-oakfield"]
    made = await escalate(uow)

    audits = [
        a for a in escalation_audits(uow) if a["notification_id"] == str(school.notification_id)
    ]
    assert len(audits) == 1
    assert audits[0]["details"]["escalated_to"] == [
        {"agency": n.recipient_agency, "notification_id": str(n.notification_id)}
        for n in made[school.notification_id]
    ]
    announced = [
        m.event.model_dump()["payload"]["notification_id"]
        for m in uow.outbox.on(Topic.NOTIFICATIONS_ROUTED)
        if m.event.model_dump()["payload"]["escalation_of"] == school.notification_id
    ]
    assert sorted(announced) == sorted(n.notification_id for n in made[school.notification_id])


async def test_escalations_are_not_escalated_again() -> None:
    uow = FakeRoutingUnitOfWork()
    await routed(uow)
    assert await escalate(uow)
    assert await escalate(uow, LATE + timedelta(days=30)) == {}


async def test_a_notification_within_its_deadline_or_acknowledged_is_left_alone() -> None:
    uow = FakeRoutingUnitOfWork()
    csc = (await routed(uow))["nm-csc"]
    commits = uow.commits
    assert await escalate(uow, RECEIVED + timedelta(hours=1)) == {}

    async with uow:
        await uow.notifications.acknowledge(csc.notification_id, by="sw-1", at=RECEIVED)
        await uow.commit()
    assert await escalate(uow) == {}
    assert uow.commits == commits + 1


async def test_the_agency_that_raised_the_concern_is_never_sent_an_escalation() -> None:
    uow = FakeRoutingUnitOfWork()
    school = (await routed(uow, source_agency="nm-csc", category="neglect"))["nm-school-oakfield"]
    made = await escalate(uow)
    assert [n.recipient_agency for n in made[school.notification_id]] == ["nm-school-oakfield"]
