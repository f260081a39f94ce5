"""Pure: worklist rows carry only what a list may, due times, overdue, and the worklist order."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime, timedelta
from typing import Any

from schemas.v1 import NotificationKind, NotificationRoutedPayload
from schemas.v1.concern import Severity
from services.routing.notifications import ConcernEnvelope, build_notification
from services.routing.profiles import apply_sharing_profile
from services.routing.state import StoredNotification
from services.routing.views import due_at, is_running_late, summary, summary_fields, worklist_key
from tests.builders import RECEIVED, a_concern

PROFILES = {
    "full": [
        "subject",
        "household",
        "summary",
        "narrative",
        "reporter",
        "location",
        "lawful_basis",
    ],
    "school": ["subject.given_name", "subject.family_name", "subject.date_of_birth", "summary"],
    "names only": ["subject.given_name", "subject.family_name", "summary"],
    "no child": ["summary", "location"],
}
ACK = RECEIVED + timedelta(hours=1)
DECIDE = RECEIVED + timedelta(days=1)


def a_stored(
    profile: str = "full",
    *,
    seq: int = 1,
    severity: str = "medium",
    kind: NotificationKind = NotificationKind.CONCERN,
    decide_by: datetime | None = DECIDE,
    **state: Any,
) -> StoredNotification:
    concern = a_concern(severity=severity)
    notification: NotificationRoutedPayload = build_notification(
        kind,
        ConcernEnvelope(
            concern_id=concern_id(seq), source_agency="nm-hospital-ed", category=concern.category,
            severity=Severity(severity), received_at=RECEIVED,
        ),
        notification_id=concern_id(seq + 1000), recipient="nm-csc",
        disclosure=apply_sharing_profile(concern, PROFILES[profile]), reasons=["r"],
        acknowledge_by=ACK, policy_version="v1", child_id=None, decide_by=decide_by,
    )  # fmt: skip
    base = StoredNotification(
        seq=seq, notification=notification, status="new", acknowledged_by=None,
        acknowledged_at=None,
    )  # fmt: skip
    return dataclasses.replace(base, **state)


def concern_id(n: int) -> uuid.UUID:
    return uuid.UUID(int=n)


def test_a_row_carries_the_childs_names_and_age_only_as_the_profile_allows() -> None:
    full = summary(a_stored("full"), now=RECEIVED)
    assert (full.child.given_name, full.child.family_name, full.child.age) == ("Amelia", "Stone", 8)
    names = summary(a_stored("names only"), now=RECEIVED)
    assert (names.child.given_name, names.child.age) == ("Amelia", None)
    nothing = summary(a_stored("no child"), now=RECEIVED)
    assert nothing.child.model_dump() == {"given_name": None, "family_name": None, "age": None}


def test_a_row_never_carries_narrative_household_reporter_or_summary() -> None:
    dumped = summary(a_stored("full"), now=RECEIVED).model_dump_json()
    for withheld in ("Full account", "Dana Stone", "Sam Reid", "hungry", "9434765919"):
        assert withheld not in dumped


def test_the_listing_audits_exactly_the_concern_fields_a_row_carries() -> None:
    everything = ["subject.given_name", "subject.family_name", "subject.date_of_birth"]
    assert summary_fields(a_stored("full")) == everything
    assert summary_fields(a_stored("school")) == everything
    assert summary_fields(a_stored("names only")) == everything[:2]
    assert summary_fields(a_stored("no child")) == []


def test_due_is_the_acknowledgement_then_the_decision() -> None:
    assert due_at(a_stored()) == ACK
    assert due_at(a_stored(acknowledged_at=RECEIVED, acknowledged_by="sw")) == DECIDE
    feedback = a_stored(kind=NotificationKind.FEEDBACK, decide_by=None, acknowledged_at=RECEIVED)
    assert due_at(feedback) == ACK


def test_overdue_means_a_step_still_to_take_is_past_its_deadline() -> None:
    new = a_stored()
    assert not is_running_late(new, ACK)  # at the deadline is in time
    assert is_running_late(new, ACK + timedelta(seconds=1))
    acknowledged = a_stored(acknowledged_at=RECEIVED, acknowledged_by="sw")
    assert not is_running_late(acknowledged, ACK + timedelta(hours=1))
    assert is_running_late(acknowledged, DECIDE + timedelta(seconds=1))
    decided = dataclasses.replace(acknowledged, decided_at=RECEIVED, decision="early_help")
    assert not is_running_late(decided, DECIDE + timedelta(days=9))
    assert summary(new, now=ACK + timedelta(minutes=1)).overdue


def test_the_worklist_puts_overdue_first_then_due_time_then_severity() -> None:
    now = ACK + timedelta(minutes=30)
    late = a_stored(seq=1, severity="low")
    acknowledged_high = a_stored(seq=2, severity="high", acknowledged_at=RECEIVED,
                                 acknowledged_by="sw")  # fmt: skip
    acknowledged_immediate = a_stored(seq=3, severity="immediate", acknowledged_at=RECEIVED,
                                      acknowledged_by="sw")  # fmt: skip
    later_low = a_stored(seq=4, severity="low", acknowledged_at=RECEIVED, acknowledged_by="sw",
                         decide_by=DECIDE + timedelta(hours=1))  # fmt: skip
    rows = [later_low, acknowledged_high, late, acknowledged_immediate]
    ordered = sorted(rows, key=lambda s: worklist_key(s, now))
    assert [s.seq for s in ordered] == [1, 3, 2, 4]
