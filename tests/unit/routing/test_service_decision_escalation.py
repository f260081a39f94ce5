"""A notification left undecided past its decision deadline is escalated once, saying so."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from schemas.v1 import NotificationKind, NotificationRoutedPayload, Topic
from schemas.v1.events import EscalationReason
from services.common.auth import Caller, Role
from services.routing import casework, inbox
from services.routing.casework import DecisionRequested
from services.routing.service import escalate_overdue, escalate_undecided, route_received_concerns
from tests.builders import RECEIVED, a_received_concern, the_reference_partnership
from tests.unit.routing.fakes import FakeRoutingUnitOfWork

SECRET = b"unit-test-child-index-key"
CSC = Caller(subject="sw-jones", agency="nm-csc", role=Role.CASEWORKER)
# Monday 09:30 + one working day is Tuesday 09:30; the school (default: medium, 3 working days)
# has until Thursday.
PAST_CSC_DEADLINE = RECEIVED + timedelta(days=1, minutes=1)


async def routed(
    uow: FakeRoutingUnitOfWork, **changes: Any
) -> dict[str, NotificationRoutedPayload]:
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


async def acknowledge(uow: FakeRoutingUnitOfWork, n: NotificationRoutedPayload) -> None:
    await inbox.acknowledge_notification(
        uow, CSC, n.notification_id, now=RECEIVED + timedelta(minutes=5), correlation_id="c",
        path="/p",
    )  # fmt: skip


async def test_an_undecided_notification_escalates_once_naming_who_missed_the_deadline() -> None:
    uow = FakeRoutingUnitOfWork()
    csc = (await routed(uow))["nm-csc"]
    await acknowledge(uow, csc)
    partnership = the_reference_partnership()

    made = await escalate_undecided(uow, partnership, now=PAST_CSC_DEADLINE)
    again = await escalate_undecided(uow, partnership, now=PAST_CSC_DEADLINE + timedelta(days=9))

    [escalation] = made[csc.notification_id]  # the home social care is the agency itself
    assert list(made) == [csc.notification_id]
    assert escalation.kind is NotificationKind.ESCALATION
    assert escalation.escalation_reason is EscalationReason.DECISION_OVERDUE
    assert escalation.missed_by_agency == "nm-csc"
    assert escalation.escalation_of == csc.notification_id
    assert escalation.notification_id == uuid.uuid5(
        csc.notification_id, "decision-escalation:nm-csc"
    )
    # The school's own decision is not due until Thursday; later it escalates on its own.
    assert list(again) == [school_notification(uow).notification_id]
    [audit] = [
        a for a in audits(uow, "notification.escalated")
        if a["notification_id"] == str(csc.notification_id)
    ]  # fmt: skip
    assert audit["details"]["reason"] == "decision_overdue"
    assert audit["details"]["missed_by_agency"] == "nm-csc"
    stored = {s.notification_id: s for s in uow.stored()}
    assert stored[csc.notification_id].status == "escalated"
    changes = [m.event.model_dump(mode="json")["payload"] for m in uow.outbox.on(
        Topic.NOTIFICATIONS_CHANGED)]  # fmt: skip
    assert ("escalated", str(csc.notification_id)) in {
        (c["change"], c["notification_id"]) for c in changes
    }


def school_notification(uow: FakeRoutingUnitOfWork) -> NotificationRoutedPayload:
    [school] = [
        s.notification
        for s in uow.stored()
        if s.notification.recipient_agency == "nm-school-oakfield"
        and s.notification.kind is NotificationKind.CONCERN
    ]
    return school


async def test_a_decided_notification_is_not_escalated() -> None:
    uow = FakeRoutingUnitOfWork()
    notifications = await routed(uow)
    for n in notifications.values():
        caller = Caller(subject="worker", agency=n.recipient_agency, role=Role.CASEWORKER)
        code = "early_help" if n.recipient_agency == "nm-csc" else "noted"
        await casework.decide_notification(
            uow, caller, n.notification_id, DecisionRequested(code),
            partnership=the_reference_partnership(), now=RECEIVED + timedelta(minutes=9),
            correlation_id="c", path="/p",
        )  # fmt: skip

    late = RECEIVED + timedelta(days=30)
    assert await escalate_undecided(uow, the_reference_partnership(), now=late) == {}
    assert await escalate_overdue(uow, the_reference_partnership(), now=late) == {}


async def test_the_acknowledgement_escalation_says_which_deadline_and_agency() -> None:
    uow = FakeRoutingUnitOfWork()
    school = (await routed(uow))["nm-school-oakfield"]

    made = await escalate_overdue(
        uow, the_reference_partnership(), now=RECEIVED + timedelta(days=2)
    )

    for escalation in made[school.notification_id]:
        assert escalation.escalation_reason is EscalationReason.ACKNOWLEDGEMENT_OVERDUE
        assert escalation.missed_by_agency == "nm-school-oakfield"
    [audit] = [
        a for a in audits(uow, "notification.escalated")
        if a["notification_id"] == str(school.notification_id)
    ]  # fmt: skip
    assert audit["details"]["reason"] == "acknowledgement_overdue"
