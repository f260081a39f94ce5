"""Deciding on and assigning notifications through the service layer; all of it audited."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest

from schemas.v1 import NotificationKind, NotificationRoutedPayload, Topic
from services.common.auth import Caller, Role
from services.routing import casework, inbox
from services.routing.casework import DecisionRefused, DecisionRequested, NotDecidable
from services.routing.inbox import InboxFilters, NotificationNotFound
from services.routing.service import route_received_concerns
from tests.builders import RECEIVED, a_received_concern, the_reference_partnership
from tests.unit.routing.fakes import FakeRoutingUnitOfWork

SECRET = b"unit-test-child-index-key"
CSC = Caller(subject="sw-jones", agency="nm-csc", role=Role.CASEWORKER)
CSC_SYSTEM = Caller(subject="csc-case-system", agency="nm-csc", role=Role.AGENCY_SYSTEM)
POLICE = Caller(subject="pc-smith", agency="nme-police", role=Role.CASEWORKER)
PATH = "/v1/notifications/some-id/decision"
AT = RECEIVED + timedelta(hours=2)


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


async def decide(
    uow: FakeRoutingUnitOfWork,
    notification_id: uuid.UUID,
    decision: str,
    rationale: str | None = None,
    *,
    caller: Caller = CSC,
    at: datetime = AT,
) -> casework.OpenedNotification:
    return await casework.decide_notification(
        uow, caller, notification_id, DecisionRequested(decision, rationale),
        partnership=the_reference_partnership(), now=at, correlation_id="c-1", path=PATH,
    )  # fmt: skip


def audits(uow: FakeRoutingUnitOfWork, action: str) -> list[dict[str, Any]]:
    payloads = [
        m.event.model_dump(mode="json")["payload"] for m in uow.outbox.on(Topic.AUDIT_EVENTS)
    ]
    return [p for p in payloads if p["action"] == action]


def on(uow: FakeRoutingUnitOfWork, topic: Topic) -> list[dict[str, Any]]:
    return [m.event.model_dump(mode="json")["payload"] for m in uow.outbox.on(topic)]


def feedbacks(uow: FakeRoutingUnitOfWork) -> list[NotificationRoutedPayload]:
    return [
        s.notification for s in uow.stored() if s.notification.kind is NotificationKind.FEEDBACK
    ]


async def test_concern_notifications_are_routed_with_a_decision_deadline() -> None:
    uow = FakeRoutingUnitOfWork()
    csc = (await routed(uow))["nm-csc"]
    # Children's social care decides within one working day: Monday 09:30 -> Tuesday 09:30.
    assert csc.decide_by == RECEIVED + timedelta(days=1)


async def test_a_decision_is_recorded_audited_and_fed_back_to_the_source_agency() -> None:
    uow = FakeRoutingUnitOfWork()
    csc = (await routed(uow))["nm-csc"]

    opened = await decide(uow, csc.notification_id, "strategy_discussion", "Risk of harm.")

    assert opened.stored.status == "decided"
    assert (opened.stored.decision, opened.stored.revision) == ("strategy_discussion", 1)
    [record] = opened.decisions
    assert record.decision_label == "Strategy discussion (section 47)"
    assert (record.rationale, record.decided_by, record.decided_by_role) == (
        "Risk of harm.", "sw-jones", "caseworker",
    )  # fmt: skip
    [decided] = audits(uow, "notification.decided")
    assert decided["fields"] == ["decision", "rationale"]
    assert decided["details"] == {"decision": "strategy_discussion", "revision": 1}
    assert "Risk of harm." not in str(on(uow, Topic.AUDIT_EVENTS))
    [feedback] = feedbacks(uow)
    assert feedback.recipient_agency == "nm-hospital-ed"
    assert feedback.reasons == ["feedback"]
    assert feedback.notification_id == uuid.uuid5(csc.notification_id, "feedback:1")
    assert feedback.acknowledge_by == AT + the_reference_partnership().ack_within[csc.severity]
    assert feedback.decide_by is None
    assert feedback.feedback is not None
    assert feedback.feedback.deciding_agency == "nm-csc"
    assert feedback.feedback.decision_label == "Strategy discussion (section 47)"
    assert (feedback.feedback.decided_at, feedback.feedback.revision) == (AT, 1)
    # The hospital's health profile includes the narrative, so the rationale goes too.
    assert feedback.feedback.rationale == "Risk of harm."
    assert "narrative" in feedback.disclosed_fields
    delivered = [
        a for a in audits(uow, "notification.delivered")
        if a["notification_id"] == str(feedback.notification_id)
    ]  # fmt: skip
    assert [a["fields"] for a in delivered] == [feedback.disclosed_fields]
    assert [p["notification_id"] for p in on(uow, Topic.NOTIFICATIONS_ROUTED)][-1] == str(
        feedback.notification_id
    )
    [change] = on(uow, Topic.NOTIFICATIONS_CHANGED)
    assert (change["change"], change["status"], change["decision"]) == (
        "decided", "decided", "strategy_discussion",
    )  # fmt: skip
    assert uow.outbox.on(Topic.NOTIFICATIONS_CHANGED)[0].key == str(csc.concern_id)


async def test_feedback_carries_no_rationale_when_the_sources_profile_has_no_narrative() -> None:
    uow = FakeRoutingUnitOfWork()
    csc = (await routed(uow, source_agency="nm-school-oakfield"))["nm-csc"]

    await decide(uow, csc.notification_id, "early_help", "Family asked for support.")

    [feedback] = feedbacks(uow)
    assert feedback.recipient_agency == "nm-school-oakfield"
    assert feedback.feedback is not None
    assert feedback.feedback.rationale is None
    assert feedback.feedback.decision == "early_help"
    assert "narrative" not in feedback.disclosed_fields
    assert feedback.disclosed_fields == sorted(
        the_reference_partnership().sharing_profiles["school"]
    )
    assert feedback.concern.narrative is None


async def test_a_decision_implies_an_acknowledgement_recorded_as_such() -> None:
    uow = FakeRoutingUnitOfWork()
    csc = (await routed(uow))["nm-csc"]

    opened = await decide(uow, csc.notification_id, "no_further_action", caller=CSC_SYSTEM)

    assert (opened.stored.acknowledged_by, opened.stored.acknowledged_at) == ("csc-case-system", AT)
    assert opened.stored.acknowledged_by_role == "agency_system"
    [acknowledged] = audits(uow, "notification.acknowledged")
    assert acknowledged["details"] == {"implied_by": "decision"}
    assert acknowledged["actor"]["role"] == "agency_system"
    [decided] = audits(uow, "notification.decided")
    assert decided["fields"] == ["decision"]


async def test_the_same_decision_again_changes_nothing_and_publishes_nothing() -> None:
    uow = FakeRoutingUnitOfWork()
    csc = (await routed(uow))["nm-csc"]
    first = await decide(uow, csc.notification_id, "early_help", "Why.")
    published = list(uow.outbox.committed)

    again = await decide(uow, csc.notification_id, "early_help", "Why.", at=AT + timedelta(hours=1))

    assert again.stored == first.stored
    assert again.decisions == first.decisions
    assert uow.outbox.committed == published


async def test_a_different_decision_is_a_revision_and_the_history_is_kept() -> None:
    uow = FakeRoutingUnitOfWork()
    csc = (await routed(uow))["nm-csc"]
    await decide(uow, csc.notification_id, "early_help")
    later = AT + timedelta(hours=3)

    revised = await decide(uow, csc.notification_id, "child_and_family_assessment", at=later)

    assert [(r.revision, r.decision) for r in revised.decisions] == [
        (1, "early_help"), (2, "child_and_family_assessment"),
    ]  # fmt: skip
    assert (revised.stored.decision, revised.stored.revision) == ("child_and_family_assessment", 2)
    assert [a["details"]["revision"] for a in audits(uow, "notification.decided")] == [1, 2]
    assert [f.feedback.revision for f in feedbacks(uow) if f.feedback] == [1, 2]
    assert feedbacks(uow)[1].notification_id == uuid.uuid5(csc.notification_id, "feedback:2")
    # The same rationale with another code, or another rationale, is a revision too.
    again = await decide(uow, csc.notification_id, "child_and_family_assessment", "More.")
    assert again.stored.revision == 3
    assert len(audits(uow, "notification.acknowledged")) == 1


async def test_an_unknown_code_is_refused_with_the_valid_codes() -> None:
    uow = FakeRoutingUnitOfWork()
    school = (await routed(uow))["nm-school-oakfield"]

    teacher = Caller(subject="dsl-1", agency="nm-school-oakfield", role=Role.CASEWORKER)

    with pytest.raises(DecisionRefused) as refused:
        await decide(uow, school.notification_id, "strategy_discussion", caller=teacher)

    assert refused.value.valid_codes == ["noted", "action_taken", "referred_on"]
    assert audits(uow, "notification.decided") == []


async def test_feedback_itself_takes_no_decision() -> None:
    uow = FakeRoutingUnitOfWork()
    csc = (await routed(uow))["nm-csc"]
    await decide(uow, csc.notification_id, "early_help")
    [feedback] = feedbacks(uow)
    hospital = Caller(subject="ed-system", agency="nm-hospital-ed", role=Role.AGENCY_SYSTEM)

    with pytest.raises(NotDecidable):
        await decide(uow, feedback.notification_id, "noted", caller=hospital)

    # The source agency's machine may read its feedback.
    opened = await inbox.open_notification(
        uow, hospital, feedback.notification_id, correlation_id="c-2", path=PATH
    )
    assert opened.notification.feedback == feedback.feedback


async def test_another_agencys_notification_cannot_be_decided_and_the_attempt_is_audited() -> None:
    uow = FakeRoutingUnitOfWork()
    csc = (await routed(uow))["nm-csc"]

    with pytest.raises(NotificationNotFound):
        await decide(uow, csc.notification_id, "noted", caller=POLICE)

    [denied] = audits(uow, "access.denied")
    assert denied["notification_id"] == str(csc.notification_id)
    assert feedbacks(uow) == []


async def test_assigning_is_audited_announced_and_repeating_it_changes_nothing() -> None:
    uow = FakeRoutingUnitOfWork()
    csc = (await routed(uow))["nm-csc"]

    async def assign(assignee: str) -> casework.OpenedNotification:
        return await casework.assign_notification(
            uow, CSC, csc.notification_id, assignee=assignee, now=AT, correlation_id="c-1",
            path=PATH,
        )  # fmt: skip

    claimed = await assign("sw-jones")
    assert claimed.stored.assignee == "sw-jones"
    await assign("sw-jones")
    given = await assign("sw-patel")
    assert given.stored.assignee == "sw-patel"

    assert [a["details"] for a in audits(uow, "notification.assigned")] == [
        {"assignee": "sw-jones"}, {"assignee": "sw-patel"},
    ]  # fmt: skip
    changes = on(uow, Topic.NOTIFICATIONS_CHANGED)
    assert [(c["change"], c["assigned"]) for c in changes] == [("assigned", True)] * 2
    mine = await inbox.list_notifications(
        uow, CSC, InboxFilters(assignee="sw-patel"), correlation_id="c-2", now=AT
    )
    assert [s.notification_id for s in mine.notifications] == [csc.notification_id]
    nobody = await inbox.list_notifications(
        uow, CSC, InboxFilters(assignee="sw-jones"), correlation_id="c-3", now=AT
    )
    assert nobody.notifications == []


async def test_an_acknowledgement_records_the_role_and_is_announced() -> None:
    uow = FakeRoutingUnitOfWork()
    csc = (await routed(uow))["nm-csc"]

    stored = await inbox.acknowledge_notification(
        uow, CSC_SYSTEM, csc.notification_id, now=AT, correlation_id="c-1", path=PATH
    )

    assert stored.acknowledged_by_role == "agency_system"
    [change] = on(uow, Topic.NOTIFICATIONS_CHANGED)
    assert (change["change"], change["acknowledged_by_role"]) == ("acknowledged", "agency_system")
    [acknowledged] = audits(uow, "notification.acknowledged")
    assert acknowledged["actor"]["role"] == "agency_system"
