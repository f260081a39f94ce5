"""Pure: judging a decision, and the feedback it becomes for the agency that raised the concern."""

from __future__ import annotations

from datetime import timedelta

from schemas.v1 import Actor
from services.routing.decision_policy import (
    Decided,
    Unchanged,
    UnknownDecision,
    decide,
    feedback_notification,
)
from services.routing.notifications import concern_notifications
from services.routing.policy import decide_recipients
from services.routing.state import DecisionRecord, StoredNotification
from tests.builders import RECEIVED, a_received_concern, the_reference_partnership

PARTNERSHIP = the_reference_partnership()
WORKER = Actor(subject="sw-1", agency="nm-csc", role="caseworker")
AT = RECEIVED + timedelta(hours=1)


def a_notification_to(agency: str, *, source_agency: str = "nm-hospital-ed") -> StoredNotification:
    received = a_received_concern(source_agency=source_agency, category="neglect").payload
    decision = decide_recipients(
        received.concern, source_agency=source_agency, received_at=received.received_at,
        partnership=PARTNERSHIP,
    )  # fmt: skip
    [n] = [n for n in concern_notifications(received, decision) if n.recipient_agency == agency]
    return StoredNotification(seq=1, notification=n, status="new", acknowledged_by=None,
                              acknowledged_at=None)  # fmt: skip


def a_record(
    stored: StoredNotification, code: str = "early_help", **changes: object
) -> DecisionRecord:
    body: dict[str, object] = {
        "notification_id": stored.notification_id, "revision": 1, "decision": code,
        "decision_label": "Early help", "rationale": None, "decided_by": "sw-1",
        "decided_by_role": "caseworker", "decided_at": AT,
    } | changes  # fmt: skip
    return DecisionRecord(**body)  # type: ignore[arg-type]


def judged(stored: StoredNotification, code: str, rationale: str | None = None,
           latest: DecisionRecord | None = None) -> object:  # fmt: skip
    return decide(
        stored, decision=code, rationale=rationale, latest=latest, actor=WORKER, concern=None,
        partnership=PARTNERSHIP, now=AT, correlation_id="c",
    )  # fmt: skip


def test_each_agency_kind_has_its_own_codes() -> None:
    csc = a_notification_to("nm-csc")
    school = a_notification_to("nm-school-oakfield")
    assert isinstance(judged(csc, "strategy_discussion"), Decided)
    refused = judged(school, "strategy_discussion")
    assert isinstance(refused, UnknownDecision)
    assert refused.valid_codes == ["noted", "action_taken", "referred_on"]


def test_the_same_code_and_rationale_is_no_change_and_anything_else_a_revision() -> None:
    csc = a_notification_to("nm-csc")
    latest = a_record(csc, rationale="why")
    assert isinstance(judged(csc, "early_help", "why", latest), Unchanged)
    revised = judged(csc, "early_help", "why not", latest)
    assert isinstance(revised, Decided)
    assert revised.record.revision == 2
    assert revised.implied_acknowledgement
    assert revised.after.acknowledged_by == "sw-1"


def test_no_feedback_goes_to_the_deciding_agency_itself() -> None:
    own = a_notification_to("nm-csc")
    own_concern = own.notification.model_copy(update={"source_agency": "nm-csc"})
    assert feedback_notification(own_concern, a_record(own), None, PARTNERSHIP) is None


def test_feedback_without_the_stored_concern_discloses_nothing_of_it() -> None:
    csc = a_notification_to("nm-csc")
    feedback = feedback_notification(csc.notification, a_record(csc), None, PARTNERSHIP)
    assert feedback is not None
    assert feedback.disclosed_fields == []
    assert feedback.concern.model_dump() == {}
    assert feedback.feedback is not None
    assert feedback.feedback.decided_notification_id == csc.notification_id
